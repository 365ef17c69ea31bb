"""Metrics and goals, read from the database (no worker needed).

Who sees what: supervisors and admins every figure. An agent sees the figures of their own
cases (`agent=<their handle>`) and of the queues they belong to (`queue=<name>`); asked without
either, `/metrics/queues` lists only their queues and `/metrics/agents` only themselves, and the
other reports answer 403. Goals likewise: an agent sees their own goals and their queues'.
Periods are [from, to): a date means its midnight UTC; by default the last 30 days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, Limit, Offset, SessionsDep, read
from caseflow.api.errors import ApiError
from caseflow.reporting import (
    GoalProgress,
    ReportError,
    check_scope,
    goal_named,
    goal_progress,
    goals,
    report_window,
)
from caseflow.store import metrics, portal
from caseflow.store.metrics import Breakdown, Scope, Summary, Window
from caseflow.store.models import Goal
from caseflow.workflows import visibility
from caseflow.workflows.model import Actor, Channel

router = APIRouter(prefix="/metrics", tags=["metrics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 422)
}
From = Annotated[str | None, Query(alias="from", description="date or instant, included")]
To = Annotated[str | None, Query(alias="to", description="date or instant, excluded; default now")]
On = Annotated[date | None, Query(description="a day of the period wanted; default today")]


def refused(err: ReportError) -> ApiError:
    return ApiError(404 if err.code.startswith("unknown_") else 422, err.code, err.detail)


def _may_see(actor: Actor, queue: str | None, agent: str | None) -> bool:
    """Figures of a queue or an agent, by the rule of who sees which cases: everything, an
    agent's own figures, or those of one of their queues."""
    scope = visibility.scope_of(actor)
    if scope.everything:
        return True
    return (agent is not None and agent == scope.owner) or (
        queue is not None and scope.covers(queue)
    )


def _checked(
    session: Session, start: str | None, end: str | None, scope: Scope
) -> tuple[Window, datetime]:
    now = datetime.now(UTC)
    try:
        window = report_window(start, end, now)
        check_scope(session, scope)
    except ReportError as err:
        raise refused(err) from None
    return window, now


def _forbidden() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "agents see their own figures (agent=<handle>) or their queues' (queue=<name>)",
    )


@router.get("/summary", responses=ERRORS)
async def summary(
    actor: AgentDep,
    sessions: SessionsDep,
    start: From = None,
    end: To = None,
    queue: str | None = None,
    agent: str | None = None,
    product: Annotated[str | None, Query(description='"(none)": cases without one')] = None,
    channel: Channel | None = None,
) -> Summary:
    """Every metric over the period: cases opened, resolved and in progress, SLA compliance,
    mean first response, mean resolution time, CSAT (definitions: caseflow/store/metrics.py)."""
    scope = Scope(queue, agent, product, _text(channel))

    def query(session: Session) -> Summary:
        window, now = _checked(session, start, end, scope)
        if not _may_see(actor, queue, agent):
            raise _forbidden()
        return metrics.summary(session, window, scope, now)

    return await read(sessions, query)


async def _breakdown(
    actor: Actor, sessions: SessionsDep, by: str, start: str | None, end: str | None, scope: Scope
) -> Breakdown:
    def query(session: Session) -> Breakdown:
        window, now = _checked(session, start, end, scope)
        found = metrics.breakdown(session, window, _narrowed(actor, scope, by), by, now)
        if by == "queue" and not _may_see(actor, scope.queue, scope.agent):
            return replace(found, rows=[r for r in found.rows if r.name in actor.queues])
        return found

    return await read(sessions, query)


def _narrowed(actor: Actor, scope: Scope, by: str) -> Scope:
    """An agent asking for no scope of theirs gets their own row (by agent) or their queues'
    rows (by queue, filtered afterwards); any other report is refused."""
    if by == "queue" or _may_see(actor, scope.queue, scope.agent):
        return scope
    if by == "agent":
        return replace(scope, agent=actor.handle)
    raise _forbidden()


@router.get("/products", responses=ERRORS)
async def per_product(
    actor: AgentDep,
    sessions: SessionsDep,
    start: From = None,
    end: To = None,
    queue: str | None = None,
    agent: str | None = None,
    channel: Channel | None = None,
) -> Breakdown:
    """Per product (cases without one under "(none)"): opened, resolved, in progress, SLA
    compliance, mean first response and resolution time, CSAT."""
    scope = Scope(queue, agent, None, _text(channel))
    return await _breakdown(actor, sessions, "product", start, end, scope)


@router.get("/queues", responses=ERRORS)
async def per_queue(
    actor: AgentDep,
    sessions: SessionsDep,
    start: From = None,
    end: To = None,
    agent: str | None = None,
    product: str | None = None,
    channel: Channel | None = None,
) -> Breakdown:
    """Per queue; an agent sees their own queues."""
    scope = Scope(None, agent, product, _text(channel))
    return await _breakdown(actor, sessions, "queue", start, end, scope)


@router.get("/agents", responses=ERRORS)
async def per_agent(
    actor: AgentDep,
    sessions: SessionsDep,
    start: From = None,
    end: To = None,
    queue: str | None = None,
    product: str | None = None,
    channel: Channel | None = None,
) -> Breakdown:
    """Per owner (unowned cases under "(unassigned)"); an agent sees their own row."""
    scope = Scope(queue, None, product, _text(channel))
    return await _breakdown(actor, sessions, "agent", start, end, scope)


class Deflections(BaseModel):
    """The customer portal's knowledge articles opened from the new-case form over the period:
    `deflected` are those after which that browser opened no case within the portal's window
    (`api.routes.portal.DEFLECTION_WINDOW`)."""

    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    articles_opened: int
    followed_by_case: int
    deflected: int


@router.get("/deflection", responses=ERRORS)
async def deflection(
    actor: AgentDep, sessions: SessionsDep, start: From = None, end: To = None
) -> Deflections:
    """Deflections by the portal's knowledge suggestions; supervisors and admins only (they
    belong to no queue)."""
    if not visibility.scope_of(actor).everything:
        raise ApiError(403, "forbidden", "deflections are the organisation's: supervisors only")

    def query(session: Session) -> Deflections:
        window, _ = _checked(session, start, end, Scope(None, None, None, None))
        found = portal.deflection(session, window.start, window.end)
        return Deflections(
            start=window.start,
            end=window.end,
            articles_opened=found.articles_opened,
            followed_by_case=found.followed_by_case,
            deflected=found.deflected,
        )

    return await read(sessions, query)


class GoalPage(schemas.Page[GoalProgress]):
    pass


@router.get("/goals", responses=ERRORS)
async def all_goals(
    actor: AgentDep, sessions: SessionsDep, on: On = None, limit: Limit = 100, offset: Offset = 0
) -> GoalPage:
    """Every goal the caller may see, in its current period (or the one containing `on`)."""

    def query(session: Session) -> GoalPage:
        now = datetime.now(UTC)
        visible = [g for g in goals(session) if _may_see_goal(actor, g)]
        items = [goal_progress(session, g, on, now) for g in visible[offset : offset + limit]]
        return GoalPage(items=items, total=len(visible), limit=limit, offset=offset)

    return await read(sessions, query)


@router.get("/goals/{name}", responses=ERRORS)
async def one_goal(
    name: str, actor: AgentDep, sessions: SessionsDep, on: On = None
) -> GoalProgress:
    """One goal's target, actual figure, percent of target and verdict for a period."""

    def query(session: Session) -> GoalProgress:
        try:
            goal = goal_named(session, name)
        except ReportError as err:
            raise refused(err) from None
        if not _may_see_goal(actor, goal):
            raise ApiError(403, "forbidden", "agents see their own goals and their queues'")
        return goal_progress(session, goal, on, datetime.now(UTC))

    return await read(sessions, query)


def _may_see_goal(actor: Actor, goal: Goal) -> bool:
    return _may_see(actor, goal.queue, goal.agent)


def _text(channel: Channel | None) -> str | None:
    return str(channel) if channel else None
