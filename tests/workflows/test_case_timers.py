"""Every timer path of the case workflow, on the time-skipping test server with real activities."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from caseflow.activities.convert import calendar, sla_policy
from caseflow.calendars import definition_from_dict, retime_running_cases, save_calendar
from caseflow.client import answer_survey, signal_email
from caseflow.policies import migrate_running_cases
from caseflow.settings import Settings
from caseflow.simulate import simulate
from caseflow.store import cases
from caseflow.store.db import transaction
from caseflow.store.directory import sla_policies
from caseflow.workflows.calendar import CalendarSpec, add_business_time
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    CaseResult,
    CaseStatus,
    InboundEmail,
    KpiName,
    KpiStatus,
    KpiTarget,
    MessageRequest,
    ResolutionResponse,
    ResolveRequest,
    SlaPolicy,
    SurveyAnswer,
    SurveyStatus,
    WaitRequest,
)
from caseflow.workflows.survey import SurveyWorkflow, survey_workflow_id
from tests.support.harness import AGENT, GOLD_CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink

Handle = WorkflowHandle[CaseWorkflow, CaseResult]


@pytest.fixture
async def harness(
    skipping_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(skipping_env.client, settings, smtp_sink) as h:
        yield h


async def resolved_case(harness: Harness, customer: str = GOLD_CUSTOMER) -> Handle:
    handle = await harness.open_case(customer)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it."))
    await handle.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Replaced the fuser.", fields=STAGES_DONE),
    )
    return handle


async def test_first_response_warning_then_failure_each_mailed_once(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)  # gold: warn 10 min, fail 15 min, 24x7
    await skipping_env.sleep(timedelta(minutes=16))
    await harness.sink.arrived(lambda ms: any("SLA failure" in str(m["Subject"]) for m in ms))
    await skipping_env.sleep(timedelta(hours=2))
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    assert first.status is KpiStatus.NONCOMPLIANT
    assert [e.event for e in first.history][-2:] == ["warned", "failed"]
    # Each mailed once: one email (one Message-ID), one copy to each recipient (VERP sends
    # each recipient a transaction of their own).
    for subject in ("SLA warning: first response", "SLA failure: first response"):
        assert len({m["Message-ID"] for m in harness.sink.with_subject(subject)}) == 1
        assert set(harness.sink.copies(subject).values()) == {1}
    failure = harness.sink.with_subject("SLA failure")[0]
    assert "sam@caseflow.test" in str(failure["To"]) + str(failure["Cc"] or "")


async def test_reply_before_warning_meets_first_response_and_sends_no_sla_mail(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Hello"))
    await skipping_env.sleep(timedelta(minutes=30))
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    assert first.status is KpiStatus.SUCCEEDED
    assert first.met_by is not None and first.met_by > timedelta(minutes=14)
    assert not harness.sink.with_subject("SLA")


async def test_clocks_pause_while_awaiting_customer_and_resume_where_they_stopped(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await skipping_env.sleep(timedelta(minutes=5))
    await handle.execute_update(CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="need logs"))
    await skipping_env.sleep(timedelta(days=3))  # a long pause: no warning may fire
    assert not harness.sink.with_subject("SLA")
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    assert {c.status for c in clocks} == {KpiStatus.PAUSED}
    await handle.execute_update(CaseWorkflow.resume, ActionRequest(actor=AGENT))
    await skipping_env.sleep(timedelta(minutes=4))
    assert not harness.sink.with_subject("SLA")
    await skipping_env.sleep(timedelta(minutes=2))  # 5 + 4 + 2 = 11 minutes running: warned
    await harness.sink.arrived(lambda ms: any("SLA warning" in str(m["Subject"]) for m in ms))
    assert not harness.sink.with_subject("SLA failure")


async def test_on_hold_pauses_clocks_too(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.hold, WaitRequest(actor=AGENT, reason="vendor"))
    await skipping_env.sleep(timedelta(days=30))
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.ON_HOLD
    assert not harness.sink.with_subject("SLA")


async def test_business_hours_clock_is_due_in_business_time(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case()  # standard policy: warn 3 h on Paris business hours
    await handle.execute_update(CaseWorkflow.created)  # its clocks exist once it is created
    state_clocks = await handle.query(CaseWorkflow.sla_clocks)
    first = next(c for c in state_clocks if c.kpi is KpiName.FIRST_RESPONSE)
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.NEW
    calendar = await _policy_calendar(harness, handle)
    assert first.warn_at == add_business_time(calendar, first.started_at, timedelta(hours=3))
    now = await skipping_env.get_current_time()
    await skipping_env.sleep(first.warn_at - now - timedelta(minutes=1))
    assert not harness.sink.with_subject("SLA warning")
    await skipping_env.sleep(timedelta(minutes=2))
    await harness.sink.arrived(lambda ms: any("SLA warning" in str(m["Subject"]) for m in ms))


async def _policy_calendar(harness: Harness, handle: Handle) -> CalendarSpec:
    with transaction(harness.sessions) as session:
        policy = next(p for p in sla_policies(session) if p.name == "standard")
        return calendar(policy.calendar)


async def test_resolved_case_closes_itself_after_the_auto_close_delay(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)
    await skipping_env.sleep(timedelta(days=6, hours=23))
    assert (await handle.query(CaseWorkflow.view)).status is CaseStatus.RESOLVED
    await skipping_env.sleep(timedelta(hours=2))
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.CLOSED
    with transaction(harness.sessions) as session:
        row = cases.get_case(session, handle.id)
        assert row is not None and row.status == "closed"


async def survey_of(harness: Harness, handle: Handle) -> WorkflowHandle[SurveyWorkflow, CaseResult]:
    """The workflow that runs a closed case's (first) survey, by its run: the test server
    answers `result()` only on a run's own handle."""
    survey_id = survey_workflow_id(handle.id, 1)
    run_id = (await harness.client.get_workflow_handle(survey_id).describe()).run_id
    return harness.client.get_workflow_handle_for(SurveyWorkflow.run, survey_id, run_id=run_id)


async def survey_result(harness: Harness, handle: Handle, env: WorkflowEnvironment) -> CaseResult:
    """Skip time until the survey ends. Only handles that the test client started skip time
    while awaiting `result()`; the survey's is started by the case, so unlock it here."""
    survey = await survey_of(harness, handle)
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await survey.result()


async def test_a_closed_case_ends_its_workflow_and_its_survey_runs_in_one_of_its_own(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)

    closed = await handle.result()  # skips to the auto-close: the case's workflow ends there

    assert closed.status is CaseStatus.CLOSED and closed.survey_rating is None
    survey = await (await survey_of(harness, handle)).describe()
    assert survey.status is WorkflowExecutionStatus.RUNNING
    assert survey.parent_id == handle.id
    assert await survey.static_summary() == f"Survey of {handle.id}: Printer on fire"
    assert not harness.sink.with_subject("How did we do?")  # sent an hour after closing


async def test_survey_is_sent_reminded_once_and_expires(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)
    await handle.result()
    result = await survey_result(harness, handle, skipping_env)  # survey, reminder and expiry
    assert result.status is CaseStatus.CLOSED and result.survey_rating is None
    assert len(harness.sink.with_subject("How did we do?")) == 1
    assert len(harness.sink.with_subject("A minute for our survey?")) == 1
    with transaction(harness.sessions) as session:
        row = cases.get_case(session, handle.id)
        assert row is not None and row.survey is not None
        assert row.survey["status"] == str(SurveyStatus.EXPIRED)


async def test_answered_survey_ends_the_survey_with_its_rating(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)
    accepted = await handle.execute_update(
        CaseWorkflow.respond_to_resolution, ResolutionResponse(episode=1, accept=True)
    )
    assert accepted.status is CaseStatus.CLOSED
    await skipping_env.sleep(timedelta(hours=1, minutes=1))
    await harness.sink.arrived(lambda ms: any("How did we do?" in str(m["Subject"]) for m in ms))
    answer = SurveyAnswer(episode=1, rating=5, comment="Quick!")
    await answer_survey(harness.client, handle.id, answer, timedelta(seconds=10))
    result = await survey_result(harness, handle, skipping_env)
    assert result.survey_rating == 5
    assert not harness.sink.with_subject("A minute for our survey?")
    with transaction(harness.sessions) as session:
        row = cases.get_case(session, handle.id)
        assert row is not None and row.survey is not None
        assert (row.survey["status"], row.survey["rating"]) == (str(SurveyStatus.ANSWERED), 5)


async def test_rejected_resolution_reopens_and_resumes_the_resolution_clock(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)
    before = next(
        c for c in await handle.query(CaseWorkflow.sla_clocks) if c.kpi is KpiName.RESOLUTION
    )
    await skipping_env.sleep(timedelta(days=1))
    view = await handle.execute_update(
        CaseWorkflow.respond_to_resolution,
        ResolutionResponse(episode=1, accept=False, comment="Still broken"),
    )
    assert view.status is CaseStatus.OPEN
    after = next(
        c for c in await handle.query(CaseWorkflow.sla_clocks) if c.kpi is KpiName.RESOLUTION
    )
    assert after.instance == before.instance and after.elapsed == before.elapsed
    assert after.status is KpiStatus.IN_PROGRESS
    assert (await handle.query(CaseWorkflow.view)).episode == 1
    # The old resolution link is spent: answering it again is refused.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            CaseWorkflow.respond_to_resolution, ResolutionResponse(episode=1, accept=True)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "link_used"


async def test_reopened_case_sends_no_survey(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await resolved_case(harness)
    await handle.execute_update(CaseWorkflow.reopen, ActionRequest(actor=AGENT))
    await skipping_env.sleep(timedelta(days=10))
    assert not harness.sink.with_subject("How did we do?")
    assert (await handle.query(CaseWorkflow.view)).status is CaseStatus.OPEN


async def test_next_response_warns_when_a_customer_message_waits_too_long(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)  # gold: next response warn 45 min, fail 1 h
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Hi"))
    email = InboundEmail(
        key="next-1",
        sender=GOLD_CUSTOMER,
        subject=f"Re: [{handle.id}] more",
        received_at=await skipping_env.get_current_time(),
        text="It happened again.",
    )
    await signal_email(harness.client, handle.id, email)
    await skipping_env.sleep(timedelta(minutes=46))
    await harness.sink.arrived(lambda ms: any("next response" in str(m["Subject"]) for m in ms))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it"))
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    [clock] = [c for c in clocks if c.kpi is KpiName.NEXT_RESPONSE]
    assert clock.status is KpiStatus.SUCCEEDED and clock.warned_at is not None
    assert not harness.sink.with_subject("SLA failure: next response")


async def test_editing_the_calendar_re_times_a_running_case_and_records_it(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case()  # standard policy on business-hours-paris
    await handle.execute_update(CaseWorkflow.created)
    before = next(
        c for c in await handle.query(CaseWorkflow.sla_clocks) if c.kpi is KpiName.FIRST_RESPONSE
    )
    always_open = definition_from_dict({"name": "business-hours-paris", "timezone": "UTC"})
    with transaction(harness.sessions) as session:
        save_calendar(session, always_open)
    with transaction(harness.sessions, writes=False) as session:
        told = await retime_running_cases(harness.client, session, "business-hours-paris")
    assert told == [handle.id]

    async def retimed() -> bool:
        clocks = await handle.query(CaseWorkflow.sla_clocks)
        first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
        return first.history[-1].event == "retargeted"

    for _ in range(50):
        if await retimed():
            break
        await asyncio.sleep(0.1)
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    assert first.warn_at is not None and before.warn_at is not None
    # Open around the clock now: due 3 hours after creation, not 3 business hours.
    assert first.warn_at - first.started_at <= timedelta(hours=3, seconds=5)
    for _ in range(50):  # recorded by the worker right after
        with transaction(harness.sessions, writes=False) as session:
            kinds = [e.kind for e in cases.case_events(session, handle.id)]
        if "calendar_changed" in kinds:
            break
        await asyncio.sleep(0.1)
    assert "calendar_changed" in kinds


async def test_what_if_replay_shows_a_case_a_draft_policy_would_change(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)  # gold: first response fails after 15 min
    await skipping_env.sleep(timedelta(minutes=20))
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Late"))
    draft = SlaPolicy(
        name="gold",
        targets=[KpiTarget(KpiName.FIRST_RESPONSE, timedelta(minutes=20), timedelta(minutes=30))],
    )
    with transaction(harness.sessions, writes=False) as session:
        current = {p.name: sla_policy(p) for p in sla_policies(session)}
        report = simulate(
            session, draft, current, timedelta(days=1), await skipping_env.get_current_time()
        )
    assert report.cases == 1
    assert (handle.id, "first_response#1", "missed", "met") in report.changed
    assert "first_response" in report.render()


async def test_a_policy_edit_reaches_a_running_case_only_through_its_migration(
    harness: Harness, skipping_env: WorkflowEnvironment
) -> None:
    handle = await harness.open_case(GOLD_CUSTOMER)  # gold: first response fails after 15 min
    await handle.execute_update(CaseWorkflow.created)
    with transaction(harness.sessions) as session:
        row = next(p for p in sla_policies(session) if p.name == "gold")
        row.targets = {
            **row.targets,
            "first_response": {"warn_after": "PT1H", "fail_after": "PT2H"},
        }
    first = next(
        c for c in await handle.query(CaseWorkflow.sla_clocks) if c.kpi is KpiName.FIRST_RESPONSE
    )
    assert first.fail_after == timedelta(minutes=15)  # saving the policy changed nothing running

    with transaction(harness.sessions, writes=False) as session:
        row = next(p for p in sla_policies(session) if p.name == "gold")
        told = await migrate_running_cases(harness.client, session, "gold", sla_policy(row))
    assert told == [handle.id]
    for _ in range(50):
        clocks = await handle.query(CaseWorkflow.sla_clocks)
        first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
        if first.fail_after == timedelta(hours=2):
            break
        await asyncio.sleep(0.1)
    assert first.fail_after == timedelta(hours=2)
    await skipping_env.sleep(timedelta(minutes=20))
    assert not harness.sink.with_subject("SLA failure")
