"""What agents pick from: the waiting cases of a queue, and of all the caller's queues."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, Limit, Offset, ScopeDep, SessionDep
from caseflow.api.errors import ApiError
from caseflow.store import directory, queues

router = APIRouter(tags=["queues"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 422)
}


@router.get("/queues/{name}/cases", responses=ERRORS)
def queue_cases(
    name: str,
    agent: AgentDep,
    scope: ScopeDep,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> schemas.CasePage:
    """The queue's waiting cases (new, nobody's yet), by priority, SLA due time, then age.
    Agents see the queues they belong to; supervisors and admins every queue."""
    if directory.queue_by_name(session, name) is None:
        raise ApiError(404, "unknown_queue", f"there is no queue {name!r}")
    if not scope.covers(name):
        raise ApiError(403, "forbidden", f"{agent.handle} is not a member of queue {name}")
    rows, total = queues.waiting_cases(session, [name], limit, offset, scope)
    items = [schemas.CaseSummary.of(r) for r in rows]
    return schemas.CasePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/me/cases/waiting", responses=ERRORS)
def my_waiting_cases(
    agent: AgentDep, scope: ScopeDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> schemas.CasePage:
    """The waiting cases of every queue the caller belongs to, most urgent first."""
    rows, total = queues.waiting_cases(session, agent.queues, limit, offset, scope)
    items = [schemas.CaseSummary.of(r) for r in rows]
    return schemas.CasePage(items=items, total=total, limit=limit, offset=offset)
