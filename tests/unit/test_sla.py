"""SLA clocks: warn and fail instants in business time, pauses, stops, reopening, firing once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from caseflow.workflows import sla
from caseflow.workflows.calendar import TWENTY_FOUR_SEVEN
from caseflow.workflows.model import KpiClock, KpiName, KpiStatus
from tests.unit.factories import business_hours_calendar, kpi_target

OFFICE = business_hours_calendar("Europe/Paris")  # Monday to Friday 09:00-17:00


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in June 2026 (Monday 1st, Friday 5th, Monday 8th), Paris wall time."""
    return datetime(2026, 6, day, hour, minute, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


FRIDAY_THREE_PM = paris(5, 15)


def status(clock: KpiClock) -> KpiStatus:
    """Read afresh after each step (mypy would otherwise keep an earlier assertion's narrowing)."""
    return clock.status


def office_clock(now: datetime = FRIDAY_THREE_PM) -> KpiClock:
    """A resolution clock warning after 4 and failing after 8 business hours."""
    return sla.start_clock(kpi_target(), OFFICE, now)


def test_start_clock_sets_warn_and_fail_due_in_business_time() -> None:
    clock = office_clock()
    assert status(clock) is KpiStatus.IN_PROGRESS
    assert clock.running_since == FRIDAY_THREE_PM
    assert clock.warn_at == paris(8, 11)
    assert clock.fail_at == paris(8, 15)
    assert [event.event for event in clock.history] == ["started"]


def test_start_clock_on_the_default_calendar_adds_wall_time() -> None:
    clock = sla.start_clock(kpi_target(), TWENTY_FOUR_SEVEN, FRIDAY_THREE_PM)
    assert clock.warn_at == FRIDAY_THREE_PM + timedelta(hours=4)
    assert clock.fail_at == FRIDAY_THREE_PM + timedelta(hours=8)


def test_elapsed_counts_only_business_time() -> None:
    clock = office_clock()
    assert sla.elapsed(clock, OFFICE, paris(8, 10)) == timedelta(hours=3)


def test_pause_and_resume_over_a_weekend_keep_elapsed_business_time() -> None:
    clock = sla.start_clock(kpi_target(), TWENTY_FOUR_SEVEN, FRIDAY_THREE_PM)
    sla.pause(clock, TWENTY_FOUR_SEVEN, paris(5, 16), "awaiting customer")
    assert status(clock) is KpiStatus.PAUSED
    assert clock.elapsed == timedelta(hours=1)
    assert clock.warn_at is None and clock.fail_at is None
    assert sla.next_due(clock) is None

    sla.resume(clock, TWENTY_FOUR_SEVEN, paris(8, 9), "customer replied")
    assert status(clock) is KpiStatus.IN_PROGRESS
    assert clock.warn_at == paris(8, 12)
    assert clock.fail_at == paris(8, 16)
    assert sla.elapsed(clock, TWENTY_FOUR_SEVEN, paris(8, 12)) == timedelta(hours=4)


def test_pause_on_a_business_calendar_counts_no_time_while_paused() -> None:
    clock = office_clock()
    sla.pause(clock, OFFICE, paris(5, 16), "on hold")
    assert sla.elapsed(clock, OFFICE, paris(8, 16)) == timedelta(hours=1)
    sla.resume(clock, OFFICE, paris(8, 11), "third party answered")
    assert clock.warn_at == paris(8, 14)
    assert clock.fail_at == paris(9, 10)


def test_pausing_twice_or_resuming_a_running_clock_changes_nothing() -> None:
    clock = office_clock()
    sla.resume(clock, OFFICE, paris(5, 15, 10), "not paused")
    sla.pause(clock, OFFICE, paris(5, 16), "first")
    sla.pause(clock, OFFICE, paris(5, 16, 30), "second")
    assert clock.elapsed == timedelta(hours=1)
    assert [event.event for event in clock.history] == ["started", "paused"]


def test_nothing_fires_before_warn_at() -> None:
    clock = office_clock()
    assert sla.fire_due(clock, OFFICE, paris(8, 10, 59)) == []
    assert status(clock) is KpiStatus.IN_PROGRESS


def test_warning_fires_once_when_elapsed_reaches_warn_after() -> None:
    clock = office_clock()
    assert sla.fire_due(clock, OFFICE, paris(8, 11)) == [sla.WARNING]
    assert status(clock) is KpiStatus.NEARING_NONCOMPLIANCE
    assert clock.warned_at == paris(8, 11)
    assert clock.warn_at is None
    assert sla.fire_due(clock, OFFICE, paris(8, 11)) == []
    assert sla.fire_due(clock, OFFICE, paris(8, 14)) == []


def test_warning_fires_within_the_due_tolerance() -> None:
    clock = office_clock()
    assert clock.warn_at is not None
    assert sla.fire_due(clock, OFFICE, clock.warn_at - timedelta(milliseconds=5)) == [sla.WARNING]


def test_failure_fires_once_when_elapsed_reaches_fail_after_and_never_again() -> None:
    clock = office_clock()
    sla.fire_due(clock, OFFICE, paris(8, 11))
    assert sla.fire_due(clock, OFFICE, paris(8, 15)) == [sla.FAILURE]
    assert status(clock) is KpiStatus.NONCOMPLIANT
    assert clock.failed_at == paris(8, 15)
    assert sla.next_due(clock) is None
    assert sla.fire_due(clock, OFFICE, paris(8, 15)) == []
    assert sla.fire_due(clock, OFFICE, paris(30, 14)) == []


def test_a_late_timer_fires_the_warning_once() -> None:
    clock = office_clock()
    assert sla.fire_due(clock, OFFICE, paris(8, 14)) == [sla.WARNING]
    assert sla.fire_due(clock, OFFICE, paris(8, 14)) == []
    assert clock.fail_at == paris(8, 15)


def test_a_timer_firing_long_after_both_instants_fires_each_once() -> None:
    clock = office_clock()
    assert sla.fire_due(clock, OFFICE, paris(19, 9)) == [sla.WARNING, sla.FAILURE]
    assert sla.fire_due(clock, OFFICE, paris(19, 9)) == []
    assert status(clock) is KpiStatus.NONCOMPLIANT


def test_warned_clock_resumes_nearing_noncompliance_without_a_second_warning() -> None:
    clock = office_clock()
    sla.fire_due(clock, OFFICE, paris(8, 11))
    sla.pause(clock, OFFICE, paris(8, 12), "awaiting customer")
    assert status(clock) is KpiStatus.PAUSED
    sla.resume(clock, OFFICE, paris(9, 9), "customer replied")
    assert status(clock) is KpiStatus.NEARING_NONCOMPLIANCE
    assert clock.warn_at is None
    assert clock.fail_at == paris(9, 12)


def test_failed_clock_stays_failed_through_pause_and_resume() -> None:
    clock = office_clock()
    sla.fire_due(clock, OFFICE, paris(8, 15))
    sla.pause(clock, OFFICE, paris(8, 16), "on hold")
    assert status(clock) is KpiStatus.NONCOMPLIANT
    sla.resume(clock, OFFICE, paris(9, 9), "resumed")
    assert status(clock) is KpiStatus.NONCOMPLIANT
    assert sla.next_due(clock) is None


def test_stop_before_failure_succeeds_with_met_by() -> None:
    clock = office_clock()
    sla.stop(clock, OFFICE, paris(8, 12), KpiStatus.SUCCEEDED, "resolved")
    assert status(clock) is KpiStatus.SUCCEEDED
    assert clock.elapsed == timedelta(hours=5)
    assert clock.met_by == timedelta(hours=3)
    assert clock.missed_by is None
    assert clock.stopped_at == paris(8, 12)
    assert not sla.is_active(clock)
    assert sla.next_due(clock) is None
    assert sla.fire_due(clock, OFFICE, paris(30, 9)) == []


def test_stop_after_failure_stays_noncompliant_with_missed_by() -> None:
    clock = office_clock()
    sla.fire_due(clock, OFFICE, paris(8, 15))
    sla.stop(clock, OFFICE, paris(8, 17), KpiStatus.SUCCEEDED, "resolved")
    assert status(clock) is KpiStatus.NONCOMPLIANT
    assert clock.missed_by == timedelta(hours=2)
    assert clock.met_by is None


def test_cancelling_a_running_clock_cancels_it_for_good() -> None:
    clock = office_clock()
    sla.stop(clock, OFFICE, paris(5, 16), KpiStatus.CANCELLED, "case cancelled")
    assert status(clock) is KpiStatus.CANCELLED
    sla.reactivate(clock, OFFICE, paris(8, 9), "reopened")
    assert status(clock) is KpiStatus.CANCELLED
    assert not sla.is_active(clock)


def test_stopping_a_stopped_clock_changes_nothing() -> None:
    clock = office_clock()
    sla.stop(clock, OFFICE, paris(8, 11), KpiStatus.SUCCEEDED, "resolved")
    sla.stop(clock, OFFICE, paris(8, 16), KpiStatus.CANCELLED, "cancelled")
    assert status(clock) is KpiStatus.SUCCEEDED
    assert clock.stopped_at == paris(8, 11)


def test_reactivate_resumes_a_stopped_resolution_clock_without_restarting_it() -> None:
    clock = office_clock()
    sla.stop(clock, OFFICE, paris(5, 16), KpiStatus.SUCCEEDED, "resolved")
    sla.reactivate(clock, OFFICE, paris(8, 9), "customer rejected the resolution")
    assert sla.is_active(clock)
    assert status(clock) is KpiStatus.IN_PROGRESS
    assert clock.met_by is None and clock.stopped_at is None
    assert clock.elapsed == timedelta(hours=1)
    assert clock.warn_at == paris(8, 12)
    assert clock.fail_at == paris(8, 16)


def test_reactivating_a_running_clock_changes_nothing() -> None:
    clock = office_clock()
    sla.reactivate(clock, OFFICE, paris(5, 15), "not stopped")
    assert clock.running_since == FRIDAY_THREE_PM
    assert [event.event for event in clock.history] == ["started"]


def test_clock_that_warned_and_failed_stays_failed_after_reactivation() -> None:
    clock = office_clock()
    assert sla.fire_due(clock, OFFICE, paris(8, 15)) == [sla.WARNING, sla.FAILURE]
    sla.stop(clock, OFFICE, paris(8, 16), KpiStatus.SUCCEEDED, "resolved")
    sla.reactivate(clock, OFFICE, paris(9, 9), "reopened")
    assert status(clock) is KpiStatus.NONCOMPLIANT
    assert clock.missed_by is None
    assert sla.next_due(clock) is None
    assert sla.fire_due(clock, OFFICE, paris(30, 9)) == []


def test_next_due_is_the_earliest_pending_instant() -> None:
    clock = office_clock()
    assert sla.next_due(clock) == paris(8, 11)
    sla.fire_due(clock, OFFICE, paris(8, 11))
    assert sla.next_due(clock) == paris(8, 15)


def test_due_at_is_the_earliest_failure_among_clocks() -> None:
    early = sla.start_clock(kpi_target(KpiName.FIRST_RESPONSE), TWENTY_FOUR_SEVEN, FRIDAY_THREE_PM)
    late = office_clock()
    assert sla.due_at([late, early]) == FRIDAY_THREE_PM + timedelta(hours=8)
    assert sla.due_at([]) is None


def test_find_returns_the_latest_instance_of_a_kpi() -> None:
    first = office_clock()
    second = sla.start_clock(kpi_target(), OFFICE, paris(8, 9), instance=2)
    response = sla.start_clock(kpi_target(KpiName.FIRST_RESPONSE), OFFICE, FRIDAY_THREE_PM)
    assert sla.find([first, response, second], KpiName.RESOLUTION) is second
    assert sla.find([first], KpiName.FIRST_RESPONSE) is None


def test_overall_status_without_clocks_is_none() -> None:
    assert sla.overall_status([]) == "none"


def test_overall_status_is_the_worst_clock() -> None:
    running, paused, warned, failed = (office_clock() for _ in range(4))
    sla.pause(paused, OFFICE, paris(5, 16), "on hold")
    sla.fire_due(warned, OFFICE, paris(8, 11))
    sla.fire_due(failed, OFFICE, paris(8, 15))
    sla.stop(failed, OFFICE, paris(8, 16), KpiStatus.SUCCEEDED, "resolved")
    assert sla.overall_status([paused]) == "paused"
    assert sla.overall_status([paused, running]) == "in_progress"
    assert sla.overall_status([paused, running, warned]) == "nearing_noncompliance"
    assert sla.overall_status([paused, running, warned, failed]) == "noncompliant"


def test_overall_status_of_finished_clocks_is_succeeded_unless_all_cancelled() -> None:
    met, cancelled = office_clock(), office_clock()
    sla.stop(met, OFFICE, paris(5, 14), KpiStatus.SUCCEEDED, "responded")
    sla.stop(cancelled, OFFICE, paris(5, 14), KpiStatus.CANCELLED, "case cancelled")
    assert sla.overall_status([met, cancelled]) == "succeeded"
    assert sla.overall_status([cancelled]) == "cancelled"
