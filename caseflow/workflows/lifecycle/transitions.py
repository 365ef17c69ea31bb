"""Changes of a case's status, and what each tells the clocks and the child cases."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import kpis
from caseflow.workflows.kpis import Happening
from caseflow.workflows.lifecycle.activities import cancel_open_activities
from caseflow.workflows.lifecycle.base import Effects
from caseflow.workflows.lifecycle.entitlements import give_back_entitlement
from caseflow.workflows.lifecycle.outbound import customer_address, nobody
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    ParentNotice,
    Survey,
    SurveyStatus,
)


def transition(state: CaseState, status: CaseStatus, now: datetime, reason: str) -> None:
    """Every change of status: through `enter` since rules version 2, so the clocks follow the
    policy's pause states whatever the change; a case created before sets it as it always did
    (it replays its recorded history exactly)."""
    if state.rules_version >= 2:
        enter(state, status, now, reason)
    else:
        state.status = status


def enter(state: CaseState, status: CaseStatus, now: datetime, reason: str) -> None:
    """Change status, pausing or resuming the SLA clocks as the policy says."""
    previous, state.status = state.status, status
    kpis.status_changed(state.kpis, state.policy, previous, status, now, reason)


def reopen_case(state: CaseState, now: datetime, effects: Effects, actor: str, reason: str) -> None:
    give_back_entitlement(state, effects)
    # Running again before the change of status, which may pause them.
    kpis.reopened(state.kpis, state.policy, Happening.REOPENED, now, reason)
    transition(state, CaseStatus.OPEN, now, reason)
    state.resolved_at = None
    effects.event("reopened", now, actor, "Case reopened", reason)
    tell_children(state, effects, resolved=False, reopened=True)


def close_case(state: CaseState, now: datetime, effects: Effects, actor: str, how: str) -> None:
    transition(state, CaseStatus.CLOSED, now, how)
    state.closed_at = now
    effects.event("closed", now, actor, f"Case closed ({how})")
    if state.rules_version >= 1:  # a closed case is final: nothing is left open on it
        cancel_open_activities(state, actor, now, "case closed", effects)
    if state.rules_version >= 1 and not customer_address(state):
        effects.event(
            "email_skipped", now, "system", f"No satisfaction survey: {nobody(state)}",
            what="survey",
        )  # fmt: skip
        state.finished = True
        return
    state.survey = Survey(
        episode=state.episode,
        status=SurveyStatus.SCHEDULED,
        send_at=now + state.timings.survey_delay,
    )


def tell_children(
    state: CaseState, effects: Effects, resolved: bool, reopened: bool = False
) -> None:
    """The parent resolved, reopened or ended: its children are told, through an activity."""
    if not state.children:
        return
    resolution = state.resolution if resolved else None
    outcome = "resolved" if resolved else "reopened" if reopened else str(state.status)
    effects.child_notices.append(
        ParentNotice(
            key=f"{state.number}:children:{outcome}:{state.episode}",
            parent=state.number,
            children=list(state.children),
            resolved=resolved,
            resolution=resolution.text if resolution else "",
            resolved_by=resolution.resolved_by if resolution else "",
            reopened=reopened,
        )
    )
