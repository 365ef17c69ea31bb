"""CaseWorkflow on the Temporal dev server: refusals, visibility, UI metadata, continue-as-new."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from caseflow.client import case_handle, create_case_and_wait, signal_email
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import transaction
from caseflow.store.models import CaseNumber
from caseflow.workflows import search
from caseflow.workflows.case import STATE_BYTES_METRIC, CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    Actor,
    CaseResult,
    CaseStatus,
    Channel,
    InboundEmail,
    KpiName,
    KpiStatus,
    MessageRequest,
    NewCase,
    Priority,
    ResolutionResponse,
    ResolveRequest,
    Role,
    WaitRequest,
)
from caseflow.workflows.survey import survey_workflow_id
from tests.support.harness import (
    AGENT,
    CUSTOMER,
    GOLD_CUSTOMER,
    STAGES_DONE,
    Harness,
    metered_client,
    running_worker,
)
from tests.support.seeds import RANDOM
from tests.support.servers import SmtpSink, venv_binary

Handle = WorkflowHandle[CaseWorkflow, CaseResult]
T = TypeVar("T")
OUTSIDER = Actor(handle="olga", role=Role.AGENT, queues=["escalations"])
VISIBILITY_DEADLINE = 15.0
UPDATE_TIMEOUT = timedelta(seconds=20)
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, settings, smtp_sink) as h:
        numbers_of_its_own(h.sessions)
        yield h


def numbers_of_its_own(sessions: sessionmaker[Session]) -> None:
    """Move this database's case numbers to a random range: the dev server outlives the test,
    and every test's fresh database would otherwise hand out CAS-000001 again."""
    with transaction(sessions) as session:
        session.add(
            CaseNumber(
                id=RANDOM.randrange(10**6, 10**9), origin_key=f"test:offset:{uuid.uuid4().hex}"
            )
        )


async def created_case(harness: Harness, customer: str = CUSTOMER, subject: str = "") -> Handle:
    """A case that exists (its creation is recorded), addressed by id so it follows new runs."""
    started = await harness.open_case(customer, subject or "Printer on fire")
    handle = case_handle(harness.client, started.id)
    await handle.execute_update(CaseWorkflow.created, id="created", rpc_timeout=UPDATE_TIMEOUT)
    return handle


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], deadline: float
) -> T:
    """Poll an eventually consistent read until it satisfies `done` or the deadline passes."""
    give_up = time.monotonic() + deadline
    while True:
        value = await probe()
        if done(value) or time.monotonic() > give_up:
            return value
        await asyncio.sleep(0.2)


async def accepted_update_ids(handle: Handle) -> list[str]:
    history = await handle.fetch_history()
    return [
        event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


# -- validators ---------------------------------------------------------------------------------


async def test_action_the_state_does_not_allow_is_refused_before_it_reaches_history(
    harness: Harness,
) -> None:
    handle = await created_case(harness)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            CaseWorkflow.resolve,
            ResolveRequest(actor=AGENT, resolution="Nothing to do"),
            id="resolve-a-new-case",
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "invalid_state"
    assert "resolve-a-new-case" not in await accepted_update_ids(handle)
    assert (await handle.query(CaseWorkflow.view)).status is CaseStatus.NEW


async def test_agent_outside_the_cases_queue_is_forbidden_to_pick_it(harness: Harness) -> None:
    handle = await created_case(harness)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            CaseWorkflow.pick, ActionRequest(actor=OUTSIDER), id="outsider-pick"
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "forbidden"
    picked = await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT), id="pick")
    assert picked.owner == AGENT.handle
    assert await accepted_update_ids(handle) == ["created", "pick"]


# -- visibility ---------------------------------------------------------------------------------


async def cases_in_each_state(harness: Harness) -> dict[str, set[str]]:
    """Five cases: one new, two open, one awaiting the customer, one cancelled."""
    handles = [await created_case(harness, GOLD_CUSTOMER, f"Case {i}") for i in range(5)]
    new, open_1, open_2, waiting, cancelled = handles
    for handle in (open_1, open_2, waiting):
        await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await waiting.execute_update(CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="logs"))
    await cancelled.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    return {
        "new": {new.id},
        "open": {open_1.id, open_2.id},
        "awaiting_customer": {waiting.id},
        "cancelled": {cancelled.id},
    }


async def test_search_attributes_find_exactly_the_open_cases_with_their_owner_and_sla(
    harness: Harness, dev_env: WorkflowEnvironment
) -> None:
    expected = await cases_in_each_state(harness)
    query = f'CaseState="open" AND TaskQueue="{harness.settings.task_queue}"'

    async def listed() -> dict[str, Any]:
        return {wf.id: wf async for wf in harness.client.list_workflows(query)}

    found = await eventually(listed, lambda ids: set(ids) == expected["open"], VISIBILITY_DEADLINE)
    assert set(found) == expected["open"]
    for execution in found.values():
        attributes = execution.typed_search_attributes
        assert attributes.get(search.CASE_OWNER) == AGENT.handle
        assert attributes.get(search.CASE_PRIORITY) == Priority.NORMAL
        assert attributes.get(search.CASE_QUEUE) == "gold"
        assert attributes.get(search.SLA_STATUS) == str(KpiStatus.IN_PROGRESS)
        due = attributes.get(search.SLA_DUE_AT)
        assert due is not None and due > datetime.now(UTC)
    waiting = f'CaseState="awaiting_customer" AND TaskQueue="{harness.settings.task_queue}"'
    assert (await harness.client.count_workflows(waiting)).count == 1
    assert await cli_list(dev_env.client, query) == expected["open"]


async def test_the_worker_serves_the_size_of_each_cases_state_as_a_metric(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client, metered, port = await metered_client(dev_env, settings)
    async with running_worker(client, metered, smtp_sink) as harness:
        numbers_of_its_own(harness.sessions)
        await created_case(harness)

        async def scraped() -> str:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/metrics")).text

        text = await eventually(scraped, lambda t: STATE_BYTES_METRIC in t, VISIBILITY_DEADLINE)
    counts = [line for line in text.splitlines() if line.startswith(f"{STATE_BYTES_METRIC}_count")]
    assert counts and all(float(line.rsplit(" ", 1)[1]) >= 1 for line in counts)
    assert f"{STATE_BYTES_METRIC}_bucket{{" in text and 'le="262144"' in text


async def test_running_case_workflows_are_exactly_the_cases_not_yet_closed(
    harness: Harness, dev_env: WorkflowEnvironment
) -> None:
    new, working, resolved, closed = [
        await created_case(harness, GOLD_CUSTOMER, f"Case {i}") for i in range(4)
    ]
    for handle in (working, resolved, closed):
        await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    for handle in (resolved, closed):
        resolve = ResolveRequest(actor=AGENT, resolution="Done", fields=STAGES_DONE)
        await handle.execute_update(CaseWorkflow.resolve, resolve)
    await closed.execute_update(
        CaseWorkflow.respond_to_resolution, ResolutionResponse(episode=1, accept=True)
    )
    assert (await closed.result()).status is CaseStatus.CLOSED  # ends at once: survey apart
    queue = f'TaskQueue="{harness.settings.task_queue}"'
    open_cases = f'WorkflowType="CaseWorkflow" AND ExecutionStatus="Running" AND {queue}'
    surveys = f'WorkflowType="SurveyWorkflow" AND ExecutionStatus="Running" AND {queue}'
    expected = {new.id, working.id, resolved.id}

    async def listed() -> set[str]:
        return await cli_list(dev_env.client, open_cases)

    assert await eventually(listed, lambda ids: ids == expected, VISIBILITY_DEADLINE) == expected
    assert await cli_list(dev_env.client, surveys) == {survey_workflow_id(closed.id, 1)}


async def test_what_reaches_a_closing_case_is_refused_or_followed_up_never_lost(
    harness: Harness,
) -> None:
    """Right after the customer accepts, the case's workflow hands its survey on and ends; an
    action then is refused (409 case_closed: by the validator, or as an ended workflow) and
    the customer's reply opens a follow-up case (by the ending workflow, or by the intake once
    it has ended), whichever moment it lands in."""
    handle = await created_case(harness)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    resolve = ResolveRequest(actor=AGENT, resolution="Done", fields=STAGES_DONE)
    await handle.execute_update(CaseWorkflow.resolve, resolve)
    await handle.execute_update(
        CaseWorkflow.respond_to_resolution, ResolutionResponse(episode=1, accept=True)
    )
    reply = customer_email(handle.id, 99)
    try:
        await signal_email(harness.client, handle.id, reply)
        signalled = True
    except RPCError as err:
        assert err.status is RPCStatusCode.NOT_FOUND  # ended: the intake opens the follow-up
        signalled = False
    with pytest.raises((WorkflowUpdateFailedError, RPCError)) as late:
        await handle.execute_update(CaseWorkflow.note, MessageRequest(actor=AGENT, body="late"))
    if isinstance(late.value, WorkflowUpdateFailedError):
        assert isinstance(late.value.cause, ApplicationError)
        assert late.value.cause.type == "case_closed"

    result = await handle.result()

    assert result.status is CaseStatus.CLOSED
    if signalled:
        with transaction(harness.sessions) as session:
            origin = select(CaseNumber.id).where(CaseNumber.origin_key == f"email:{reply.key}")
            follow_up = session.scalar(origin)
        assert follow_up is not None, "the reply reached the case and opened nothing"
    with transaction(harness.sessions) as session:
        notes = [e for e in cases.case_events(session, handle.id) if e.kind == "note"]
    assert notes == []


async def cli_list(client: Client, query: str) -> set[str]:
    """The same query through the real `temporal` CLI binary."""
    process = await asyncio.create_subprocess_exec(
        venv_binary("temporal"),
        "workflow",
        "list",
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        "--query",
        query,
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    text = out.decode().strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    return {row["execution"]["workflowId"] for row in rows}


# -- UI metadata --------------------------------------------------------------------------------


async def test_ui_shows_the_case_summary_and_its_current_details(harness: Harness) -> None:
    handle = await created_case(harness, subject="Toner   smeared\non every page")
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    description = await handle.describe()
    summary = await description.static_summary()
    assert summary == f"{handle.id}: Toner smeared on every page"
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert handle.id in details
    assert "**open** · stage identify" in details
    assert f"owner **{AGENT.handle}**" in details


# -- continue-as-new ----------------------------------------------------------------------------


def customer_email(number: str, i: int) -> InboundEmail:
    return InboundEmail(
        key=f"can-test:{number}:{i}",
        sender=CUSTOMER,
        subject=f"Re: [{number}] Printer on fire ({i})",
        received_at=datetime.now(UTC),
        text=f"Customer message {i}",
        message_id=f"<can-{i}-{uuid.uuid4().hex}@customer.example>",
    )


async def runs_of(client: Client, number: str) -> list[str]:
    """The case's runs in order, from the first along its ContinuedAsNew events."""
    history_runs: list[str] = []
    described = await client.get_workflow_handle(number).describe()
    run_id = described.raw_description.workflow_execution_info.first_run_id
    while run_id:
        history_runs.append(run_id)
        history = await client.get_workflow_handle(number, run_id=run_id).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            break
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return history_runs


@pytest.mark.slow
async def test_continue_as_new_loses_no_note_email_or_clock(
    eager_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with running_worker(eager_env.client, settings, smtp_sink) as harness:
        numbers_of_its_own(harness.sessions)
        handle = await created_case(harness)
        await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
        await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Hi"))
        before = await handle.query(CaseWorkflow.sla_clocks)
        notes: list[str] = []
        emails: list[InboundEmail] = []
        for i in range(40):
            notes.append(f"note {i}")
            await handle.execute_update(
                CaseWorkflow.note, MessageRequest(actor=AGENT, body=notes[-1])
            )
            emails.append(customer_email(handle.id, i))
            await signal_email(harness.client, handle.id, emails[-1])
            if i % 3 == 0:  # intake redelivers a message now and then: seen once
                await signal_email(harness.client, handle.id, emails[-1])
            if i >= 8 and len(await runs_of(harness.client, handle.id)) >= 3:
                break
        runs = await runs_of(harness.client, handle.id)
        assert len(runs) >= 3, f"only {len(runs)} runs"
        final = await handle.execute_update(
            CaseWorkflow.note, MessageRequest(actor=AGENT, body="last note")
        )
        notes.append("last note")
        after = await handle.query(CaseWorkflow.sla_clocks)
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        details = metadata.current_details
        await smtp_sink.arrived(
            lambda ms: any("Re: Printer on fire" in str(m["Subject"]) for m in ms)
        )

    assert final.status is CaseStatus.OPEN and final.owner == AGENT.handle
    runs = await runs_of(eager_env.client, handle.id)
    assert (await handle.describe()).run_id == runs[-1]
    # SDK 1.35 cannot give a continued run a static summary; the current details carry the
    # line, and so does the memo, which continue-as-new carries to every run.
    assert f"{handle.id}: Printer on fire" in details
    memo = await (await handle.describe()).memo()
    assert memo == {"summary": f"{handle.id}: Printer on fire"}
    assert_clocks_intact(before, after)
    with transaction(harness.sessions) as session:
        events = cases.case_events(session, handle.id)
        sla_rows = cases.case_sla_instances(session, handle.id)
    assert [e.body for e in events if e.kind == "note"] == notes
    in_keys = [e.email_key or e.data.get("key") for e in events if e.kind == "email_in"]
    assert in_keys[1:] == [email.key for email in emails]  # [0] is the email that opened it
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert {(r.kpi, r.status) for r in sla_rows} == {(c.kpi, c.status) for c in after}
    assert len(smtp_sink.with_subject("Re: Printer on fire")) == 1


def assert_clocks_intact(before: list[Any], after: list[Any]) -> None:
    by_kpi = {c.kpi: c for c in after}
    for clock in before:
        now = by_kpi[clock.kpi]
        assert now.started_at == clock.started_at and now.instance == clock.instance
        assert now.history[: len(clock.history)] == clock.history
    first = by_kpi[KpiName.FIRST_RESPONSE]
    assert first.status is KpiStatus.SUCCEEDED and first.met_by is not None
    resolution = by_kpi[KpiName.RESOLUTION]
    assert resolution.status is KpiStatus.IN_PROGRESS and resolution.running_since is not None


# -- update-with-start --------------------------------------------------------------------------


async def test_create_case_and_wait_answers_once_recorded_and_creates_one_workflow(
    harness: Harness,
) -> None:
    with transaction(harness.sessions) as session:
        number = cases.allocate_case_number(session, f"api:{uuid.uuid4().hex}")
    new = NewCase(
        channel=Channel.WEB,
        subject="Cannot log in",
        description="The portal says my password expired.",
        customer_email=GOLD_CUSTOMER,
        created_by=AGENT.handle,
    )
    view = await create_case_and_wait(
        harness.client, number, new, timedelta(seconds=20), harness.settings.task_queue
    )
    assert view.number == number and view.status is CaseStatus.NEW
    with transaction(harness.sessions) as session:
        row = cases.get_case(session, number)
        assert row is not None and row.status == "new"
    again = await create_case_and_wait(
        harness.client, number, new, timedelta(seconds=20), harness.settings.task_queue
    )
    assert again.number == number
    executions = [wf async for wf in harness.client.list_workflows(f'WorkflowId="{number}"')]
    assert len({wf.run_id for wf in executions}) <= 1
    history = await case_handle(harness.client, number).fetch_history()
    starts = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    ]
    assert len(starts) == 1
