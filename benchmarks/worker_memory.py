"""A workflow worker's memory at N open cases with their timers armed, by the bound of its cache.

The cases are created as the intake creates them (signal-with-start) on the Temporal dev server
and recorded by an activity worker in this process; the workflow worker is a process of its own,
`caseflow worker --role workflows` with CASEFLOW_MAX_CACHED_WORKFLOWS, whose VmRSS is read before
the first case and once every case is recorded (each then has its SLA timers armed). Run once
with the cache bounded (the default, 1,000) and once with a cache as large as the cases: bounded,
the worker's memory stays flat however many cases are open; unbounded, it grows with them.
`CASEFLOW_BENCH_OPEN_CASES` sets N (10,000).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from benchmarks.stack import dev_server_and_sink
from caseflow.client import start_case
from caseflow.settings import Settings, WorkerRole
from caseflow.store import cases
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.models import Case
from caseflow.store.seed import seed_demo
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows.model import Channel, NewCase
from tests.support.servers import SmtpSink

CASES = int(os.environ.get("CASEFLOW_BENCH_OPEN_CASES", "10000"))
CONCURRENCY = 50
SETTLE = 1800.0  # seconds at most for every case to be recorded


@dataclass
class Measured:
    cache: int
    cases: int
    seconds: float
    rss_before: int
    rss_after: int

    @property
    def per_case(self) -> float:
        return (self.rss_after - self.rss_before) / self.cases


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _recorded(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions, writes=False) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


async def _open_cases(
    client: Client, sessions: sessionmaker[Session], settings: Settings, count: int
) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            with transaction(sessions) as session:
                number = cases.allocate_case_number(session, f"bench:{uuid.uuid4().hex}")
            new = NewCase(
                channel=Channel.WEB,
                subject=f"Benchmark case {i}",
                description="",
                customer_email=f"customer{i}@globex.example",
            )
            await start_case(client, number, new, settings.task_queue)

    await asyncio.gather(*(one(i) for i in range(count)))


async def measure(
    env: WorkflowEnvironment, home: Path, sink: SmtpSink, url: str, cache: int
) -> Measured:
    """One run on the database both share, so that each run's cases get numbers of their own
    (a case's workflow id is its number)."""
    engine = make_engine(url, 10, 10)
    sessions = session_factory(engine)
    earlier = _recorded(sessions)
    settings = Settings(
        home=home,
        database_url=url,
        smtp_port=sink.port,
        temporal_address=env.client.service_client.config.target_host,
        task_queue=f"bench-{uuid.uuid4().hex[:6]}",
    )
    environment = {
        **os.environ,
        "CASEFLOW_HOME": str(home),
        "CASEFLOW_DATABASE_URL": url,
        "CASEFLOW_TEMPORAL_ADDRESS": settings.temporal_address,
        "CASEFLOW_TASK_QUEUE": settings.task_queue,
        "CASEFLOW_MAX_CACHED_WORKFLOWS": str(cache),
    }
    command = [sys.executable, "-m", "caseflow.cli", "worker", "--role", "workflows"]
    worker = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    try:
        await asyncio.sleep(5)  # its imports and first polls
        before = rss_of(worker.pid)
        with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
            activities = build_worker(
                env.client, sessions, settings, executor, role=WorkerRole.ACTIVITIES
            )
            async with activities:
                start = time.perf_counter()
                await _open_cases(env.client, sessions, settings, CASES)
                while (done := _recorded(sessions) - earlier) < CASES:
                    if time.perf_counter() - start > SETTLE:
                        raise RuntimeError(f"only {done} of {CASES} recorded")
                    await asyncio.sleep(1)
                seconds = time.perf_counter() - start
                await asyncio.sleep(5)  # the last records' workflow tasks
                after = rss_of(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        engine.dispose()
    return Measured(cache, CASES, seconds, before, after)


async def run() -> str:
    async with dev_server_and_sink() as (env, sink):
        with tempfile.TemporaryDirectory() as home:
            url = f"sqlite:///{Path(home) / 'bench.db'}"
            upgrade(url)
            engine = make_engine(url)
            with transaction(session_factory(engine)) as session:
                seed_demo(session)
            engine.dispose()
            found = [await measure(env, Path(home), sink, url, cache) for cache in (1000, CASES)]
    return report(found)


def report(found: list[Measured]) -> str:
    mib = 1024 * 1024
    lines = [f"workflow worker memory, {CASES} open cases with their SLA timers armed:"]
    for m in found:
        lines.append(
            f"  cache {m.cache:>6}: RSS {m.rss_before / mib:7.1f} MiB before, "
            f"{m.rss_after / mib:7.1f} MiB after ({m.per_case / 1024:6.1f} KiB per open case; "
            f"{m.cases / m.seconds:.1f} cases/s created)"
        )
    return "\n".join(lines)
