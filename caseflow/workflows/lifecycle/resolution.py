"""Resolving a case: what it needs first (stages, activities, the parent), and what follows."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import kpis
from caseflow.workflows.kpis import Happening
from caseflow.workflows.lifecycle.activities import check_nothing_open, record_resolution_activity
from caseflow.workflows.lifecycle.base import (
    STAGE_ORDER,
    Effects,
    Refusal,
    check_field_sizes,
    check_text,
    field_value,
    set_fields,
    stage_requirements,
)
from caseflow.workflows.lifecycle.clocks import respond
from caseflow.workflows.lifecycle.entitlements import entitlement_change
from caseflow.workflows.lifecycle.outbound import email_customer
from caseflow.workflows.lifecycle.transitions import tell_children, transition
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    Resolution,
    ResolveRequest,
    Stage,
)


def check_resolve(state: CaseState, request: ResolveRequest) -> None:
    check_text("resolution", request.resolution)
    if request.time_spent_minutes < 0 or request.billable_minutes < 0:
        raise Refusal("invalid_input", "time spent and billable time cannot be negative")
    if request.billable_minutes > request.time_spent_minutes:
        raise Refusal("invalid_input", "billable time cannot exceed the time spent")
    check_field_sizes(request.fields)
    check_nothing_open(state)
    _check_parent_resolved(state)
    _check_stages_done(state, request.fields)


def missing_before_resolve(
    state: CaseState, fields: dict[str, str]
) -> list[tuple[Stage, list[str]]]:
    """Each stage before `resolve` with the required fields that neither the case nor `fields`
    sets: what resolving still needs."""
    missing: list[tuple[Stage, list[str]]] = []
    for stage in STAGE_ORDER[: STAGE_ORDER.index(Stage.RESOLVE)]:
        names = [n for n in stage_requirements(state, stage) if not field_value(state, fields, n)]
        if names:
            missing.append((stage, names))
    return missing


def _check_stages_done(state: CaseState, fields: dict[str, str]) -> None:
    if state.rules_version < 1:
        return
    missing = missing_before_resolve(state, fields)
    if missing:
        needs = "; ".join(f"stage {stage} needs {', '.join(names)}" for stage, names in missing)
        raise Refusal(
            "missing_fields",
            f"{state.number} cannot be resolved yet: {needs} "
            "(set them with advance, or in the fields of resolve)",
        )


def resolve(state: CaseState, request: ResolveRequest, now: datetime) -> Effects:
    effects = Effects()
    set_fields(state, request.fields)
    if state.rules_version >= 1 and not missing_before_resolve(state, {}):
        state.stage = Stage.RESOLVE  # every earlier stage's fields are set: the process is done
    state.episode += 1
    state.resolution = Resolution(
        text=request.resolution,
        time_spent_minutes=request.time_spent_minutes,
        billable_minutes=request.billable_minutes,
        resolved_by=request.actor.handle,
        resolved_at=now,
        episode=state.episode,
    )
    state.resolved_at = now
    transition(state, CaseStatus.RESOLVED, now, "resolved")
    respond(state, now)  # a proposed resolution answers the customer too
    kpis.met(state.kpis, state.policy, Happening.RESOLVED, now)
    record_resolution_activity(state, request, now)
    tell_children(state, effects, resolved=True)
    if state.entitlement is not None:
        effects.entitlement_changes.append(entitlement_change(state, "use", -1))
    effects.event(
        "resolved",
        now,
        request.actor.handle,
        f"Resolved (episode {state.episode}), {request.time_spent_minutes} min spent",
        request.resolution,
        time_spent_minutes=str(request.time_spent_minutes),
        billable_minutes=str(request.billable_minutes),
        **{f"field.{k}": v for k, v in request.fields.items()},
    )
    email_customer(
        state,
        effects,
        now,
        "resolution",
        key=f"{state.number}:resolution:{state.episode}",
        template="resolution",
        subject=f"Proposed resolution: {state.subject}",
        context={"resolution": request.resolution, "agent": request.actor.handle},
        link_purposes=["resolution"],
    )
    return effects


def _check_parent_resolved(state: CaseState) -> None:
    if state.child_requires_parent and state.parent is not None and state.parent_open:
        raise Refusal(
            "parent_open", f"{state.number} is resolved with its parent {state.parent}, still open"
        )
