"""Entitlement use: a resolved case holds one; leaving `resolved` gives it back."""

from __future__ import annotations

from caseflow.workflows import routing
from caseflow.workflows.lifecycle.base import Effects
from caseflow.workflows.model import (
    CaseContext,
    CaseState,
    CaseStatus,
    EntitlementChange,
)


def entitlement_change(state: CaseState, what: str, delta: int) -> EntitlementChange:
    assert state.entitlement is not None
    return EntitlementChange(
        key=f"{state.number}:entitlement:{what}:{state.episode}",
        entitlement_id=state.entitlement.id,
        case_number=state.number,
        delta=delta,
        channel=str(state.channel),
    )


def holds_entitlement_use(state: CaseState) -> bool:
    """Whether the case has consumed one case of its entitlement: resolving consumes it,
    leaving `resolved` other than by closing gives it back, so it is held exactly while the
    case is resolved (and for good once closed)."""
    return state.entitlement is not None and state.status is CaseStatus.RESOLVED


def give_back_entitlement(state: CaseState, effects: Effects) -> None:
    """Reopening or cancelling a resolved case restores its use, under the episode's key
    (one give-back per use, however the case leaves `resolved`); otherwise nothing."""
    if holds_entitlement_use(state):
        effects.entitlement_changes.append(entitlement_change(state, "restore", +1))


def exhausted_name(context: CaseContext) -> str:
    entitlement = context.entitlement
    if entitlement is not None and routing.usable_entitlement(entitlement) is None:
        return entitlement.name
    return ""
