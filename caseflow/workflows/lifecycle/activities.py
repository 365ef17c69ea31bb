"""Activities on a case: calls, tasks, notes, appointments, and the resolution activity."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows.lifecycle.base import ACTIONS, ACTIVE, MAX_TEXT, Action, Effects, Refusal
from caseflow.workflows.model import (
    ActivityDecision,
    ActivityKind,
    ActivityRequest,
    ActivityStatus,
    CaseActivity,
    CaseState,
    CaseStatus,
    ResolveRequest,
)

ADDABLE_KINDS = frozenset(
    {ActivityKind.PHONE_CALL, ActivityKind.TASK, ActivityKind.NOTE, ActivityKind.APPOINTMENT}
)


DONE_WHEN_WRITTEN = frozenset({ActivityKind.NOTE})  # a note records; it waits on nobody


MAX_SUBJECT = 300


MAX_HANDLE = 100


WITH_ACTIVITIES = ACTIVE | {CaseStatus.RESOLVED}


def _check_add_activity(state: CaseState, request: ActivityRequest) -> None:
    if request.kind not in ADDABLE_KINDS:
        kinds = ", ".join(sorted(ADDABLE_KINDS))
        raise Refusal(
            "invalid_input",
            f"kind must be one of {kinds} (emails come from the timeline, "
            "and resolve records the resolution)",
        )
    if not request.subject.strip() or len(request.subject) > MAX_SUBJECT:
        raise Refusal("invalid_input", f"subject must have 1 to {MAX_SUBJECT} characters")
    if len(request.description) > MAX_TEXT:
        raise Refusal("invalid_input", f"description is longer than {MAX_TEXT} characters")
    if request.owner is not None and not 0 < len(request.owner) <= MAX_HANDLE:
        raise Refusal("invalid_input", "owner must be an agent's handle")
    if request.due_at is not None and request.due_at.tzinfo is None:
        raise Refusal("invalid_input", "due_at must carry a time zone")


def _add_activity(state: CaseState, request: ActivityRequest, now: datetime) -> Effects:
    kind = ActivityKind(request.kind)
    activity = CaseActivity(
        id=len(state.activities) + 1,
        kind=kind,
        subject=request.subject.strip(),
        created_by=request.actor.handle,
        created_at=now,
        description=request.description,
        owner=request.owner,
        due_at=request.due_at,
    )
    done = request.completed or kind in DONE_WHEN_WRITTEN
    if done:
        _close_activity(activity, ActivityStatus.COMPLETED, request.actor.handle, now)
    state.activities.append(activity)
    effects = Effects()
    effects.event(
        "activity_added",
        now,
        request.actor.handle,
        f"{_label(activity)} added" + (", done" if done else f", owner {activity.owner or '-'}"),
        request.description,
        activity=str(activity.id),
        activity_kind=str(kind),
        owner=activity.owner or "",
    )
    return effects


def _check_open_activity(state: CaseState, request: ActivityDecision) -> None:
    activity = _find_activity(state, request.activity_id)
    if activity is None:
        raise Refusal("unknown_activity", f"{state.number} has no activity {request.activity_id}")
    if activity.status is not ActivityStatus.OPEN:
        raise Refusal("activity_closed", f"{_label(activity)} is already {activity.status}")
    if len(request.comment) > MAX_TEXT:
        raise Refusal("invalid_input", f"comment is longer than {MAX_TEXT} characters")


def _complete_activity(state: CaseState, request: ActivityDecision, now: datetime) -> Effects:
    return _decide_activity(state, request, now, ActivityStatus.COMPLETED)


def _cancel_activity(state: CaseState, request: ActivityDecision, now: datetime) -> Effects:
    return _decide_activity(state, request, now, ActivityStatus.CANCELLED)


def _decide_activity(
    state: CaseState, request: ActivityDecision, now: datetime, status: ActivityStatus
) -> Effects:
    activity = _find_activity(state, request.activity_id)
    assert activity is not None
    _close_activity(activity, status, request.actor.handle, now)
    effects = Effects()
    effects.event(
        f"activity_{status}",
        now,
        request.actor.handle,
        f"{_label(activity)} {status}",
        request.comment,
        activity=str(activity.id),
        activity_kind=str(activity.kind),
    )
    return effects


def check_nothing_open(state: CaseState) -> None:
    """A case is resolved only when none of its other activities is open (DESIGN §1)."""
    still_open = open_activities(state)
    if still_open:
        listed = "; ".join(
            f"#{a.id} {a.kind} “{a.subject}” (owner {a.owner or 'none'})" for a in still_open
        )
        raise Refusal("open_activities", f"complete or cancel the open activities first: {listed}")


def record_resolution_activity(state: CaseState, request: ResolveRequest, now: datetime) -> None:
    activity = CaseActivity(
        id=len(state.activities) + 1,
        kind=ActivityKind.RESOLUTION,
        subject=f"Resolution (episode {state.episode})",
        created_by=request.actor.handle,
        created_at=now,
        resolution=request.resolution,
        time_spent_minutes=request.time_spent_minutes,
        billable_minutes=request.billable_minutes,
    )
    _close_activity(activity, ActivityStatus.COMPLETED, request.actor.handle, now)
    state.activities.append(activity)


def cancel_open_activities(
    state: CaseState, actor: str, now: datetime, reason: str, effects: Effects
) -> None:
    for activity in open_activities(state):
        _close_activity(activity, ActivityStatus.CANCELLED, actor, now)
        effects.event(
            "activity_cancelled",
            now,
            actor,
            f"{_label(activity)} cancelled: {reason}",
            activity=str(activity.id),
            activity_kind=str(activity.kind),
        )


def _close_activity(
    activity: CaseActivity, status: ActivityStatus, actor: str, now: datetime
) -> None:
    activity.status = status
    activity.closed_by = actor
    activity.closed_at = now


def open_activities(state: CaseState) -> list[CaseActivity]:
    return [a for a in state.activities if a.status is ActivityStatus.OPEN]


def _find_activity(state: CaseState, activity_id: int) -> CaseActivity | None:
    return next((a for a in state.activities if a.id == activity_id), None)


def _label(activity: CaseActivity) -> str:
    return f"{activity.kind.replace('_', ' ').capitalize()} #{activity.id} “{activity.subject}”"


ACTIONS["add_activity"] = Action(WITH_ACTIVITIES, _add_activity, _check_add_activity)


ACTIONS["complete_activity"] = Action(
    WITH_ACTIVITIES | {CaseStatus.CLOSED}, _complete_activity, _check_open_activity
)


ACTIONS["cancel_activity"] = Action(
    WITH_ACTIVITIES | {CaseStatus.CLOSED}, _cancel_activity, _check_open_activity
)
