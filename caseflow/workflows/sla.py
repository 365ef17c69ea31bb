"""SLA clocks: pure functions over KPI instances, counted in business time of the case's calendar.

A clock runs in segments. `elapsed` holds the business time of closed segments; `running_since` is
the start of the open one (None while paused or stopped). While a clock runs, `warn_at` and
`fail_at` are the wall-clock instants at which its elapsed business time will reach warn-after and
fail-after; the workflow sleeps until the earliest of them. A KPI that fails stays failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from caseflow.workflows.calendar import CalendarSpec, add_business_time, business_time_between
from caseflow.workflows.model import KpiClock, KpiEvent, KpiName, KpiStatus, KpiTarget

# A durable timer never fires early, but instants are rounded to milliseconds on the way through
# the server: anything due within this margin counts as due.
DUE_TOLERANCE = timedelta(milliseconds=10)

WARNING = "warning"
FAILURE = "failure"

_RUNNING_STATUSES = (KpiStatus.IN_PROGRESS, KpiStatus.NEARING_NONCOMPLIANCE)


def start_clock(target: KpiTarget, cal: CalendarSpec, now: datetime, instance: int = 1) -> KpiClock:
    clock = KpiClock(
        kpi=target.kpi,
        warn_after=target.warn_after,
        fail_after=target.fail_after,
        started_at=now,
        instance=instance,
        running_since=now,
    )
    clock.history.append(KpiEvent(at=now, event="started"))
    _schedule(clock, cal)
    return clock


def is_active(clock: KpiClock) -> bool:
    """Not yet stopped: it may still pause, resume, warn, fail or succeed."""
    return clock.stopped_at is None and clock.status is not KpiStatus.CANCELLED


def elapsed(clock: KpiClock, cal: CalendarSpec, now: datetime) -> timedelta:
    if clock.running_since is None:
        return clock.elapsed
    return clock.elapsed + business_time_between(cal, clock.running_since, now)


def pause(clock: KpiClock, cal: CalendarSpec, now: datetime, reason: str) -> None:
    if not is_active(clock) or clock.running_since is None:
        return
    clock.elapsed = elapsed(clock, cal, now)
    clock.running_since = None
    if clock.status is not KpiStatus.NONCOMPLIANT:
        clock.status = KpiStatus.PAUSED
    clock.history.append(KpiEvent(at=now, event="paused", reason=reason))
    _schedule(clock, cal)


def resume(clock: KpiClock, cal: CalendarSpec, now: datetime, reason: str) -> None:
    if not is_active(clock) or clock.running_since is not None:
        return
    clock.running_since = now
    clock.status = _running_status(clock)
    clock.history.append(KpiEvent(at=now, event="resumed", reason=reason))
    _schedule(clock, cal)


def stop(
    clock: KpiClock, cal: CalendarSpec, now: datetime, outcome: KpiStatus, reason: str
) -> None:
    """End the instance as succeeded or cancelled; a failed instance keeps its failure."""
    if not is_active(clock):
        return
    clock.elapsed = elapsed(clock, cal, now)
    clock.running_since = None
    clock.stopped_at = now
    if clock.failed_at is not None or clock.elapsed > clock.fail_after:
        # Stopped after its failure instant (in the same instant as the timer): it missed.
        clock.status = KpiStatus.NONCOMPLIANT
        clock.missed_by = clock.elapsed - clock.fail_after
    else:
        clock.status = outcome
        if outcome is KpiStatus.SUCCEEDED:
            clock.met_by = clock.fail_after - clock.elapsed
    clock.history.append(KpiEvent(at=now, event=str(outcome), reason=reason))
    _schedule(clock, cal)


def reactivate(clock: KpiClock, cal: CalendarSpec, now: datetime, reason: str) -> None:
    """Resume a stopped instance where it left off: a reopened case resumes its resolution clock."""
    if clock.stopped_at is None or clock.status is KpiStatus.CANCELLED:
        return
    clock.stopped_at = None
    clock.met_by = None
    clock.missed_by = None
    clock.running_since = now
    clock.status = _running_status(clock)
    clock.history.append(KpiEvent(at=now, event="resumed", reason=reason))
    _schedule(clock, cal)


def fire_due(clock: KpiClock, cal: CalendarSpec, now: datetime) -> list[str]:
    """Warn and fail what has fallen due; each happens once per instance."""
    fired: list[str] = []
    if clock.warn_at is not None and clock.warn_at <= now + DUE_TOLERANCE:
        clock.warned_at = now
        clock.status = KpiStatus.NEARING_NONCOMPLIANCE
        clock.history.append(KpiEvent(at=now, event="warned"))
        fired.append(WARNING)
    if clock.fail_at is not None and clock.fail_at <= now + DUE_TOLERANCE:
        clock.failed_at = now
        clock.status = KpiStatus.NONCOMPLIANT
        clock.history.append(KpiEvent(at=now, event="failed"))
        fired.append(FAILURE)
    if fired:
        _schedule(clock, cal)
    return fired


def next_due(clock: KpiClock) -> datetime | None:
    instants = [t for t in (clock.warn_at, clock.fail_at) if t is not None]
    return min(instants) if instants else None


def find(clocks: list[KpiClock], kpi: KpiName) -> KpiClock | None:
    matching = [c for c in clocks if c.kpi is kpi]
    return matching[-1] if matching else None


def overall_status(clocks: list[KpiClock]) -> str:
    """One word for the case, worst first: what ops filter on (`SlaStatus`)."""
    if not clocks:
        return "none"
    if any(c.status is KpiStatus.NONCOMPLIANT for c in clocks):
        return str(KpiStatus.NONCOMPLIANT)
    active = [c for c in clocks if is_active(c)]
    for status in (KpiStatus.NEARING_NONCOMPLIANCE, KpiStatus.IN_PROGRESS, KpiStatus.PAUSED):
        if any(c.status is status for c in active):
            return str(status)
    if all(c.status is KpiStatus.CANCELLED for c in clocks):
        return str(KpiStatus.CANCELLED)
    return str(KpiStatus.SUCCEEDED)


def due_at(clocks: list[KpiClock]) -> datetime | None:
    """The next failure instant among running clocks: when the case next breaches its SLA."""
    instants = [c.fail_at for c in clocks if c.fail_at is not None]
    return min(instants) if instants else None


def retarget(
    clock: KpiClock, target: KpiTarget, old: CalendarSpec, new: CalendarSpec, now: datetime
) -> None:
    """Give a running instance another policy's target and calendar: the business time spent
    so far (counted in the old calendar) is kept; a warning or failure already sent stays."""
    if not is_active(clock):
        return
    if clock.running_since is not None:
        clock.elapsed = elapsed(clock, old, now)
        clock.running_since = now
    clock.warn_after, clock.fail_after = target.warn_after, target.fail_after
    clock.history.append(
        KpiEvent(at=now, event="retargeted", reason=f"warn after {target.warn_after}, "
                 f"fail after {target.fail_after}")
    )  # fmt: skip
    _schedule(clock, new)


def _running_status(clock: KpiClock) -> KpiStatus:
    if clock.failed_at is not None:
        return KpiStatus.NONCOMPLIANT
    if clock.warned_at is not None:
        return KpiStatus.NEARING_NONCOMPLIANCE
    return KpiStatus.IN_PROGRESS


def _schedule(clock: KpiClock, cal: CalendarSpec) -> None:
    """Recompute the wall-clock instants of the next warning and failure of a running clock."""
    clock.warn_at = clock.fail_at = None
    if clock.running_since is None or not is_active(clock):
        return
    start = clock.running_since
    if clock.warned_at is None and clock.failed_at is None:
        clock.warn_at = add_business_time(cal, start, _remaining(clock.warn_after, clock.elapsed))
    if clock.failed_at is None:
        clock.fail_at = add_business_time(cal, start, _remaining(clock.fail_after, clock.elapsed))


def _remaining(target: timedelta, spent: timedelta) -> timedelta:
    return max(target - spent, timedelta(0))


def is_running(clock: KpiClock) -> bool:
    return clock.status in _RUNNING_STATUSES and clock.running_since is not None
