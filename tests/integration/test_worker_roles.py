"""Workers that scale out: `caseflow worker --role workflows|activities|both`, any number of
each on one task queue and one database. On the Temporal dev server, with SQLite, two workflow
workers and two activity workers carry every case through once: each acknowledgement is sent
once, each case ends once. A workflow worker runs no activity: with activity workers away, a
case waits with its activity scheduled, and goes on when one comes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from caseflow.client import connect
from caseflow.settings import Settings, WorkerRole
from caseflow.store import cases
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import ActionRequest, Actor, Role
from tests.support.harness import Harness, add_agents, settled
from tests.support.servers import SmtpSink

SAM = Actor(handle="sam", role=Role.SUPERVISOR, queues=["escalations"])
CASES = 12


@asynccontextmanager
async def workers(
    client: Client, settings: Settings, sink: SmtpSink, *roles: WorkerRole
) -> AsyncIterator[tuple[Harness, AsyncExitStack, list[Worker]]]:
    """Workers of these roles on the test's task queue and database, all started, each with a
    client of its own, as separate processes have (the SDK allows one worker of a kind per
    client and task queue)."""
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    add_agents(sessions)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        async with AsyncExitStack() as running:
            started = []
            for role in roles:
                own = await _own_client(client)
                worker = build_worker(own, sessions, settings, executor, role=role)
                started.append(await running.enter_async_context(worker))
            yield Harness(client, settings, sessions, sink, started[0]), running, started
    engine.dispose()


async def _own_client(client: Client) -> Client:
    return await connect(client.service_client.config.target_host, client.namespace)


async def _scheduled_but_not_started(client: Client, number: str) -> bool:
    described = await client.get_workflow_handle(number).describe()
    pending = described.raw_description.pending_activities
    return bool(pending) and all(
        p.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED for p in pending
    )


async def test_two_workers_of_each_role_carry_every_case_through_once(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    quick = settings.model_copy(update={"api_update_timeout": timedelta(seconds=30)})
    two_of_each = [WorkerRole.WORKFLOWS] * 2 + [WorkerRole.ACTIVITIES] * 2
    async with workers(dev_env.client, quick, smtp_sink, *two_of_each) as (harness, _, started):
        assert [w.config()["max_cached_workflows"] for w in started[:2]] == [1000, 1000]
        customers = [f"customer{i}-{uuid.uuid4().hex[:6]}@example.org" for i in range(CASES)]
        handles = [await harness.open_case(customer=c) for c in customers]
        await harness.settled(*(h.id for h in handles))
        for handle in handles:
            await handle.execute_update(CaseWorkflow.cancel, ActionRequest(SAM, "duplicate"))
        results = [await handle.result() for handle in handles]

        for customer in customers:
            acks = [m for m in smtp_sink.sent_to(customer) if "We received" in str(m["Subject"])]
            assert len(acks) == 1, customer
        for handle, result in zip(handles, results, strict=True):
            described = await handle.describe()
            assert described.status is WorkflowExecutionStatus.COMPLETED
            assert str(result.status) == "cancelled"
        with transaction(harness.sessions, writes=False) as session:
            for handle in handles:
                case = cases.get_case(session, handle.id)
                assert case is not None and case.status == "cancelled"
                created = [e for e in cases.case_events(session, handle.id) if e.kind == "created"]
                assert len(created) == 1


async def test_a_workflow_worker_runs_no_activity_and_the_case_waits_for_one_that_does(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with workers(dev_env.client, settings, smtp_sink, WorkerRole.WORKFLOWS) as found:
        harness, running, _ = found
        handle = await harness.open_case(customer=f"waiting-{uuid.uuid4().hex[:6]}@example.org")
        for _ in range(600):
            if await _scheduled_but_not_started(harness.client, handle.id):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the case never scheduled its first activity")
        assert smtp_sink.sent_to(handle.id) == []

        executor = running.enter_context(ThreadPoolExecutor(max_workers=ACTIVITY_THREADS))
        own = await _own_client(harness.client)
        extra = build_worker(own, harness.sessions, settings, executor, role=WorkerRole.ACTIVITIES)
        await running.enter_async_context(extra)
        await settled(harness.client, handle.id)
        with transaction(harness.sessions, writes=False) as session:
            assert cases.get_case(session, handle.id) is not None  # recorded by the newcomer
