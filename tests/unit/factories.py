"""Builders for the pure-rule unit tests: calendars, SLA targets and routing contexts."""

from __future__ import annotations

from datetime import time, timedelta

from caseflow.workflows.calendar import CalendarSpec, WeeklyHours
from caseflow.workflows.model import (
    CaseContext,
    CaseTimings,
    Customer,
    Entitlement,
    KpiName,
    KpiTarget,
    RoutingRule,
    SlaPolicy,
)

WEEKDAYS = range(5)


def business_hours_calendar(
    timezone: str = "Europe/Paris", start: time = time(9), end: time = time(17)
) -> CalendarSpec:
    """Monday to Friday, one interval a day, in `timezone`."""
    hours = [WeeklyHours(weekday=day, start=start, end=end) for day in WEEKDAYS]
    return CalendarSpec(name="office", timezone=timezone, always_open=False, hours=hours)


def kpi_target(
    kpi: KpiName = KpiName.RESOLUTION,
    warn_after: timedelta = timedelta(hours=4),
    fail_after: timedelta = timedelta(hours=8),
) -> KpiTarget:
    return KpiTarget(kpi=kpi, warn_after=warn_after, fail_after=fail_after)


def case_context(
    entitlement: Entitlement | None = None,
    policies: list[SlaPolicy] | None = None,
    default_policy: str = "standard",
    rules: list[RoutingRule] | None = None,
) -> CaseContext:
    return CaseContext(
        customer=Customer(email="ada@example.test"),
        entitlement=entitlement,
        rules=rules or [],
        policies=policies if policies is not None else [SlaPolicy(name="standard")],
        default_policy=default_policy,
        default_queue="standard",
        timings=CaseTimings(),
    )
