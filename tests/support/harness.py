"""A worker with real activities (SQLite, SMTP sink) around a test's Temporal environment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from caseflow.client import start_case
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Case, InboundMessage
from caseflow.worker import ACTIVITY_THREADS, Activities, build_worker
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    Actor,
    CaseResult,
    Channel,
    InboundEmail,
    NewCase,
    Role,
)
from tests.support.servers import SmtpSink

AGENT = Actor(handle="ann", role=Role.AGENT, queues=["standard", "gold"])
SUPERVISOR = Actor(handle="sam", role=Role.SUPERVISOR, queues=["escalations"])
CUSTOMER = "carol@globex.example"  # no entitlement: standard policy, business-hours calendar
GOLD_CUSTOMER = "alice@acme.example"  # Acme Gold: 15 minutes first response, 24x7
# What the stages before `resolve` require of a case (the default stage requirements, a seeded
# product): a resolve that passes these completes them.
STAGES_DONE = {"product": "Caseflow Cloud", "category": "hardware", "diagnosis": "worn fuser"}


@dataclass
class Harness:
    client: Client
    settings: Settings
    sessions: sessionmaker[Session]
    sink: SmtpSink
    worker: Worker

    async def settled(self, *numbers: str) -> None:
        """Until these cases have carried out all they were given so far (`settled`); without
        numbers, every case of the database: those recorded and those the intake handed mail to."""
        if not numbers:
            with transaction(self.sessions, writes=False) as session:
                recorded = session.scalars(select(Case.number))
                handed = session.scalars(select(InboundMessage.case_number).distinct())
                numbers = tuple(sorted({*recorded, *(n for n in handed if n)}))
        await settled(self.client, *numbers)

    async def open_case(
        self, customer: str = CUSTOMER, subject: str = "Printer on fire", **new: object
    ) -> WorkflowHandle[CaseWorkflow, CaseResult]:
        key = f"test:{uuid.uuid4().hex}"
        with transaction(self.sessions) as session:
            number = cases.allocate_case_number(session, key)
        email = InboundEmail(
            key=key,
            sender=customer,
            subject=subject,
            received_at=datetime.now(UTC),
            text="It is on fire.",
            message_id=f"<{uuid.uuid4().hex}@customer.example>",
        )
        case = NewCase(
            channel=Channel.EMAIL,
            subject=subject,
            description="It is on fire.",
            customer_email=customer,
            email=email,
            **new,  # type: ignore[arg-type]
        )
        return await start_case(self.client, number, case, self.settings.task_queue)


def add_agents(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        directory.create_agent(
            session,
            "ann",
            "ann@caseflow.test",
            "agent",
            ["standard", "gold"],
            token_hash(DEVELOPMENT_SECRET, "ann"),
        )
        directory.create_agent(
            session,
            "sam",
            "sam@caseflow.test",
            "supervisor",
            ["escalations"],
            token_hash(DEVELOPMENT_SECRET, "sam"),
        )


@asynccontextmanager
async def running_worker(
    client: Client,
    settings: Settings,
    sink: SmtpSink,
    agents: bool = True,
    swap: Callable[[Activities], Activities] | None = None,
) -> AsyncIterator[Harness]:
    """A worker on the test's task queue; `agents=False` when they exist (a restarted worker);
    `swap` turns the real activities, by name, into those it runs (a faulty one among them)."""
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    if agents:
        add_agents(sessions)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(client, sessions, settings, executor, swap)
        async with worker:
            yield Harness(client, settings, sessions, sink, worker)
    engine.dispose()


async def settled(client: Client, *workflow_ids: str, timeout: float = 30.0) -> None:
    """Until each workflow has ended or has no workflow task and no activity pending: whatever
    it was told before this call it has done, every email it would send is sent. What a test
    waits for before saying that something did not happen, instead of a fixed sleep."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    for workflow_id in workflow_ids:
        while not await _idle(client, workflow_id):
            if loop.time() > give_up:
                raise AssertionError(f"{workflow_id} was still busy after {timeout} s")
            await asyncio.sleep(0.05)


async def _idle(client: Client, workflow_id: str) -> bool:
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return True  # a number whose workflow never started: it does nothing
    if described.status is not WorkflowExecutionStatus.RUNNING:
        return True
    raw = described.raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


async def metered_client(
    env: WorkflowEnvironment, settings: Settings
) -> tuple[Client, Settings, int]:
    """A client whose runtime serves the worker's Prometheus metrics on a free port, the
    settings that say so, and the port (`/metrics` there)."""
    from caseflow.client import connect
    from caseflow.worker import metrics_runtime
    from tests.support.servers import free_port

    port = free_port()
    metered = settings.model_copy(update={"worker_metrics_address": f"127.0.0.1:{port}"})
    address = env.client.service_client.config.target_host
    return await connect(address, env.client.namespace, metrics_runtime(metered)), metered, port
