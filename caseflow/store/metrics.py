"""Service metrics computed from the read model of cases: what goals and reports measure.

Every metric covers a period [start, end) of UTC instants and can be narrowed to a queue, an
agent (the case's owner), a product and a channel. Cases are attributed to their *current*
queue, owner, product and channel, as helpdesk reports usually do: moving a case moves its
figures. Each metric can also be broken down by product, queue or owner in one query.

The definitions, as an administrator reads them:

- **cases opened**: cases created in the period.
- **cases resolved**: cases whose standing resolution falls in the period. A case counts once,
  at its latest resolution, and only while that resolution stands (the case is resolved or
  closed): a case resolved, reopened and resolved again counts once, in the period of the second
  resolution; one reopened and still being worked does not count at all until it is resolved
  again. So the monthly figures add up to the cases resolved over the year.
- **cases in progress**: cases being worked (new, open, awaiting the customer, on hold) at the
  end of the period, or now for a period that has not ended. Resolved cases are not in progress.
- **SLA compliance**: among the KPI instances decided in the period, the share that succeeded.
  An instance is decided when it succeeds (the reply or resolution that stopped it) or when it
  breaches (the failure instant, even if the case is still open). Cancelled instances and those
  still running are left out. Given per KPI and overall.
- **mean first response**: over the first responses given in the period (the first-response
  instances that a reply or a resolution stopped in it, met or missed), the mean time from
  creation to the response, both wall-clock and in business time (the SLA clock: the policy's
  calendar, pauses excluded).
- **mean resolution time**: over the cases resolved in the period (as above), the mean time from
  creation to the standing resolution, wall-clock and in business time (the resolution clock).
- **CSAT**: surveys answered in the period: how many, the mean rating (1-5) and the share of
  satisfied answers (4 or 5).

A queue's health is read now, not over a period: its open cases (being worked, as cases in
progress), those of them whose SLA next breaches within the hour (the case's `sla_due_at`, the
next failure instant of its running clocks; one already past and not yet recorded as failed
counts too), and when its oldest open case was created.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from caseflow.store.cases import ACTIVE_STATUSES, RESOLVED_STATUSES
from caseflow.store.models import Agent, AuditEntry, Case, CaseEvent, Product, Queue, SlaInstance

DECIDED = ("succeeded", "noncompliant")
SATISFIED_RATING = 4
NO_PRODUCT = "(none)"
UNASSIGNED = "(unassigned)"
GROUPINGS: dict[str, InstrumentedAttribute[Any]] = {
    "product": Case.product,
    "queue": Case.queue,
    "agent": Case.owner,
}
EMPTY_GROUP = {"product": NO_PRODUCT, "queue": "", "agent": UNASSIGNED}
ALL = "*"  # the one group of an ungrouped query


@dataclass(frozen=True)
class Window:
    """A period of UTC instants, start included, end excluded."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window needs aware instants")
        if self.start >= self.end:
            raise ValueError("a window must end after it starts")


@dataclass(frozen=True)
class Scope:
    """Which cases a figure covers; None: every one. `product=NO_PRODUCT`: cases without one."""

    queue: str | None = None
    agent: str | None = None
    product: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Tally:
    """KPI instances decided: how many succeeded, how many breached, and the success rate."""

    succeeded: int = 0
    noncompliant: int = 0
    percent: float | None = None


def tally(succeeded: int, noncompliant: int) -> Tally:
    decided = succeeded + noncompliant
    percent = round(100 * succeeded / decided, 2) if decided else None
    return Tally(succeeded, noncompliant, percent)


@dataclass(frozen=True)
class Compliance:
    overall: Tally = field(default_factory=Tally)
    by_kpi: dict[str, Tally] = field(default_factory=dict)


@dataclass(frozen=True)
class MeanTime:
    """A mean duration in seconds, wall-clock and in business time (SLA clock), with how many
    values each mean is over (cases without an SLA clock have no business time)."""

    count: int = 0
    wall_clock_seconds: float | None = None
    business_count: int = 0
    business_seconds: float | None = None


def mean_time(wall: list[float], business: list[float]) -> MeanTime:
    return MeanTime(len(wall), _mean(wall, 1), len(business), _mean(business, 1))


@dataclass(frozen=True)
class Csat:
    responses: int = 0
    mean_rating: float | None = None
    satisfied_percent: float | None = None


def csat_of(ratings: list[int]) -> Csat:
    if not ratings:
        return Csat()
    satisfied = sum(1 for r in ratings if r >= SATISFIED_RATING)
    return Csat(len(ratings), _mean(ratings, 2), round(100 * satisfied / len(ratings), 2))


@dataclass(frozen=True)
class Summary:
    """Every metric for one scope and window; `in_progress_at` is when the backlog was counted."""

    start: datetime
    end: datetime
    in_progress_at: datetime
    cases_opened: int
    cases_resolved: int
    cases_in_progress: int
    sla_compliance: Compliance
    mean_first_response: MeanTime
    mean_resolution_time: MeanTime
    csat: Csat


@dataclass(frozen=True)
class GroupFigures:
    """One row of a breakdown by product, queue or agent."""

    name: str
    cases_opened: int
    cases_resolved: int
    cases_in_progress: int
    sla_compliance: Tally
    mean_first_response: MeanTime
    mean_resolution_time: MeanTime
    csat: Csat


@dataclass(frozen=True)
class Breakdown:
    by: str  # product, queue or agent
    start: datetime
    end: datetime
    in_progress_at: datetime
    rows: list[GroupFigures]


# ---------------------------------------------------------------------------------------------
# The metrics, each per group (ALL when ungrouped)


def cases_opened(
    session: Session, window: Window, scope: Scope, by: str | None = None
) -> dict[str, int]:
    query = _counting(by).where(_in(Case.created_at, window), *_filters(scope))
    return {_key(by, group): count for group, count in session.execute(query)}


def cases_resolved(
    session: Session, window: Window, scope: Scope, by: str | None = None
) -> dict[str, int]:
    query = _counting(by).where(_standing_resolution(window), *_filters(scope))
    return {_key(by, group): count for group, count in session.execute(query)}


def cases_in_progress(
    session: Session, at: datetime, scope: Scope, by: str | None = None
) -> dict[str, int]:
    """Cases being worked at the instant `at`. A case untouched since then is as it is now;
    for one changed since, the status of its last audited change before `at` tells."""
    counts: dict[str, int] = defaultdict(int)
    unchanged = select(_group(by), Case.status).where(
        Case.created_at < at, Case.updated_at < at, *_filters(scope)
    )
    for group, status in session.execute(unchanged):
        counts[_key(by, group)] += int(status in ACTIVE_STATUSES)
    changed = (
        select(_group(by), AuditEntry.case_number, AuditEntry.changes)
        .join(Case, Case.number == AuditEntry.case_number)
        .where(Case.created_at < at, Case.updated_at >= at, AuditEntry.at < at, *_filters(scope))
        .order_by(AuditEntry.case_number, AuditEntry.seq)
    )
    status_then: dict[str, tuple[str, str]] = {}
    for group, number, changes in session.execute(changed):
        if "status" in changes:
            status_then[number] = (_key(by, group), changes["status"]["to"])
    for key, status in status_then.values():
        counts[key] += int(status in ACTIVE_STATUSES)
    return dict(counts)


def sla_compliance(
    session: Session, window: Window, scope: Scope, by: str | None = None
) -> dict[str, Compliance]:
    breached_at = func.coalesce(SlaInstance.failed_at, SlaInstance.stopped_at)
    decided_in_window = or_(
        and_(SlaInstance.status == "succeeded", _in(SlaInstance.stopped_at, window)),
        and_(SlaInstance.status == "noncompliant", _in(breached_at, window)),
    )
    query = (
        select(_group(by), SlaInstance.kpi, SlaInstance.status, func.count())
        .join(Case, Case.number == SlaInstance.case_number)
        .where(decided_in_window, *_filters(scope))
        .group_by(*_grouping(by), SlaInstance.kpi, SlaInstance.status)
    )
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for group, kpi, status, count in session.execute(query):
        counts[_key(by, group)][kpi][status] += count
    return {key: _compliance(per_kpi) for key, per_kpi in counts.items()}


def mean_first_response(
    session: Session, window: Window, scope: Scope, by: str | None = None
) -> dict[str, MeanTime]:
    """A breached instance stopped by the case's cancellation saw no response: its history
    says how it stopped (`succeeded` is recorded for a response, even a late one)."""
    clock = SlaInstance
    query = (
        select(_group(by), clock.started_at, clock.stopped_at, clock.elapsed_seconds, clock.history)
        .join(Case, Case.number == clock.case_number)
        .where(
            clock.kpi == "first_response",
            clock.status.in_(DECIDED),
            _in(clock.stopped_at, window),
            *_filters(scope),
        )
    )
    wall: dict[str, list[float]] = defaultdict(list)
    business: dict[str, list[float]] = defaultdict(list)
    for group, started, stopped, elapsed, history in session.execute(query):
        if not any(step.get("event") == "succeeded" for step in history):
            continue
        wall[_key(by, group)].append((stopped - started).total_seconds())
        business[_key(by, group)].append(float(elapsed))
    return {key: mean_time(wall[key], business[key]) for key in wall}


def mean_resolution_time(
    session: Session, window: Window, scope: Scope, by: str | None = None
) -> dict[str, MeanTime]:
    resolution_clock = and_(
        SlaInstance.case_number == Case.number,
        SlaInstance.kpi == "resolution",
        SlaInstance.status.in_(DECIDED),
        SlaInstance.stopped_at.is_not(None),
    )
    query = (
        select(_group(by), Case.created_at, Case.resolved_at, SlaInstance.elapsed_seconds)
        .outerjoin(SlaInstance, resolution_clock)
        .where(_standing_resolution(window), *_filters(scope))
    )
    wall: dict[str, list[float]] = defaultdict(list)
    business: dict[str, list[float]] = defaultdict(list)
    for group, created, resolved, elapsed in session.execute(query):
        wall[_key(by, group)].append((resolved - created).total_seconds())
        if elapsed is not None:
            business[_key(by, group)].append(float(elapsed))
    return {key: mean_time(wall[key], business[key]) for key in wall}


def csat(session: Session, window: Window, scope: Scope, by: str | None = None) -> dict[str, Csat]:
    query = (
        select(_group(by), CaseEvent.data)
        .join(Case, Case.number == CaseEvent.case_number)
        .where(CaseEvent.kind == "survey_answered", _in(CaseEvent.at, window), *_filters(scope))
    )
    ratings: dict[str, list[int]] = defaultdict(list)
    for group, data in session.execute(query):
        ratings[_key(by, group)].append(int(data["rating"]))
    return {key: csat_of(values) for key, values in ratings.items()}


# ---------------------------------------------------------------------------------------------
# Reports


def summary(session: Session, window: Window, scope: Scope, now: datetime) -> Summary:
    """Every metric over one window; the backlog is counted at its end, or now if sooner."""
    at = min(window.end, now)
    return Summary(
        start=window.start,
        end=window.end,
        in_progress_at=at,
        cases_opened=cases_opened(session, window, scope).get(ALL, 0),
        cases_resolved=cases_resolved(session, window, scope).get(ALL, 0),
        cases_in_progress=cases_in_progress(session, at, scope).get(ALL, 0),
        sla_compliance=sla_compliance(session, window, scope).get(ALL, Compliance()),
        mean_first_response=mean_first_response(session, window, scope).get(ALL, MeanTime()),
        mean_resolution_time=mean_resolution_time(session, window, scope).get(ALL, MeanTime()),
        csat=csat(session, window, scope).get(ALL, Csat()),
    )


def breakdown(session: Session, window: Window, scope: Scope, by: str, now: datetime) -> Breakdown:
    """The metrics per product, queue or agent, one row each, in name order: every configured
    product, queue or active agent (with zeros when idle), and whatever else cases name."""
    at = min(window.end, now)
    opened = cases_opened(session, window, scope, by)
    resolved = cases_resolved(session, window, scope, by)
    in_progress = cases_in_progress(session, at, scope, by)
    compliance = sla_compliance(session, window, scope, by)
    first_response = mean_first_response(session, window, scope, by)
    resolution = mean_resolution_time(session, window, scope, by)
    surveys = csat(session, window, scope, by)
    seen: Iterable[dict[str, Any]] = (opened, resolved, in_progress, compliance, surveys)
    names = set(_configured(session, by, scope)).union(*(d.keys() for d in seen))
    rows = [
        GroupFigures(
            name=name,
            cases_opened=opened.get(name, 0),
            cases_resolved=resolved.get(name, 0),
            cases_in_progress=in_progress.get(name, 0),
            sla_compliance=compliance.get(name, Compliance()).overall,
            mean_first_response=first_response.get(name, MeanTime()),
            mean_resolution_time=resolution.get(name, MeanTime()),
            csat=surveys.get(name, Csat()),
        )
        for name in sorted(names, key=_group_order)
    ]
    return Breakdown(by, window.start, window.end, at, rows)


@dataclass(frozen=True)
class QueueHealth:
    """One queue now: open cases, how many breach their SLA within the hour, the oldest."""

    queue: str
    open: int
    breaching_soon: int
    oldest_opened_at: datetime | None


BREACHING_WITHIN = timedelta(hours=1)


def queue_health(
    session: Session, now: datetime, within: timedelta = BREACHING_WITHIN
) -> list[QueueHealth]:
    """Every configured queue (idle ones with zeros) and any other a case names, in name
    order: its cases being worked, those due to breach before `now + within`, the oldest."""
    soon = case((Case.sla_due_at < now + within, 1), else_=0)
    query = (
        select(Case.queue, func.count(), func.sum(soon), func.min(Case.created_at))
        .where(Case.status.in_(ACTIVE_STATUSES))
        .group_by(Case.queue)
    )
    found = {
        queue: QueueHealth(queue, int(count), int(due or 0), oldest)
        for queue, count, due, oldest in session.execute(query)
    }
    names = set(_configured(session, "queue", Scope())).union(found)
    idle = QueueHealth("", 0, 0, None)
    return [found.get(name, replace(idle, queue=name)) for name in sorted(names, key=_group_order)]


@dataclass(frozen=True)
class DayFigures:
    """Cases opened and resolved on one UTC day (resolved: standing resolutions, as above)."""

    day: datetime
    cases_opened: int
    cases_resolved: int


MOST_DAYS = 92


def per_day(session: Session, window: Window, scope: Scope) -> list[DayFigures]:
    """Cases opened and resolved on each UTC day the window touches (its first and last day
    cut to the window), at most the last MOST_DAYS days, by the definitions above."""
    first = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [first + timedelta(days=n) for n in range((window.end - first).days + 1)]
    days = [d for d in days if d < window.end][-MOST_DAYS:]
    figures = []
    for day in days:
        cut = Window(max(day, window.start), min(day + timedelta(days=1), window.end))
        opened = cases_opened(session, cut, scope).get(ALL, 0)
        resolved = cases_resolved(session, cut, scope).get(ALL, 0)
        figures.append(DayFigures(day, opened, resolved))
    return figures


def known_product(session: Session, name: str) -> bool:
    """A configured product, one some case names, or NO_PRODUCT."""
    if name == NO_PRODUCT:
        return True
    configured = select(Product.id).where(Product.name == name)
    named = select(Case.number).where(Case.product == name).limit(1)
    return session.scalar(configured) is not None or session.scalar(named) is not None


# ---------------------------------------------------------------------------------------------
# Query pieces


def _in(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.start, column < window.end)


def _standing_resolution(window: Window) -> ColumnElement[bool]:
    """Resolved in the window and not reopened since (a reopen clears `resolved_at`)."""
    return and_(Case.status.in_(RESOLVED_STATUSES), _in(Case.resolved_at, window))


def _filters(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.queue is not None:
        conditions.append(Case.queue == scope.queue)
    if scope.agent is not None:
        conditions.append(Case.owner == scope.agent)
    if scope.product == NO_PRODUCT:
        conditions.append(Case.product.is_(None))
    elif scope.product is not None:
        conditions.append(Case.product == scope.product)
    if scope.channel is not None:
        conditions.append(Case.channel == scope.channel)
    return conditions


def _group(by: str | None) -> Any:
    """The column a breakdown groups by; a constant when ungrouped (inline: PostgreSQL groups
    by no constant, and needs none)."""
    if by is None:
        return literal_column(f"'{ALL}'", String)
    return GROUPINGS[by]


def _grouping(by: str | None) -> list[Any]:
    return [] if by is None else [GROUPINGS[by]]


def _counting(by: str | None) -> Select[Any]:
    return select(_group(by), func.count()).select_from(Case).group_by(*_grouping(by))


def _key(by: str | None, group: str | None) -> str:
    if by is None:
        return ALL
    return group if group is not None else EMPTY_GROUP[by]


def _configured(session: Session, by: str, scope: Scope) -> list[str]:
    """The groups worth a row even without cases, within the scope asked for."""
    lookups: dict[str, Callable[[], list[str]]] = {
        "product": lambda: list(session.scalars(select(Product.name))),
        "queue": lambda: list(session.scalars(select(Queue.name))),
        "agent": lambda: list(session.scalars(select(Agent.handle).where(Agent.active))),
    }
    names = lookups[by]()
    wanted = {"product": scope.product, "queue": scope.queue, "agent": scope.agent}[by]
    return [n for n in names if n == wanted] if wanted is not None else names


def _group_order(name: str) -> tuple[bool, str]:
    """Named groups first, alphabetically; "(none)" and "(unassigned)" last."""
    return (name.startswith("("), name.lower())


def _compliance(per_kpi: dict[str, dict[str, int]]) -> Compliance:
    by_kpi = {
        kpi: tally(per_kpi[kpi]["succeeded"], per_kpi[kpi]["noncompliant"])
        for kpi in sorted(per_kpi)
    }
    overall = tally(
        sum(t.succeeded for t in by_kpi.values()), sum(t.noncompliant for t in by_kpi.values())
    )
    return Compliance(overall, by_kpi)


def _mean(values: list[float] | list[int], digits: int) -> float | None:
    return round(sum(values) / len(values), digits) if values else None
