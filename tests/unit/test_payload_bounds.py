"""What a case carries in Temporal stays bounded: email text as an excerpt, a year or two of
holidays in its pinned policies, and a state that 200 emails and 50 transitions keep small."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from caseflow import calendars
from caseflow.store.models import Calendar
from caseflow.workflows import lifecycle, views
from caseflow.workflows.calendar import CalendarSpec, WeeklyHours
from caseflow.workflows.model import (
    EXCERPT,
    ActionRequest,
    CaseStatus,
    KpiName,
    KpiTarget,
    MessageRequest,
    WaitRequest,
    excerpt,
)
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.unit.case_factories import STEP, act, agent, case_in, inbound_email

STATE_LIMIT = 256 * 1024
LONG = "The printer prints every page twice, then jams on the third one. " * 300  # 19,800


def size(value: object) -> int:
    return len(DATA_CONVERTER.payload_converter.to_payloads([value])[0].data)


def test_a_short_text_travels_whole_and_a_long_one_as_its_start_with_its_length() -> None:
    assert excerpt("Hello") == ("Hello", 0)
    start, length = excerpt(LONG)
    assert (start, length) == (LONG[:EXCERPT], len(LONG))


def test_200_emails_and_50_transitions_keep_the_state_under_256_kib() -> None:
    state, now = case_in(CaseStatus.OPEN)
    hour = timedelta(hours=1)
    state.policy.targets.append(KpiTarget(KpiName.NEXT_RESPONSE, hour, 2 * hour))
    state.policy.calendar = CalendarSpec(
        name="paris",
        timezone="Europe/Paris",
        always_open=False,
        hours=[WeeklyHours(day, time(9), time(18)) for day in range(5)],
        holidays=[date(2026, month, day) for month in range(1, 13) for day in (1, 15)] * 2,
    )
    state.policies = [state.policy] * 6
    alice = agent()
    recorded: dict[str, object] = {}  # what the read model got of each clock, latest last
    for n in range(200):
        now += STEP
        text, length = excerpt(f"{n}: {LONG}")  # as the intake sends it
        email = inbound_email(f"<{n}.{'k' * 40}@customer.example>", at=now, text=text)
        email.text_length = length
        effects = lifecycle.receive_email(state, email, now)
        if effects is not None:
            lifecycle.commit(state, effects, "customer", "email", now)
        if n % 8 == 0:  # 25 times: a reply, wait on the customer, back: 50 transitions
            now += STEP
            act(state, "wait", WaitRequest(alice, reason="logs", body="Send the logs. " * 40), now)
            now += STEP
            act(state, "resume", ActionRequest(alice), now)
        for record in state.pending_records:
            recorded |= {f"{c.kpi}#{c.instance}": c for c in record.snapshot.kpis}
        state.pending_records.clear()  # the drainers carry these out as they come
        state.pending_emails.clear()
    assert sum(1 for c in state.kpis if c.kpi is KpiName.NEXT_RESPONSE) >= 25
    print(f"state of 200 emails and 50 transitions: {size(state)} bytes")
    assert size(state) < STATE_LIMIT, size(state)
    # Each record sends what changed: the read model still got every clock as it is now.
    assert recorded == {f"{c.kpi}#{c.instance}": c for c in state.kpis}
    act(state, "note", MessageRequest(alice, "Called the customer."), now + STEP)
    last = state.pending_records[-1]
    full = views.snapshot(state)
    print(f"a record then: {size(last)} bytes; the whole snapshot: {size(full)} bytes")
    running = [c for c in state.kpis if c.stopped_at is None]
    assert last.snapshot.kpis == running and len(running) < len(full.kpis) / 10
    assert last.snapshot.description is None  # unchanged since the first record
    assert size(last) < size(full)


def test_an_email_event_carries_the_excerpt_and_the_whole_length() -> None:
    state, now = case_in(CaseStatus.OPEN)
    text, length = excerpt(LONG)
    email = inbound_email("mail-long", at=now, text=text)
    email.text_length = length
    effects = lifecycle.receive_email(state, email, now)
    assert effects is not None
    [event] = [e for e in effects.events if e.kind == "email_in"]
    assert (len(event.body), event.data["text_length"]) == (EXCERPT, str(len(LONG)))


def test_a_running_case_carries_this_year_and_next_years_holidays_only() -> None:
    row = Calendar(
        name="paris", timezone="Europe/Paris", always_open=False, hours=[],
        holidays=["2019-05-02", f"{datetime.now(UTC).year}-12-24"], country="FR",
        subdivision=None, closures=[],
    )  # fmt: skip
    this_year = datetime.now(UTC).year
    carried = calendars.case_spec_of(row)
    assert {d.year for d in carried.holidays} == {this_year, this_year + 1}
    assert date(this_year, 12, 24) in carried.holidays
    assert len(calendars.spec_of(row).holidays) > 4 * len(carried.holidays)
