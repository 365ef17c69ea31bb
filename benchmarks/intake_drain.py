"""Draining a mailbox: 1,000 waiting messages into cases with their acknowledgements sent.

Caseflow: the real intake against Dovecot, a worker with real activities on SQLite, the
acknowledgements to an SMTP sink; timed from the first fetch until the last acknowledgement has
arrived. Baseline, on the same dev server in the same process: signal-with-start of a minimal
workflow that runs one no-op activity, for the same number of messages at the intake's
concurrency (one message at a time per mailbox), timed until every activity has run.
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
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.case_creation import Rate
from benchmarks.minimal import Minimal, no_op
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.seed import seed_demo
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows import search
from caseflow.workflows.starter import register_search_attributes
from tests.support.dovecot import Dovecot
from tests.support.servers import SmtpSink, venv_binary
from tests.unit.emails import message

MESSAGES = 1000
CONCURRENCY = 1  # the intake takes one message at a time per mailbox


async def baseline(client: Client, count: int) -> Rate:
    queue = f"bench-signal-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[Minimal], activities=[no_op]):
        start = time.perf_counter()
        handles = []
        for i in range(count):
            handles.append(
                await client.start_workflow(
                    Minimal.run,
                    str(i),
                    id=f"{queue}-{i}",
                    task_queue=queue,
                    start_signal="nudge",
                )
            )
        await asyncio.gather(*(h.result() for h in handles))
        return Rate(
            "bare Temporal signal-with-start + 1 activity", count, time.perf_counter() - start
        )


async def caseflow_intake(client: Client, home: Path, count: int) -> Rate:
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
            task_queue=f"bench-{uuid.uuid4().hex[:6]}",
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


async def run(count: int = MESSAGES) -> str:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        await register_search_attributes(env.client, env.client.namespace)
        base = await baseline(env.client, count)
        with tempfile.TemporaryDirectory() as home:
            ours = await caseflow_intake(env.client, Path(home), count)
    finally:
        await env.shutdown()
    lines = [f"intake drain, {count} messages waiting, concurrency {CONCURRENCY}, dev server:"]
    for rate in (base, ours):
        lines.append(f"  {rate.name:<48} {rate.per_second:8.1f} /s  ({rate.seconds:.2f} s)")
    lines.append(f"  ratio Caseflow / baseline: {ours.per_second / base.per_second:.2f}")
    return "\n".join(lines)
