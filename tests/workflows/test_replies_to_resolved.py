"""A customer's reply to a resolved case, on the time-skipping test server with fake
activities: a case that judges replies stays resolved on a thank-you (its timeline says so, its
owner is emailed, it still closes itself when due) and reopens when the problem persists; a
case pinned to reopen reopens on any reply, as before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from caseflow.client import signal_email, start_case
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
    KpiTarget,
    MessageRequest,
    NewCase,
    ResolvedReply,
    ResolveRequest,
    Role,
    SlaPolicy,
    TimelineEvent,
)

Handle = WorkflowHandle[CaseWorkflow, CaseResult]
TASK_QUEUE = "replies-to-resolved"
AGENT = Actor(handle="ann", role=Role.AGENT, queues=["standard"])
CUSTOMER = "carol@customer.example"
AUTO_CLOSE = timedelta(days=2)
POLICY = SlaPolicy(
    name="fast",
    targets=[
        KpiTarget(KpiName.FIRST_RESPONSE, timedelta(hours=1), timedelta(hours=2)),
        KpiTarget(KpiName.RESOLUTION, timedelta(days=20), timedelta(days=30)),
    ],
)
STAGES_DONE = {"product": "Caseflow Cloud", "category": "hardware", "diagnosis": "worn fuser"}


@dataclass
class Fakes:
    """The activities the case workflow calls, by name: a context pinned to `mode`, and what
    the workflow recorded and emailed."""

    mode: ResolvedReply = ResolvedReply.JUDGE
    records: list[CaseRecord] = field(default_factory=list)
    emails: list[EmailRequest] = field(default_factory=list)

    def activities(self) -> list[Callable[..., object]]:
        @activity.defn(name=ActivityName.LOAD_CASE_CONTEXT)
        async def load_case_context(request: ContextRequest) -> CaseContext:
            return CaseContext(
                customer=Customer(email=request.customer_email, name="Carol"),
                entitlement=None,
                rules=[],
                policies=[POLICY],
                default_policy=POLICY.name,
                default_queue="standard",
                timings=CaseTimings(auto_close_after=AUTO_CLOSE),
                rules_version=lifecycle.RULES_VERSION,
                resolved_reply=self.mode,
            )

        @activity.defn(name=ActivityName.RECORD_CASE)
        async def record_case(record: CaseRecord) -> None:
            self.records.append(record)

        @activity.defn(name=ActivityName.SEND_EMAIL)
        async def send_email(request: EmailRequest) -> None:
            self.emails.append(request)

        return [load_case_context, record_case, send_email]

    def events(self, kind: str) -> list[TimelineEvent]:
        return [e for r in self.records for e in r.events if e.kind == kind]

    async def until(self, done: Callable[[], bool], what: str) -> None:
        for _ in range(400):
            if done():
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"the workflow never recorded {what}")


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


async def resolved_case(client: Client) -> Handle:
    """A case created by the customer's email, picked, answered and resolved by Ann."""
    email = customer_email("It is on fire.", subject="Printer on fire")
    new = NewCase(
        channel=Channel.EMAIL,
        subject="Printer on fire",
        description=email.text,
        customer_email=CUSTOMER,
        email=email,
    )
    handle = await start_case(client, f"CAS-{uuid.uuid4().int % 10**6:06d}", new, TASK_QUEUE)
    await handle.execute_update(CaseWorkflow.created)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="On it"))
    await handle.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Replaced the fuser.", fields=STAGES_DONE),
    )
    return handle


def customer_email(
    text: str, subject: str = "Re: Proposed resolution: Printer on fire"
) -> InboundEmail:
    return InboundEmail(
        key=f"test:{uuid.uuid4().hex}",
        sender=CUSTOMER,
        subject=subject,
        received_at=datetime.now(UTC),
        text=text,
    )


async def status(handle: Handle) -> CaseStatus:
    return (await handle.query(CaseWorkflow.view)).status


async def test_a_thank_you_leaves_the_case_resolved_tells_its_owner_and_it_closes_when_due(
    client: Client, fakes: Fakes
) -> None:
    handle = await resolved_case(client)
    [resolved] = fakes.events("resolved")

    await signal_email(client, handle.id, customer_email("Thanks, it works now!"))
    await fakes.until(lambda: bool(fakes.events("reply_on_resolved")), "the judged reply")

    assert await status(handle) is CaseStatus.RESOLVED
    [judged] = fakes.events("reply_on_resolved")
    assert (judged.data["reason"], judged.data["reopened"]) == ("says it works", "false")
    assert fakes.events("reopened") == []
    await fakes.until(lambda: "reply_on_resolved" in [e.template for e in fakes.emails], "mail")
    [told] = [e for e in fakes.emails if e.template == "reply_on_resolved"]
    assert (told.to.agents, told.to.addresses) == (["ann"], [])
    result = await handle.result()  # skips on to the auto-close, where the workflow ends
    assert result.status is CaseStatus.CLOSED
    [closed] = fakes.events("auto_closed")
    assert resolved.at + AUTO_CLOSE <= closed.at < resolved.at + AUTO_CLOSE + timedelta(minutes=1)


async def test_a_reply_saying_the_problem_persists_reopens_the_case(
    client: Client, fakes: Fakes
) -> None:
    handle = await resolved_case(client)

    await signal_email(client, handle.id, customer_email("Thanks, but it still fails."))
    await fakes.until(lambda: bool(fakes.events("reopened")), "the reopening")

    assert await status(handle) is CaseStatus.OPEN
    [judged] = fakes.events("reply_on_resolved")
    assert (judged.data["reason"], judged.data["reopened"]) == ("says it still fails", "true")
    assert "reply_on_resolved" not in [e.template for e in fakes.emails]


async def test_a_case_pinned_to_reopen_reopens_on_a_thank_you(client: Client, fakes: Fakes) -> None:
    fakes.mode = ResolvedReply.REOPEN
    handle = await resolved_case(client)

    await signal_email(client, handle.id, customer_email("Thanks, it works now!"))
    await fakes.until(lambda: bool(fakes.events("reopened")), "the reopening")

    assert await status(handle) is CaseStatus.OPEN
    assert fakes.events("reply_on_resolved") == []
