"""Case creation through update-with-start, against a minimal workflow doing the same.

Caseflow: `create_case_and_wait` of N cases at a given concurrency, each answering once the case
is recorded in SQLite (load context, record, acknowledgement to an SMTP sink). Baseline, on the
same dev server in the same process: update-with-start of a workflow that runs one no-op
activity and answers its update. The report gives both rates and their ratio, and the memory
each open case takes in this process (VmRSS before the first case and once all are created,
their workflows cached by the worker, per case).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from benchmarks.minimal import Minimal, no_op
from benchmarks.sla_timers import rss_bytes
from benchmarks.stack import dev_server_and_sink
from caseflow.client import create_case_and_wait
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.seed import seed_demo
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows.model import Channel, NewCase
from tests.support.servers import SmtpSink

CASES = 200
CONCURRENCY = 20
TIMEOUT = timedelta(seconds=60)


@dataclass
class Rate:
    name: str
    count: int
    seconds: float
    rss_before: int = 0
    rss_after: int = 0

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def bytes_per_case(self) -> float:
        return (self.rss_after - self.rss_before) / self.count


async def timed(name: str, count: int, one: object) -> Rate:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def bounded(i: int) -> None:
        async with gate:
            await one(i)  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(count)))
    return Rate(name, count, time.perf_counter() - start)


async def baseline(client: Client) -> Rate:
    queue = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[Minimal], activities=[no_op]):

        async def one(i: int) -> None:
            operation = WithStartWorkflowOperation(
                Minimal.run,
                str(i),
                id=f"baseline-{queue}-{i}",
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await client.execute_update_with_start_workflow(
                Minimal.created, start_workflow_operation=operation, rpc_timeout=TIMEOUT
            )

        return await timed("bare Temporal update-with-start + 1 activity", CASES, one)


async def caseflow_cases(client: Client, home: Path, sink: SmtpSink) -> Rate:
    url = f"sqlite:///{home / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        seed_demo(session)
    settings = Settings(
        home=home, database_url=url, smtp_port=sink.port, task_queue=f"bench-{uuid.uuid4().hex[:6]}"
    )
    with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
        async with build_worker(client, sessions, settings, executor):

            async def one(i: int) -> None:
                with transaction(sessions) as session:
                    number = cases.allocate_case_number(session, f"bench:{i}")
                new = NewCase(
                    channel=Channel.WEB,
                    subject=f"Benchmark case {i}",
                    description="",
                    customer_email=f"customer{i}@globex.example",
                )
                await create_case_and_wait(client, number, new, TIMEOUT, settings.task_queue)

            before = rss_bytes()
            rate = await timed("Caseflow create_case_and_wait", CASES, one)
            rate.rss_before, rate.rss_after = before, rss_bytes()
    engine.dispose()
    return rate


async def run() -> str:
    async with dev_server_and_sink() as (env, sink):
        base = await baseline(env.client)
        with tempfile.TemporaryDirectory() as home:
            ours = await caseflow_cases(env.client, Path(home), sink)
    return report(base, ours)


def report(base: Rate, ours: Rate) -> str:
    lines = [f"case creation, {CASES} cases at concurrency {CONCURRENCY}, Temporal dev server:"]
    for rate in (base, ours):
        lines.append(f"  {rate.name:<48} {rate.per_second:8.1f} /s  ({rate.seconds:.2f} s)")
    lines.append(f"  ratio Caseflow / baseline: {ours.per_second / base.per_second:.2f}")
    mib = 1024 * 1024
    lines.append(
        f"  worker RSS {ours.rss_before / mib:.1f} MiB before, {ours.rss_after / mib:.1f} MiB "
        f"with {CASES} cases open: {ours.bytes_per_case / 1024:.1f} KiB per open case"
    )
    return "\n".join(lines)
