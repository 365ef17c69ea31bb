"""Goals as a configuration kind: a target for one metric over a period, for the organisation,
a queue or an agent.

```yaml
goals:
  - name: gold-first-response
    metric: mean_first_response   # cases_resolved, cases_in_progress, sla_compliance,
                                  # mean_first_response, mean_resolution_time, csat
    target: PT30M                 # a count, a percentage, a rating (1-5) or an ISO duration
    basis: business               # mean times: wall_clock (default) or business (SLA clock)
    queue: gold                   # or agent: ann; neither: the whole organisation
    period: week                  # day, week, month (default), quarter, year, or custom
    anchor: 2026-01-05            # periods counted from this date (default: calendar ones)
    timezone: Europe/Paris        # where the periods' midnights are (default UTC)
  - name: spring-push
    metric: cases_resolved
    target: 400
    period: custom
    from: 2026-03-01
    to: 2026-06-01                # excluded
```
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictFloat, TypeAdapter
from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.reporting import TIME_METRICS, ReportError, check_goal
from caseflow.store.models import Agent, Goal, Queue
from caseflow.workflows.bounds import MAX_INT, Count

_DURATION = TypeAdapter(timedelta)
Metric = Literal[
    "cases_resolved",
    "cases_in_progress",
    "sla_compliance",
    "mean_first_response",
    "mean_resolution_time",
    "csat",
]
Period = Literal["day", "week", "month", "quarter", "year", "custom"]


class GoalConfig(BaseModel):
    """A target for one metric; periods recur from an anchor date or run once from/to."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )
    name: str = Field(min_length=1, max_length=100)
    metric: Metric
    target: Annotated[Count, Strict()] | Annotated[StrictFloat, Field(ge=0, le=MAX_INT)] | str
    basis: Literal["wall_clock", "business"] = "wall_clock"
    queue: str | None = None
    agent: str | None = None
    period: Period = "month"
    anchor: date | None = None
    starts: date | None = Field(default=None, alias="from")
    ends: date | None = Field(default=None, alias="to")
    timezone: str = "UTC"


def _target_value(spec: GoalConfig) -> float:
    """The target as stored: seconds for mean times (ISO 8601 or a number), else the number."""
    if spec.metric in TIME_METRICS:
        try:
            return _DURATION.validate_python(spec.target).total_seconds()
        except PydanticError:
            raise ConfigError(
                "invalid", f"the target of {spec.metric} is a duration such as PT4H"
            ) from None
    if isinstance(spec.target, str):
        raise ConfigError("invalid", f"the target of {spec.metric} is a number")
    return float(spec.target)


def _goal_of(spec: GoalConfig) -> Goal:
    return Goal(
        name=spec.name,
        metric=spec.metric,
        target=_target_value(spec),
        queue=spec.queue,
        agent=spec.agent,
        period=spec.period,
        anchor=spec.anchor,
        starts_on=spec.starts,
        ends_on=spec.ends,
        timezone=spec.timezone,
        basis=spec.basis,
    )


COLUMNS = (
    "metric", "target", "queue", "agent", "period", "anchor", "starts_on", "ends_on", "timezone",
    "basis",
)  # fmt: skip


def _save_goal(session: Session, spec: GoalConfig) -> None:
    goal = _goal_of(spec)
    try:
        check_goal(goal)
    except ReportError as err:
        raise ConfigError("invalid", err.detail) from None
    if (
        spec.queue is not None
        and session.scalar(select(Queue.id).where(Queue.name == spec.queue)) is None
    ):
        raise ConfigError("unknown_reference", f"unknown queue {spec.queue!r}")
    if (
        spec.agent is not None
        and session.scalar(select(Agent.id).where(Agent.handle == spec.agent)) is None
    ):
        raise ConfigError("unknown_reference", f"unknown agent {spec.agent!r}")
    row = session.scalar(select(Goal).where(Goal.name == spec.name))
    if row is None:
        session.add(goal)
        return
    for column in COLUMNS:
        setattr(row, column, getattr(goal, column))


def _spec_of(row: Goal) -> GoalConfig:
    target: int | float | str
    if row.metric in TIME_METRICS:
        target = _DURATION.dump_python(timedelta(seconds=row.target), mode="json")
    else:
        target = int(row.target) if row.target.is_integer() else row.target
    return GoalConfig(
        name=row.name,
        metric=row.metric,
        target=target,
        basis=row.basis,
        queue=row.queue,
        agent=row.agent,
        period=row.period,
        anchor=row.anchor,
        starts=row.starts_on,
        ends=row.ends_on,
        timezone=row.timezone,
    )


def _dump_goals(session: Session) -> list[GoalConfig]:
    return [_spec_of(row) for row in session.scalars(select(Goal).order_by(Goal.name))]


def _delete_goal(session: Session, name: str) -> None:
    session.delete(session.scalar(select(Goal).where(Goal.name == name)))


goals = register(
    Kind(
        name="goals",
        spec=GoalConfig,
        key=lambda s: s.name,
        save=_save_goal,
        dump=_dump_goals,
        delete=_delete_goal,
        describe="Targets for cases resolved, in progress, SLA compliance, mean first response, "
        "mean resolution time or CSAT, per period, for the organisation, a queue or an agent.",
    )
)
