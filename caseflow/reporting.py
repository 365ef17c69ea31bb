"""Reports and goals over the read model: periods, goal verdicts, progress and readable tables.

A goal is a target for one metric (see `caseflow.store.metrics` for the definitions) over a
period, for the organisation, a queue or an agent. Periods recur (a day, a week, a month, a
quarter, a year, counted from an anchor date in the goal's time zone) or are given once (from
one date to another, the end excluded). Each metric has its own direction: cases resolved,
SLA compliance and CSAT must reach the target (at least); cases in progress and the mean times
must stay within it (at most).

Progress compares the figure of the period with the target. `percent_of_target` is actual ÷
target: for an "at least" goal, how far along it is (100 or more: met); for an "at most" goal,
how much of the allowance is used (100 or less: met).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.store import metrics
from caseflow.store.metrics import ALL, Scope, Summary, Window
from caseflow.store.models import Agent, Goal, Queue

AT_LEAST, AT_MOST = "at_least", "at_most"
COMPARISON = {
    "cases_resolved": AT_LEAST,
    "cases_in_progress": AT_MOST,
    "sla_compliance": AT_LEAST,
    "mean_first_response": AT_MOST,
    "mean_resolution_time": AT_MOST,
    "csat": AT_LEAST,
}
METRICS = tuple(COMPARISON)
UNIT = {
    "cases_resolved": "cases",
    "cases_in_progress": "cases",
    "sla_compliance": "percent",
    "mean_first_response": "seconds",
    "mean_resolution_time": "seconds",
    "csat": "rating",
}
TIME_METRICS = frozenset({"mean_first_response", "mean_resolution_time"})
WALL_CLOCK, BUSINESS = "wall_clock", "business"
RECURRING = ("day", "week", "month", "quarter", "year")
CUSTOM = "custom"
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
# A Monday and a 1st of January: without an anchor, periods are calendar weeks, months, ...
DEFAULT_ANCHOR = date(2001, 1, 1)
DEFAULT_SPAN = timedelta(days=30)
BREAKDOWNS = ("product", "queue", "agent")


class ReportError(ValueError):
    """A request for figures that cannot be answered: `invalid` (a bad period or target) or
    `unknown_queue`, `unknown_agent`, `unknown_product`, `unknown_goal`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Periods


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the month's last day if it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period_containing(unit: str, anchor: date, day: date) -> tuple[date, date]:
    """The period of this length, counted from `anchor`, that contains `day`: [start, end)."""
    if unit == "day":
        return day, day + timedelta(days=1)
    if unit == "week":
        start = day - timedelta(days=(day - anchor).days % 7)
        return start, start + timedelta(days=7)
    step = MONTHS_IN[unit]
    months = (day.year - anchor.year) * 12 + day.month - anchor.month
    index = months // step
    if add_months(anchor, index * step) > day:  # a day before the anchor's day of the month
        index -= 1
    return add_months(anchor, index * step), add_months(anchor, (index + 1) * step)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError("invalid", f"unknown time zone {name!r}") from None


def window_of(start: date, end: date, tz: ZoneInfo) -> Window:
    """The instants from local midnight of `start` to local midnight of `end`."""
    return Window(_midnight(start, tz), _midnight(end, tz))


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """A date (its midnight, UTC) or an instant with a UTC offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError("invalid", f"{text!r} is not a date or an ISO 8601 instant") from None
    if len(text) <= len("2026-01-01"):
        return value.replace(tzinfo=UTC)
    if value.tzinfo is None:
        raise ReportError("invalid", f"{text!r} needs a UTC offset, e.g. 2026-03-01T00:00+01:00")
    return value.astimezone(UTC)


def report_window(start: str | None, end: str | None, now: datetime) -> Window:
    """[from, to) as asked; `to` defaults to now, `from` to 30 days before `to`."""
    until = parse_instant(end) if end else now
    since = parse_instant(start) if start else until - DEFAULT_SPAN
    if since >= until:
        raise ReportError("invalid", f"from ({since.isoformat()}) must come before to")
    return Window(since, until)


# ---------------------------------------------------------------------------------------------
# Goals


def check_goal(goal: Goal) -> None:
    """Refuse, with a sentence, a goal that could never be measured or reached."""
    if goal.metric not in COMPARISON:
        raise ReportError(
            "invalid", f"unknown metric {goal.metric!r} (known: {', '.join(METRICS)})"
        )
    _check_target(goal.metric, goal.target)
    if goal.queue is not None and goal.agent is not None:
        raise ReportError("invalid", "a goal is for the organisation, one queue or one agent")
    if goal.basis != WALL_CLOCK and goal.metric not in TIME_METRICS:
        raise ReportError("invalid", f"basis applies to mean times only, not to {goal.metric}")
    zone(goal.timezone)
    _check_period(goal)


def _check_target(metric: str, target: float) -> None:
    problems = {
        "cases_resolved": (target < 1 or not target.is_integer(), "a whole number, 1 or more"),
        "cases_in_progress": (target < 0 or not target.is_integer(), "a whole number, 0 or more"),
        "sla_compliance": (not 0 < target <= 100, "a percentage above 0 and at most 100"),
        "mean_first_response": (target <= 0, "a duration longer than zero, such as PT4H"),
        "mean_resolution_time": (target <= 0, "a duration longer than zero, such as P2D"),
        "csat": (not 1 <= target <= 5, "a rating from 1 to 5"),
    }
    wrong, expected = problems[metric]
    if wrong:
        raise ReportError("invalid", f"the target of {metric} must be {expected}")


def _check_period(goal: Goal) -> None:
    if goal.period == CUSTOM:
        if goal.starts_on is None or goal.ends_on is None:
            raise ReportError("invalid", "a custom period needs both from and to")
        if goal.starts_on >= goal.ends_on:
            raise ReportError("invalid", "a custom period's from must come before its to")
        if goal.anchor is not None:
            raise ReportError("invalid", "a custom period has no anchor")
    elif goal.period in RECURRING:
        if goal.starts_on is not None or goal.ends_on is not None:
            raise ReportError(
                "invalid", f"a {goal.period} period recurs: give an anchor, not from/to"
            )
    else:
        known = ", ".join((*RECURRING, CUSTOM))
        raise ReportError("invalid", f"unknown period {goal.period!r} (known: {known})")


def goal_window(goal: Goal, day: date) -> Window:
    """The goal's period that contains `day` (a custom period is the one period)."""
    tz = zone(goal.timezone)
    if goal.period == CUSTOM:
        assert goal.starts_on is not None and goal.ends_on is not None
        return window_of(goal.starts_on, goal.ends_on, tz)
    start, end = period_containing(goal.period, goal.anchor or DEFAULT_ANCHOR, day)
    return window_of(start, end, tz)


@dataclass(frozen=True)
class Verdict:
    percent_of_target: float | None
    met: bool | None  # None: nothing to measure yet (no response, no survey)


def evaluate(metric: str, target: float, actual: float | None) -> Verdict:
    if actual is None:
        return Verdict(None, None)
    percent = round(100 * actual / target, 2) if target else None
    met = actual >= target if COMPARISON[metric] == AT_LEAST else actual <= target
    return Verdict(percent, met)


@dataclass(frozen=True)
class GoalProgress:
    """Where a goal stands in one of its periods; `final` once the period has ended."""

    name: str
    metric: str
    comparison: str
    unit: str
    basis: str | None
    scope: str  # organisation, queue, agent
    scope_name: str | None
    start: datetime
    end: datetime
    final: bool
    period_elapsed_percent: float
    target: float
    actual: float | None
    percent_of_target: float | None
    met: bool | None


def goal_progress(session: Session, goal: Goal, day: date | None, now: datetime) -> GoalProgress:
    """The goal in the period containing `day` (by default today, in the goal's time zone)."""
    local_today = now.astimezone(zone(goal.timezone)).date()
    window = goal_window(goal, day or local_today)
    scope = Scope(queue=goal.queue, agent=goal.agent)
    actual = measure(session, goal.metric, window, scope, now, goal.basis)
    verdict = evaluate(goal.metric, goal.target, actual)
    span = (window.end - window.start).total_seconds()
    elapsed = (min(max(now, window.start), window.end) - window.start).total_seconds()
    return GoalProgress(
        name=goal.name,
        metric=goal.metric,
        comparison=COMPARISON[goal.metric],
        unit=UNIT[goal.metric],
        basis=goal.basis if goal.metric in TIME_METRICS else None,
        scope="queue" if goal.queue else "agent" if goal.agent else "organisation",
        scope_name=goal.queue or goal.agent,
        start=window.start,
        end=window.end,
        final=now >= window.end,
        period_elapsed_percent=round(100 * elapsed / span, 2),
        target=goal.target,
        actual=actual,
        percent_of_target=verdict.percent_of_target,
        met=verdict.met,
    )


def measure(
    session: Session, metric: str, window: Window, scope: Scope, now: datetime, basis: str
) -> float | None:
    """The one figure a goal on `metric` compares with its target."""
    if metric == "cases_resolved":
        return metrics.cases_resolved(session, window, scope).get(ALL, 0)
    if metric == "cases_in_progress":
        return metrics.cases_in_progress(session, min(window.end, now), scope).get(ALL, 0)
    if metric == "sla_compliance":
        found = metrics.sla_compliance(session, window, scope).get(ALL)
        return found.overall.percent if found else None
    if metric == "csat":
        surveys = metrics.csat(session, window, scope).get(ALL)
        return surveys.mean_rating if surveys else None
    query = (
        metrics.mean_first_response
        if metric == "mean_first_response"
        else (metrics.mean_resolution_time)
    )
    mean = query(session, window, scope).get(ALL)
    if mean is None:
        return None
    return mean.business_seconds if basis == BUSINESS else mean.wall_clock_seconds


def goals(session: Session) -> list[Goal]:
    return list(session.scalars(select(Goal).order_by(Goal.name)))


def goal_named(session: Session, name: str) -> Goal:
    goal = session.scalar(select(Goal).where(Goal.name == name))
    if goal is None:
        raise ReportError("unknown_goal", f"there is no goal {name!r}")
    return goal


def check_scope(session: Session, scope: Scope) -> None:
    """Refuse figures for a queue, agent or product nobody has heard of (a typo, usually)."""
    if (
        scope.queue is not None
        and session.scalar(select(Queue.id).where(Queue.name == scope.queue)) is None
    ):
        raise ReportError("unknown_queue", f"there is no queue {scope.queue!r}")
    if (
        scope.agent is not None
        and session.scalar(select(Agent.id).where(Agent.handle == scope.agent)) is None
    ):
        raise ReportError("unknown_agent", f"there is no agent {scope.agent!r}")
    if scope.product is not None and not metrics.known_product(session, scope.product):
        raise ReportError("unknown_product", f"there is no product {scope.product!r}")


# ---------------------------------------------------------------------------------------------
# Tables for people


def format_duration(seconds: float | None) -> str:
    """`3d 04h`, `2h 05m`, `12m 30s`, `45s`; `-` when there is nothing to show."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def format_number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"


def format_value(unit: str, value: float | None) -> str:
    if unit == "seconds":
        return format_duration(value)
    if unit == "percent":
        return format_percent(value)
    return format_number(value)


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned: the first (names) to the left, the figures to the right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = (str(c) for c in cells)
        parts = [first.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def summary_table(summary: Summary) -> str:
    compliance = summary.sla_compliance
    rows = [
        ["cases opened", str(summary.cases_opened)],
        ["cases resolved", str(summary.cases_resolved)],
        ["cases in progress", str(summary.cases_in_progress)],
        ["SLA compliance", _tally_text(compliance.overall)],
        *([f"  {kpi}", _tally_text(t)] for kpi, t in compliance.by_kpi.items()),
        ["mean first response", format_duration(summary.mean_first_response.wall_clock_seconds)],
        ["  in business time", format_duration(summary.mean_first_response.business_seconds)],
        ["mean resolution time", format_duration(summary.mean_resolution_time.wall_clock_seconds)],
        ["  in business time", format_duration(summary.mean_resolution_time.business_seconds)],
        ["CSAT", _csat_text(summary.csat)],
    ]
    return f"{_period(summary.start, summary.end)}\n\n" + render_table(["metric", "value"], rows)


def breakdown_table(breakdown: metrics.Breakdown) -> str:
    headers = [
        breakdown.by,
        "opened",
        "resolved",
        "in progress",
        "SLA",
        "first resp.",
        "resolution",
        "CSAT",
    ]
    cells = [breakdown_cells(row) for row in breakdown.rows]
    return f"{_period(breakdown.start, breakdown.end)}\n\n" + render_table(headers, cells)


def breakdown_cells(row: metrics.GroupFigures) -> list[str]:
    """One row of a breakdown as people read it (the report's table, the metrics page's)."""
    return [
        row.name,
        str(row.cases_opened),
        str(row.cases_resolved),
        str(row.cases_in_progress),
        format_percent(row.sla_compliance.percent),
        format_duration(row.mean_first_response.wall_clock_seconds),
        format_duration(row.mean_resolution_time.wall_clock_seconds),
        _csat_text(row.csat),
    ]


def goals_table(progress: list[GoalProgress]) -> str:
    headers = ["goal", "metric", "for", "period", "target", "actual", "% of target", "met"]
    return render_table(headers, [goal_cells(p) for p in progress])


def goal_cells(p: GoalProgress) -> list[str]:
    """Where a goal stands, as people read it (the report's table, the metrics page's)."""
    return [
        p.name,
        p.metric + (" (business)" if p.basis == BUSINESS else ""),
        p.scope_name if p.scope_name else p.scope,
        f"{p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}",
        ("≥ " if p.comparison == AT_LEAST else "≤ ") + format_value(p.unit, p.target),
        format_value(p.unit, p.actual),
        format_percent(p.percent_of_target),
        {True: "yes", False: "no", None: "-"}[p.met] + ("" if p.final else " so far"),
    ]


def _period(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"


def _tally_text(t: metrics.Tally) -> str:
    if t.percent is None:
        return "-"
    return f"{format_percent(t.percent)} ({t.succeeded} of {t.succeeded + t.noncompliant})"


def _csat_text(c: metrics.Csat) -> str:
    if c.mean_rating is None:
        return "-"
    return f"{c.mean_rating:.2f} ({c.responses})"
