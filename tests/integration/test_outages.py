"""Longer outages while mail keeps arriving: the IMAP server away, then Temporal away. Nothing is
lost, nothing doubled, and the running intake loop (`Intake.run`) recovers by itself.

The outage lasts `CASEFLOW_TEST_OUTAGE_SECONDS` (default 10, what CI runs); the five-minute
version of issue 12 (both tests, about six minutes each, side by side in two runs if you like):

    CASEFLOW_TEST_OUTAGE_SECONDS=300 .venv/bin/pytest tests/integration/test_outages.py

Nothing here sleeps longer than the outage: mail arrives evenly over it, and afterwards every
wait polls for its condition with a deadline that grows with the outage (never a wall-time
assertion). Each test prints how long recovery took (`-s` shows it).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from caseflow.intake.mailbox import PROCESSED
from caseflow.intake.parse import parse
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.workflows import search
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.integration import test_intake
from tests.integration.test_intake import Desk, customer, eventually, running
from tests.integration.test_intake_faults import assert_each_message_once
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import running_worker
from tests.support.servers import SmtpSink, free_port, venv_binary

OUTAGE = float(os.environ.get("CASEFLOW_TEST_OUTAGE_SECONDS", "10"))
# Mail that arrives while the server is away: a few messages, more for a longer outage.
DURING = 5 + int(OUTAGE // 30)
# The intake's reconnect backoff at most: the loop is back within about this after an outage.
BACKOFF_MAX = timedelta(seconds=2)
# How long recovery may take once the server is back, at most (it takes seconds): generous
# for a loaded machine, and longer after a longer outage (clients back off while it lasts).
RECOVERY = 60.0 + OUTAGE / 5

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.slow,
    pytest.mark.timeout(int(OUTAGE + 3 * RECOVERY + 120)),
]
desk = test_intake.desk  # the fixture


async def keep_mail_coming(deliver: Callable[[bytes], None], raws: list[bytes]) -> None:
    """Deliver the messages one by one, evenly over the outage; returns as it ends."""
    pause = OUTAGE / (len(raws) + 1)
    for raw in raws:
        await asyncio.sleep(pause)
        await asyncio.to_thread(deliver, raw)
    await asyncio.sleep(pause)


def report(what: str, seconds: float) -> None:
    print(f"outage of {OUTAGE:.0f} s: {what} {seconds:.1f} s after it ended")  # noqa: T201


# -- IMAP away ------------------------------------------------------------------------------------


async def test_mail_arriving_while_imap_is_away_becomes_one_case_each_once_it_is_back(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    settings = desk.settings.model_copy(update={"imap_reconnect_backoff_max": BACKOFF_MAX})
    intake = Intake(settings, desk.harness.sessions, desk.env.client)
    before = desk.customer_mail(customer(), "Before the outage")
    during = [desk.customer_mail(customer(), f"During the outage {i}") for i in range(DURING)]
    after = desk.customer_mail(customer(), "After the outage")
    async with running(intake) as task:
        desk.deliver(before)
        await eventually(lambda: desk.count(PROCESSED) == 1, timeout=RECOVERY)
        await asyncio.to_thread(desk.dovecot.stop)
        try:
            # The mail server's delivery agent goes on writing into the Maildir.
            await keep_mail_coming(lambda raw: desk.dovecot.drop_in(desk.address, raw), during)
            assert not task.done(), "the intake loop gave up during the outage"
        finally:
            await asyncio.to_thread(desk.dovecot.start)  # the session's server: always back
        back = time.monotonic()
        desk.deliver(after)
        await eventually(lambda: desk.count(PROCESSED) == DURING + 2, timeout=RECOVERY)
        report("every message was taken in", time.monotonic() - back)
    assert task.done() and task.exception() is None
    retries = [r for r in caplog.records if r.name == "caseflow.intake.service"]
    assert any(r.levelname == "WARNING" and "retrying" in r.message for r in retries)
    await eventually(lambda: desk.case_count() == DURING + 2, timeout=RECOVERY)
    everything = [before, *during, after]
    assert_each_message_once(desk, everything)
    await desk.harness.settled()
    assert [len(desk.acks_to(sender_of(raw))) for raw in everything] == [1] * len(everything)


# -- Temporal away --------------------------------------------------------------------------------


class RestartableTemporal:
    """A Temporal dev server of this test's own on a fixed port with a database file, so that it
    can be stopped and started again with its workflows; `client` stays connected throughout
    (it reconnects by itself), as a worker's or an intake's does."""

    def __init__(self, database: Path) -> None:
        self.port = free_port()
        self.database = database
        self._env: WorkflowEnvironment | None = None
        self._first: WorkflowEnvironment | None = None

    @property
    def env(self) -> WorkflowEnvironment:
        assert self._first is not None, "never started"
        return self._first

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self) -> None:
        if self._env is not None:
            return
        self._env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            port=self.port,
            dev_server_database_filename=str(self.database),
            search_attributes=search.ALL_KEYS,
            data_converter=DATA_CONVERTER,
            dev_server_log_level="error",
        )
        self._first = self._first or self._env

    async def stop(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            await env.shutdown()


@pytest.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[RestartableTemporal]:
    server = RestartableTemporal(tmp_path / "temporal.db")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def desk_of_its_own_temporal(
    dovecot: Dovecot, temporal: RestartableTemporal, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Desk]:
    address = dovecot.new_user()
    mine = reading(dovecot, settings, address, imap_reconnect_backoff_max=BACKOFF_MAX)
    async with running_worker(temporal.client, mine, smtp_sink) as harness:
        yield Desk(dovecot, address, temporal.env, harness)


async def test_mail_arriving_while_temporal_is_away_stays_in_inbox_and_becomes_one_case_each(
    desk_of_its_own_temporal: Desk, temporal: RestartableTemporal
) -> None:
    desk = desk_of_its_own_temporal
    intake = desk.intake()
    before = desk.customer_mail(customer(), "Before the outage")
    during = [desk.customer_mail(customer(), f"During the outage {i}") for i in range(DURING)]
    async with running(intake) as task:
        desk.deliver(before)
        await eventually(lambda: desk.count(PROCESSED) == 1, timeout=RECOVERY)
        await temporal.stop()
        await keep_mail_coming(desk.deliver, during)
        assert not task.done(), "the intake loop gave up during the outage"
        # The intake read what came and tried to hand it off (its rows are there), but nothing
        # was handed off: everything that came is still in INBOX, none of it delivered.
        assert desk.count("INBOX") == DURING
        statuses = [r.status for r in desk.inbound()]
        assert len(statuses) > 1 and statuses.count(messages.DELIVERED) == 1
        await temporal.start()
        back = time.monotonic()
        await eventually(lambda: desk.count(PROCESSED) == DURING + 1, timeout=RECOVERY)
        report("every message was handed off", time.monotonic() - back)
    assert task.done() and task.exception() is None
    await eventually(lambda: desk.case_count() == DURING + 1, timeout=RECOVERY)
    everything = [before, *during]
    assert_each_message_once(desk, everything)
    await desk.harness.settled()
    assert [len(desk.acks_to(sender_of(raw))) for raw in everything] == [1] * len(everything)
    report("every case was recorded and acknowledged", time.monotonic() - back)


def sender_of(raw: bytes) -> str:
    return parse(raw).sender
