"""Draining a mailbox: 1,000 waiting messages into cases with their acknowledgements sent.

Caseflow: the real intake against Dovecot, a worker with real activities on SQLite, the
acknowledgements to an SMTP sink; timed from the first fetch until the last acknowledgement has
arrived. Baseline, on the same dev server in the same process: signal-with-start of a minimal
workflow that runs one no-op activity, for the same number of messages with at most the
intake's concurrency (`CASEFLOW_INTAKE_CONCURRENCY`) starts in flight, timed until every
activity has run.

What bounds it (profiled at 300 messages, 2 CPUs shared with other jobs):
- One message at a time, a message cost about 160 ms of waiting, not work: four SQLite write
  transactions in the intake (claim, mark reachable, allocate, delivered; 9-24 ms each, waiting
  for the write lock the worker's activities held), start_case 15 ms, IMAP FETCH + MOVE 17 ms,
  parsing 2 ms. Python used about a quarter of one core.
- Taking eight messages in at once, with one FETCH and one MOVE per batch, removes the IMAP
  share (five FETCHes and five MOVEs for 300 messages) but not the SQLite one: every case
  needs about ten write transactions (four in the intake; context, record, outbox, sent in the
  worker) and SQLite has one writer. Under contention SQLite's busy handler sleeps up to 100 ms
  per retry, so writes took 150-500 ms each; an in-process writer lock (`store.db`) queues them
  instead, yet each transaction still holds the lock for many GIL hand-offs while the worker's
  workflow tasks, twenty activity threads and the intake share one interpreter.
- So the intake is bounded by the worker's per-case chain of SQLite writes and by Python's one
  core, not by IMAP or Temporal: the baseline does one workflow task and one no-op activity.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.case_creation import Rate
from benchmarks.minimal import Minimal, no_op
from caseflow.client import register_search_attributes
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.seed import seed_demo
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows import search
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.support.dovecot import Dovecot
from tests.support.servers import SmtpSink, venv_binary
from tests.unit.emails import message

MESSAGES = 1000
CONCURRENCY = Settings().intake_concurrency  # CASEFLOW_INTAKE_CONCURRENCY, default 8
BOUNDED_BY = (
    "bounded by: the worker's chain per case (context -> record -> acknowledgement: about ten "
    "SQLite write transactions and an SMTP session) and Python's one core for intake and worker"
)


async def baseline(client: Client, count: int, concurrency: int = CONCURRENCY) -> Rate:
    """Signal-with-start of `count` minimal workflows, at most `concurrency` starts at once,
    timed until every one has run its activity."""
    queue = f"bench-signal-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            handle = await client.start_workflow(
                Minimal.run, str(i), id=f"{queue}-{i}", task_queue=queue, start_signal="nudge"
            )
        await handle.result()

    async with Worker(client, task_queue=queue, workflows=[Minimal], activities=[no_op]):
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return Rate(
            "bare Temporal signal-with-start + 1 activity", count, time.perf_counter() - start
        )


async def caseflow_intake(
    client: Client, home: Path, count: int, concurrency: int = CONCURRENCY
) -> Rate:
    dovecot = Dovecot()
    dovecot.start()
    sink = SmtpSink()
    sink.start()
    try:
        address = dovecot.add_user("support@bench.test")
        with dovecot.connect(address) as imap:
            for i in range(count):
                imap.append("INBOX", message(
                    sender=f"customer{i}@globex.example", to=address,
                    subject=f"Benchmark request {i}", message_id=f"<bench-{i}@globex.example>",
                ))  # fmt: skip
        url = f"sqlite:///{home / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            seed_demo(session)
        settings = Settings(
            home=home, database_url=url, smtp_port=sink.port, support_address=address,
            imap_host=dovecot.host, imap_port=dovecot.port, imap_user=address,
            imap_password=SecretStr(dovecot.password(address)),
            task_queue=f"bench-{uuid.uuid4().hex[:6]}", intake_concurrency=concurrency,
        )  # fmt: skip
        with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
            async with build_worker(client, sessions, settings, executor):
                intake = Intake(settings, sessions, client)
                start = time.perf_counter()
                await asyncio.to_thread(intake.mailbox.connect)
                while dovecot.count(address, "INBOX"):
                    await intake.drain()
                await asyncio.to_thread(intake.mailbox.close)
                await asyncio.to_thread(sink.wait_for, lambda ms: len(ms) >= count, timeout=600.0)
                seconds = time.perf_counter() - start
        engine.dispose()
        return Rate("Caseflow intake: mailbox → cases + acks", count, seconds)
    finally:
        sink.stop()
        dovecot.close()


async def run(count: int = MESSAGES, concurrency: int = CONCURRENCY) -> str:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    try:
        await register_search_attributes(env.client, env.client.namespace)
        base = await baseline(env.client, count, concurrency)
        with tempfile.TemporaryDirectory() as home:
            ours = await caseflow_intake(env.client, Path(home), count, concurrency)
    finally:
        await env.shutdown()
    return report(count, concurrency, base, ours)


def report(count: int, concurrency: int, base: Rate, ours: Rate) -> str:
    lines = [f"intake drain, {count} messages waiting, concurrency {concurrency}, dev server:"]
    for rate in (base, ours):
        lines.append(f"  {rate.name:<48} {rate.per_second:8.1f} /s  ({rate.seconds:.2f} s)")
    lines.append(f"  ratio Caseflow / baseline: {ours.per_second / base.per_second:.2f}")
    lines.append(f"  {BOUNDED_BY}")
    return "\n".join(lines)
