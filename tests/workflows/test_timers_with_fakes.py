"""The case workflow's timers on the time-skipping test server with fake activities: no
database and no SMTP. The fakes, registered by the activities' names, answer a context the test
wrote and record what the workflow asked of them (the transitions it recorded, the emails it
sent), so each test reads when a warning, a failure and the auto-close happened."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from caseflow.client import start_case
from caseflow.worker import WORKFLOW_RUNNER, WORKFLOWS
from caseflow.workflows import lifecycle
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    ActivityName,
    Actor,
    CaseContext,
    CaseRecord,
    CaseResult,
    CaseStatus,
    CaseTimings,
    Channel,
    ContextRequest,
    Customer,
    EmailRequest,
    InboundEmail,
    KpiName,
    KpiStatus,
    KpiTarget,
    MessageRequest,
    NewCase,
    ResolveRequest,
    Role,
    SlaPolicy,
    WaitRequest,
)

Handle = WorkflowHandle[CaseWorkflow, CaseResult]
AGENT = Actor(handle="ann", role=Role.AGENT, queues=["standard"])
CUSTOMER = "carol@customer.example"
WARN, FAIL = timedelta(minutes=10), timedelta(minutes=15)  # first response, around the clock
AUTO_CLOSE = timedelta(days=2)
POLICY = SlaPolicy(
    name="fast",
    targets=[
        KpiTarget(KpiName.FIRST_RESPONSE, WARN, FAIL),
        KpiTarget(KpiName.RESOLUTION, timedelta(days=20), timedelta(days=30)),
    ],
)
# What the stages before `resolve` require (the built-in stage fields).
STAGES_DONE = {"product": "Caseflow Cloud", "category": "hardware", "diagnosis": "worn fuser"}


@dataclass
class Fakes:
    """The activities the case workflow calls, by name, and what each was asked."""

    records: list[CaseRecord] = field(default_factory=list)
    emails: list[EmailRequest] = field(default_factory=list)
    contexts: list[ContextRequest] = field(default_factory=list)

    def activities(self) -> list[Callable[..., object]]:
        @activity.defn(name=ActivityName.LOAD_CASE_CONTEXT)
        async def load_case_context(request: ContextRequest) -> CaseContext:
            self.contexts.append(request)
            return context_for(request.customer_email)

        @activity.defn(name=ActivityName.RECORD_CASE)
        async def record_case(record: CaseRecord) -> None:
            self.records.append(record)

        @activity.defn(name=ActivityName.SEND_EMAIL)
        async def send_email(request: EmailRequest) -> None:
            self.emails.append(request)

        return [load_case_context, record_case, send_email]

    def templates(self) -> list[str]:
        return [e.template for e in self.emails]

    def events(self, kind: str) -> list[datetime]:
        """When each recorded event of this kind happened, in the workflow's time."""
        return [e.at for r in self.records for e in r.events if e.kind == kind]

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Until the fakes have been asked what `done` looks for (the worker runs them after
        the timer fires)."""
        for _ in range(400):
            if done():
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"the workflow never asked for {what}")


def context_for(email: str) -> CaseContext:
    return CaseContext(
        customer=Customer(email=email, name="Carol"),
        entitlement=None,
        rules=[],
        policies=[POLICY],
        default_policy=POLICY.name,
        default_queue="standard",
        timings=CaseTimings(auto_close_after=AUTO_CLOSE),
        rules_version=lifecycle.RULES_VERSION,
    )


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def client(skipping_env: WorkflowEnvironment, fakes: Fakes) -> AsyncIterator[Client]:
    async with Worker(
        skipping_env.client,
        task_queue=TASK_QUEUE,
        workflows=WORKFLOWS,
        activities=fakes.activities(),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        yield skipping_env.client


TASK_QUEUE = "timers-with-fakes"


async def open_case(client: Client) -> Handle:
    """A case created by a customer's email, once it exists (its clocks have started)."""
    email = InboundEmail(
        key=f"test:{uuid.uuid4().hex}",
        sender=CUSTOMER,
        subject="Printer on fire",
        received_at=datetime.now(UTC),
        text="It is on fire.",
    )
    new = NewCase(
        channel=Channel.EMAIL,
        subject="Printer on fire",
        description="It is on fire.",
        customer_email=CUSTOMER,
        email=email,
    )
    handle = await start_case(client, f"CAS-{uuid.uuid4().int % 10**6:06d}", new, TASK_QUEUE)
    await handle.execute_update(CaseWorkflow.created)
    return handle


async def first_response(handle: Handle) -> tuple[datetime, KpiStatus]:
    clocks = await handle.query(CaseWorkflow.sla_clocks)
    clock = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    return clock.started_at, clock.status


async def test_first_response_warns_at_ten_minutes_and_fails_at_fifteen_each_once(
    client: Client, skipping_env: WorkflowEnvironment, fakes: Fakes
) -> None:
    handle = await open_case(client)
    started, _ = await first_response(handle)
    assert fakes.contexts == [ContextRequest(CUSTOMER, "", Channel.EMAIL, "")]

    await skipping_env.sleep(WARN - timedelta(minutes=1))
    assert "sla_warning" not in fakes.templates()
    await skipping_env.sleep(timedelta(minutes=2))
    await fakes.until(lambda: "sla_warning" in fakes.templates(), "the warning email")
    assert "sla_failure" not in fakes.templates()
    await skipping_env.sleep(FAIL - WARN)
    await fakes.until(lambda: "sla_failure" in fakes.templates(), "the failure email")
    await skipping_env.sleep(timedelta(hours=2))

    [warned], [failed] = fakes.events("sla_warning"), fakes.events("sla_failure")
    assert started + WARN <= warned < started + WARN + timedelta(minutes=1)
    assert started + FAIL <= failed < started + FAIL + timedelta(minutes=1)
    assert (fakes.templates().count("sla_warning"), fakes.templates().count("sla_failure")) == (
        1,
        1,
    )
    assert (await first_response(handle))[1] is KpiStatus.NONCOMPLIANT


async def test_a_reply_before_the_warning_meets_first_response_and_asks_for_no_sla_email(
    client: Client, skipping_env: WorkflowEnvironment, fakes: Fakes
) -> None:
    handle = await open_case(client)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it"))

    await skipping_env.sleep(timedelta(hours=1))

    assert (await first_response(handle))[1] is KpiStatus.SUCCEEDED
    await fakes.until(lambda: "reply" in fakes.templates(), "the reply")
    assert not {"sla_warning", "sla_failure"} & set(fakes.templates())
    assert fakes.events("sla_warning") == fakes.events("sla_failure") == []


async def test_waiting_for_the_customer_holds_the_warning_back_by_the_time_waited(
    client: Client, skipping_env: WorkflowEnvironment, fakes: Fakes
) -> None:
    handle = await open_case(client)
    started, _ = await first_response(handle)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await skipping_env.sleep(timedelta(minutes=5))
    await handle.execute_update(CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="logs"))
    paused = await skipping_env.get_current_time()
    await skipping_env.sleep(timedelta(days=1))
    assert "sla_warning" not in fakes.templates()
    await handle.execute_update(CaseWorkflow.resume, ActionRequest(actor=AGENT))
    resumed = await skipping_env.get_current_time()

    await skipping_env.sleep(timedelta(minutes=6))
    await fakes.until(lambda: "sla_warning" in fakes.templates(), "the warning email")

    [warned] = fakes.events("sla_warning")
    ran = (paused - started) + (warned - resumed)  # business time on the clock when it warned
    assert WARN <= ran < WARN + timedelta(minutes=1)


async def test_a_resolved_case_closes_itself_after_the_auto_close_delay_and_ends(
    client: Client, skipping_env: WorkflowEnvironment, fakes: Fakes
) -> None:
    handle = await open_case(client)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it"))
    await handle.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Replaced the fuser.", fields=STAGES_DONE),
    )
    [resolved] = fakes.events("resolved")

    await skipping_env.sleep(AUTO_CLOSE - timedelta(hours=1))
    assert (await handle.query(CaseWorkflow.view)).status is CaseStatus.RESOLVED
    assert fakes.events("auto_closed") == []
    result = await handle.result()  # skips on to the auto-close, where the workflow ends

    assert result.status is CaseStatus.CLOSED
    [closed] = fakes.events("auto_closed")
    assert resolved + AUTO_CLOSE <= closed < resolved + AUTO_CLOSE + timedelta(minutes=1)
    assert fakes.records[-1].snapshot.status is CaseStatus.CLOSED


async def test_a_reopened_case_never_closes_itself(
    client: Client, skipping_env: WorkflowEnvironment, fakes: Fakes
) -> None:
    handle = await open_case(client)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it"))
    await handle.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Replaced the fuser.", fields=STAGES_DONE),
    )
    await handle.execute_update(CaseWorkflow.reopen, ActionRequest(actor=AGENT))

    await skipping_env.sleep(AUTO_CLOSE * 3)

    assert (await handle.query(CaseWorkflow.view)).status is CaseStatus.OPEN
    assert fakes.events("auto_closed") == [] and fakes.events("closed") == []


async def test_of_two_agents_acting_on_the_same_version_the_second_is_refused(
    client: Client, fakes: Fakes
) -> None:
    """The case's own check (`Actor.saw`), whatever the read model says yet: two pages showing
    the same version, two actions at once, one carried out."""
    handle = await open_case(client)
    await fakes.until(lambda: bool(fakes.records), "the first record")
    seen = max(r.seq for r in fakes.records)
    ann = replace(AGENT, saw=seen)
    sam = Actor(handle="sam", role=Role.AGENT, queues=["standard"], saw=seen)

    first, second = await asyncio.gather(
        handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=ann)),
        handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=sam)),
        return_exceptions=True,
    )

    outcomes = [first, second]
    refused = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
    assert len(refused) == 1, outcomes
    cause = refused[0].cause
    assert isinstance(cause, ApplicationError) and cause.type == lifecycle.STALE
    assert f"you saw version {seen}" in cause.message
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.OPEN
    # An action that says nothing of what its page showed (the API, the CLI) is not held to it.
    await handle.execute_update(CaseWorkflow.note, MessageRequest(actor=AGENT, body="checked"))
