"""Activities of a case, and related cases: parent / child links and merges."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from caseflow.api import schemas
from caseflow.api.deps import Limit, Offset, ScopeDep, SessionDep, read, visible_case
from caseflow.api.errors import ApiError
from caseflow.api.routes.cases import ERRORS, Acting, ActingDep
from caseflow.store import cases, messages
from caseflow.workflows.bounds import Id
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActivityAdded,
    ActivityDecision,
    ActivityRequest,
    MergeRequest,
    ParentRequest,
)

router = APIRouter(prefix="/cases", tags=["activities and related cases"])


def activities(session: Session, number: str) -> list[schemas.Activity]:
    """Calls, tasks, notes, appointments and resolutions, with every email in and out, in
    time order."""
    tracked = [schemas.Activity.of(a) for a in cases.case_activities(session, number)]
    received = [schemas.Activity.received(e) for e in cases.case_messages(session, number)]
    sent = [schemas.Activity.sent(e) for e in messages.case_outbox(session, number)]
    return sorted(tracked + received + sent, key=lambda a: (a.created_at, a.id or 0))


def activity(session: Session, number: str, activity_id: int) -> schemas.Activity:
    for row in cases.case_activities(session, number):
        if row.activity_id == activity_id:
            return schemas.Activity.of(row)
    raise ApiError(404, "unknown_activity", f"{number} has no activity {activity_id}")


@router.get("/{number}/activities", responses=ERRORS)
def list_activities(
    number: str, scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.ActivityPage:
    """Every activity of the case, open or closed; emails are listed as closed activities."""
    case = visible_case(session, scope, number.upper())
    return schemas.ActivityPage.cut(activities(session, case.number), limit, offset)


@router.post("/{number}/activities", status_code=201, responses=ERRORS)
async def add_activity(case: ActingDep, body: schemas.NewActivity) -> schemas.Activity:
    """Add a phone call, task, note or appointment, with an owner and a due date. While it is
    open the case cannot be resolved."""
    await case.known("agent", body.owner)
    request = ActivityRequest(
        case.agent,
        body.kind,
        body.subject,
        body.description,
        body.owner,
        body.due_at,
        body.completed,
    )
    added: ActivityAdded = await case.execute(CaseWorkflow.add_activity, request)
    return await read(case.sessions, lambda s: activity(s, case.number, added.activity_id))


@router.post("/{number}/activities/{activity_id}/complete", responses=ERRORS)
async def complete_activity(
    case: ActingDep, activity_id: Id, body: schemas.Comment | None = None
) -> schemas.Activity:
    """Mark an open activity done."""
    request = ActivityDecision(case.agent, activity_id, body.comment if body else "")
    await case.execute(CaseWorkflow.complete_activity, request)
    return await read(case.sessions, lambda s: activity(s, case.number, activity_id))


@router.post("/{number}/activities/{activity_id}/cancel", responses=ERRORS)
async def cancel_activity(
    case: ActingDep, activity_id: Id, body: schemas.Comment | None = None
) -> schemas.Activity:
    """Cancel an open activity: it no longer holds up the resolution."""
    request = ActivityDecision(case.agent, activity_id, body.comment if body else "")
    await case.execute(CaseWorkflow.cancel_activity, request)
    return await read(case.sessions, lambda s: activity(s, case.number, activity_id))


@router.post("/{number}/parent", responses=ERRORS)
async def link_parent(case: ActingDep, body: schemas.Parent) -> schemas.CaseDetail:
    """Make this case a child of a parent (major) case: resolving the parent resolves it and
    emails its customer. One level: a parent is not a child, and a child has no children."""
    parent = body.parent.upper()
    await known_case(case, parent)
    request = ParentRequest(case.agent, parent, body.comment)
    return await case.update(CaseWorkflow.link_parent, request)


@router.post("/{number}/merge", responses=ERRORS)
async def merge(case: ActingDep, body: schemas.Merge) -> schemas.CaseDetail:
    """Merge this duplicate into another case (its owner or a supervisor): it ends as
    `merged`; the survivor takes its people and its customer's messages, and later replies."""
    into = body.into.upper()
    await known_case(case, into)
    return await case.update(CaseWorkflow.merge, MergeRequest(case.agent, into, body.comment))


async def known_case(case: Acting, number: str) -> None:
    """Refuse a reference to a case that does not exist, or that the actor does not see (422)."""
    try:
        await case.visible(number)
    except ApiError:
        raise ApiError(422, "invalid_input", f"there is no case {number}") from None
