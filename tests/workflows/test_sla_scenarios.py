"""SLA scenarios on the time-skipping server: due instants checked against wall-clock times
worked out by hand (never with `add_business_time`), and the warning or failure email arriving
at the SMTP sink only once that instant has passed, exactly once.

Each test first moves the server's clock (it starts at the real current time) to a chosen
moment, and saves `business-hours-paris` (09:00-13:00 and 14:00-18:00, Monday to Friday) with
the holidays it wants before opening its case: its `standard` policy warns after 3 and fails
after 4 business hours for the first response, 16 and 24 for the resolution.

The server's clock runs on in real time between two calls, so an action planned for 16:00
takes effect a few milliseconds later. Each test reads those lags from the case's own KPI
history (`lag`, at most a few seconds) and shifts the hand-computed instant by exactly them: a
due instant inside a business interval moves one for one with the instants it counts from.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from caseflow.calendars import definition_from_dict, save_calendar
from caseflow.client import signal_email
from caseflow.policies import policy_from_dict, save_policy
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import transaction
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    CaseResult,
    CaseStatus,
    EscalateRequest,
    InboundEmail,
    KpiClock,
    KpiName,
    KpiStatus,
    MessageRequest,
    Priority,
    ResolveRequest,
    WaitRequest,
)
from tests.support.harness import AGENT, CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink

Handle = WorkflowHandle[CaseWorkflow, CaseResult]

PARIS = ZoneInfo("Europe/Paris")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)
# How late an action may take effect after the instant the test planned it for (milliseconds
# usually; generous for a loaded machine, and still well inside the minute the checks need).
MAX_LAG = timedelta(seconds=30)


@pytest.fixture
async def harness(
    skipping_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(skipping_env.client, settings, smtp_sink) as h:
        yield h


# -- wall-clock times, travel and lags ----------------------------------------------------------


def paris(day: date, wall: str) -> datetime:
    """A literal wall-clock time in Paris on `day`, e.g. paris(tuesday, "12:00")."""
    return datetime.combine(day, time.fromisoformat(wall), tzinfo=PARIS)


def coming(weekday: int, after: datetime, at_least: int = 2) -> date:
    """The first `weekday` (0 = Monday) at least `at_least` days after `after`, in Paris."""
    day = after.astimezone(PARIS).date() + timedelta(days=at_least)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def last_sunday(year: int, month: int) -> date:
    """The last Sunday of March or October: when European clocks change."""
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def utc_wall(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %H:%M")


def offset(instant: datetime) -> timedelta:
    found = instant.utcoffset()
    assert found is not None
    return found


async def travel_to(env: WorkflowEnvironment, instant: datetime) -> None:
    """Skip the server's clock forward to `instant`, firing whatever falls due on the way."""
    now = await env.get_current_time()
    assert instant > now, f"{instant} is already past ({now})"
    await env.sleep(instant - now)


def lag(actual: datetime, planned: datetime) -> timedelta:
    """How long after its planned instant an action took effect: what a due instant counted
    from it moves by. Bounded, so that the literal instants keep their meaning."""
    late = actual - planned
    assert timedelta(0) <= late < MAX_LAG, f"{actual} is not just after {planned}"
    return late


# -- the case -----------------------------------------------------------------------------------


def business_hours_paris(harness: Harness, holidays: tuple[date, ...] = ()) -> None:
    """Replace the seeded calendar (whose holidays depend on the year) with a known one."""
    definition = definition_from_dict(
        {
            "name": "business-hours-paris",
            "timezone": "Europe/Paris",
            "hours": {
                day: ["09:00-13:00", "14:00-18:00"]
                for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
            "holidays": [day.isoformat() for day in holidays],
        }
    )
    with transaction(harness.sessions) as session:
        save_calendar(session, definition)


async def open_case(harness: Harness) -> Handle:
    """A case from CUSTOMER (no entitlement: the `standard` policy), once it is recorded."""
    handle = await harness.open_case(CUSTOMER)
    await handle.execute_update(CaseWorkflow.created)
    return handle


async def clock(handle: Handle, kpi: KpiName) -> KpiClock:
    return next(c for c in await handle.query(CaseWorkflow.sla_clocks) if c.kpi is kpi)


def when(kpi: KpiClock, event: str) -> datetime:
    """The instant of the last `event` in a KPI instance's history."""
    return [e.at for e in kpi.history if e.event == event][-1]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll without blocking the event loop (the worker runs on it)."""
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def assert_mailed_once_at(
    harness: Harness,
    env: WorkflowEnvironment,
    handle: Handle,
    kpi: KpiName,
    what: str,
    due: datetime,
) -> None:
    """No `what` email about `kpi` one minute before `due`, one a minute after, and still only
    that one half an hour later."""
    subject = f"SLA {what}: {kpi.replace('_', ' ')}"
    await travel_to(env, due - timedelta(minutes=1))
    before = await clock(handle, kpi)
    assert (before.warned_at if what == "warning" else before.failed_at) is None
    assert not harness.sink.with_subject(subject), f"{subject} sent before {due}"
    await env.sleep(timedelta(minutes=2))

    async def mailed() -> bool:
        return bool(harness.sink.with_subject(subject))

    await eventually(mailed, f"{subject!r} after {due}")
    fired = await clock(handle, kpi)
    fired_at = fired.warned_at if what == "warning" else fired.failed_at
    assert fired_at is not None and due <= fired_at < due + timedelta(minutes=1)
    await env.sleep(timedelta(minutes=30))
    await harness.settled(handle.id)  # a second email, if any, has reached the sink
    # One email (one Message-ID), one copy to each recipient (a transaction each: VERP).
    assert len({m["Message-ID"] for m in harness.sink.with_subject(subject)}) == 1
    assert set(harness.sink.copies(subject).values()) == {1}


async def customer_writes(harness: Harness, handle: Handle, env: WorkflowEnvironment) -> None:
    email = InboundEmail(
        key=f"reply-{uuid.uuid4().hex}",
        sender=CUSTOMER,
        subject=f"Re: [{handle.id}] Printer on fire",
        received_at=await env.get_current_time(),
        text="Here are the logs you asked for.",
    )
    await signal_email(harness.client, handle.id, email)

    async def reopened() -> bool:
        return (await handle.query(CaseWorkflow.view)).status is CaseStatus.OPEN

    await eventually(reopened, "the customer's reply to resume the case")


# -- the scenarios ------------------------------------------------------------------------------


async def test_waiting_on_the_customer_over_a_weekend_and_a_holiday_monday_stops_the_clock(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    friday = coming(FRIDAY, await skipping_env.get_current_time())
    holiday_monday = friday + timedelta(days=3)
    tuesday = friday + timedelta(days=4)
    business_hours_paris(harness, holidays=(holiday_monday,))
    opened, waited, resumed = (
        paris(friday, "16:00"),
        paris(friday, "17:00"),
        paris(tuesday, "10:00"),
    )

    await travel_to(skipping_env, opened)
    handle = await open_case(harness)
    running = await clock(handle, KpiName.FIRST_RESPONSE)
    late = lag(running.started_at, opened)
    # Unpaused, the warning would fall after Friday 16:00-18:00 and Tuesday 09:00-10:00: the
    # weekend and the holiday Monday count for nothing.
    assert running.warn_at == paris(tuesday, "10:00") + late
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await travel_to(skipping_env, waited)  # 1 business hour of the 3 before the warning
    await handle.execute_update(
        CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="asked for logs by phone")
    )
    await travel_to(skipping_env, resumed)  # Saturday, Sunday and the holiday went by, paused
    paused = await clock(handle, KpiName.FIRST_RESPONSE)
    assert paused.status is KpiStatus.PAUSED and paused.warn_at is None
    assert not harness.sink.with_subject("SLA")
    await customer_writes(harness, handle, skipping_env)

    first = await clock(handle, KpiName.FIRST_RESPONSE)
    assert [e.event for e in first.history] == ["started", "paused", "resumed"]
    assert [e.reason for e in first.history][1:] == ["asked for logs by phone", "customer replied"]
    paused_late = lag(when(first, "paused"), waited)
    assert first.elapsed == timedelta(hours=1) - late + paused_late  # Friday 16:00-17:00
    # Nothing more until Tuesday 10:00, then the 2 h left: Tuesday 12:00.
    drift = late - paused_late + lag(when(first, "resumed"), resumed)
    warning_due = paris(tuesday, "12:00") + drift
    assert first.warn_at == warning_due
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.FIRST_RESPONSE, "warning", warning_due
    )

    async def recorded() -> bool:  # the read model keeps the same history
        with transaction(harness.sessions, writes=False) as session:
            rows = cases.case_sla_instances(session, handle.id)
        row = next(r for r in rows if r.kpi == KpiName.FIRST_RESPONSE)
        return [e["event"] for e in row.history] == ["started", "paused", "resumed", "warned"]

    await eventually(recorded, "the KPI history in the database")


async def test_a_warning_due_across_a_dst_change_falls_at_the_same_wall_time_a_utc_hour_apart(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    now = await skipping_env.get_current_time()
    sunday = min(
        change
        for year in (now.year, now.year + 1)
        for change in (last_sunday(year, 3), last_sunday(year, 10))
        if paris(change - timedelta(days=2), "17:00") > now + timedelta(days=1)
    )
    friday, monday = sunday - timedelta(days=2), sunday + timedelta(days=1)
    business_hours_paris(harness)  # no holiday (the seeded list has Easter Monday, 29 March 2027)
    opened = paris(friday, "17:00")
    shift = offset(paris(monday, "11:00")) - offset(opened)
    assert abs(shift) == timedelta(hours=1), f"no clock change between {friday} and {monday}"

    await travel_to(skipping_env, opened)
    handle = await open_case(harness)
    first = await clock(handle, KpiName.FIRST_RESPONSE)
    late = lag(first.started_at, opened)
    # Friday 17:00-18:00, then Monday 09:00-11:00: Monday 11:00 local, whatever the offset.
    warning_due = paris(monday, "11:00") + late
    assert first.warn_at == warning_due
    assert first.fail_at == paris(monday, "12:00") + late
    # 66 hours of wall clock from Friday 17:00 to Monday 11:00, one more or one less in UTC.
    assert first.warn_at - first.started_at == timedelta(hours=66) - shift
    if sunday.month == 3:  # +01:00 on Friday, +02:00 on Monday
        assert (utc_wall(first.started_at), utc_wall(first.warn_at)) == ("Fri 16:00", "Mon 09:00")
    else:  # +02:00 on Friday, +01:00 on Monday
        assert (utc_wall(first.started_at), utc_wall(first.warn_at)) == ("Fri 15:00", "Mon 10:00")
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.FIRST_RESPONSE, "warning", warning_due
    )


async def test_reopening_resumes_the_resolution_clock_without_the_day_spent_resolved(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    monday = coming(MONDAY, await skipping_env.get_current_time())
    tuesday, thursday, friday = (monday + timedelta(days=n) for n in (1, 3, 4))
    business_hours_paris(harness)
    opened, resolved, reopened = (
        paris(monday, "10:00"),
        paris(monday, "15:00"),
        paris(tuesday, "15:00"),
    )

    await travel_to(skipping_env, opened)
    handle = await open_case(harness)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it."))
    await travel_to(skipping_env, resolved)
    await handle.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Replaced the fuser.", fields=STAGES_DONE),
    )
    done = await clock(handle, KpiName.RESOLUTION)
    assert done.status is KpiStatus.SUCCEEDED
    started, stopped = lag(done.started_at, opened), lag(when(done, "succeeded"), resolved)
    # Monday 10:00-13:00 and 14:00-15:00.
    assert done.elapsed == timedelta(hours=4) - started + stopped

    await travel_to(skipping_env, reopened)  # a day resolved: it must not count
    await handle.execute_update(CaseWorkflow.reopen, ActionRequest(actor=AGENT, comment="again"))
    resolution = await clock(handle, KpiName.RESOLUTION)
    assert resolution.instance == 1 and resolution.status is KpiStatus.IN_PROGRESS
    assert [e.event for e in resolution.history] == ["started", "succeeded", "resumed"]
    assert resolution.elapsed == done.elapsed
    drift = started - stopped + lag(when(resolution, "resumed"), reopened)
    # 12 h of the 16 left from Tuesday 15:00: 3 on Tuesday, 8 on Wednesday, 1 on Thursday.
    warning_due = paris(thursday, "10:00") + drift
    assert resolution.warn_at == warning_due
    # 20 h of the 24 left: Tuesday 3, Wednesday 8, Thursday 8, then Friday 09:00-10:00.
    assert resolution.fail_at == paris(friday, "10:00") + drift
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.RESOLUTION, "warning", warning_due
    )


async def test_raising_the_priority_moves_running_clocks_to_the_new_policy_with_the_time_spent(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    friday = coming(FRIDAY, await skipping_env.get_current_time())
    business_hours_paris(harness)
    urgent = policy_from_dict(
        {
            "name": "urgent",
            "calendar": "24x7",
            "position": 10,
            "conditions": {"priorities": [Priority.CRITICAL]},
            "kpis": {
                "first_response": {"warn_after": "PT2H", "fail_after": "PT3H"},
                "resolution": {"warn_after": "PT4H", "fail_after": "PT8H"},
            },
        }
    )
    with transaction(harness.sessions) as session:
        save_policy(session, urgent)
    opened, escalated = paris(friday, "16:00"), paris(friday, "17:00")

    await travel_to(skipping_env, opened)
    handle = await open_case(harness)  # normal priority: the default `standard` policy
    before = await clock(handle, KpiName.FIRST_RESPONSE)
    assert before.warn_after == timedelta(hours=3)
    await travel_to(skipping_env, escalated)  # 1 business hour spent
    await handle.execute_update(
        CaseWorkflow.escalate,
        EscalateRequest(actor=AGENT, reason="production down", priority=Priority.CRITICAL),
    )

    first = await clock(handle, KpiName.FIRST_RESPONSE)
    resolution = await clock(handle, KpiName.RESOLUTION)
    assert (first.warn_after, first.fail_after) == (timedelta(hours=2), timedelta(hours=3))
    assert [e.event for e in first.history] == ["started", "retargeted"]
    late = lag(first.started_at, opened)
    spent = timedelta(hours=1) - late + lag(when(first, "retargeted"), escalated)
    assert first.elapsed == spent and resolution.elapsed == spent
    # Around the clock from 17:00 with 1 h spent: warned at 18:00, failed at 19:00 on Friday
    # (not after the weekend, as the business-hours calendar would have it).
    warning_due, failure_due = paris(friday, "18:00") + late, paris(friday, "19:00") + late
    assert (first.warn_at, first.fail_at) == (warning_due, failure_due)
    assert resolution.warn_at == paris(friday, "20:00") + late

    async def policy_changed() -> bool:
        with transaction(harness.sessions, writes=False) as session:
            events = cases.case_events(session, handle.id)
        return any(e.kind == "sla_policy_changed" and e.data["policy"] == "urgent" for e in events)

    await eventually(policy_changed, "the policy change on the timeline")
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.FIRST_RESPONSE, "warning", warning_due
    )
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.FIRST_RESPONSE, "failure", failure_due
    )


async def test_a_month_on_hold_across_a_month_end_keeps_the_business_time_left(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    wednesday = coming(WEDNESDAY, await skipping_env.get_current_time())
    five_weeks_later = wednesday + timedelta(weeks=5)
    assert five_weeks_later.month != wednesday.month
    business_hours_paris(harness)
    opened, held = paris(wednesday, "10:00"), paris(wednesday, "12:00")
    resumed = paris(five_weeks_later, "15:00")

    await travel_to(skipping_env, opened)
    handle = await open_case(harness)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await travel_to(skipping_env, held)  # 2 of the 3 business hours before the warning
    await handle.execute_update(CaseWorkflow.hold, WaitRequest(actor=AGENT, reason="vendor"))
    on_hold = await clock(handle, KpiName.FIRST_RESPONSE)
    late, held_late = lag(on_hold.started_at, opened), lag(when(on_hold, "paused"), held)
    spent = timedelta(hours=2) - late + held_late  # Wednesday 10:00-12:00
    assert on_hold.elapsed == spent

    await travel_to(skipping_env, resumed)
    still = await clock(handle, KpiName.FIRST_RESPONSE)
    assert still.status is KpiStatus.PAUSED and still.elapsed == spent
    assert not harness.sink.with_subject("SLA")
    await handle.execute_update(CaseWorkflow.resume, ActionRequest(actor=AGENT))

    first = await clock(handle, KpiName.FIRST_RESPONSE)
    assert [e.event for e in first.history] == ["started", "paused", "resumed"]
    assert first.elapsed == spent
    drift = late - held_late + lag(when(first, "resumed"), resumed)
    # 1 h left from 15:00: 16:00; 2 h left to the failure: 17:00.
    warning_due = paris(five_weeks_later, "16:00") + drift
    assert (first.warn_at, first.fail_at) == (warning_due, paris(five_weeks_later, "17:00") + drift)
    await assert_mailed_once_at(
        harness, skipping_env, handle, KpiName.FIRST_RESPONSE, "warning", warning_due
    )
