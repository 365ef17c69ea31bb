"""The intake against the development mail server (aiosmtpd in, pymap out), as `make run` has it."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from caseflow.devstack.mailserver import PASSWORD, DevMailServer
from caseflow.intake.mailbox import PROCESSED
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import transaction
from tests.integration.test_intake import eventually, running
from tests.support.harness import Harness, running_worker
from tests.support.servers import SlowLink, SmtpSink, free_port
from tests.unit.emails import message

SUPPORT = "support@caseflow.test"


@pytest.fixture
def devmail(tmp_path: Path) -> Iterator[DevMailServer]:
    server = DevMailServer(tmp_path / "mail", smtp_port=free_port(), imap_port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["direct", "slow link"])
def imap_port(request: pytest.FixtureRequest, devmail: DevMailServer) -> Iterator[int]:
    """pymap's port, or a relay that hands its responses on in the pieces pymap writes them."""
    if request.param == "direct":
        yield devmail.imap_port
        return
    link = SlowLink(devmail.imap_port)
    link.start()
    yield link.port
    link.stop()


@pytest.fixture
async def desk(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink, imap_port: int
) -> AsyncIterator[Harness]:
    reading = settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": imap_port,
            "support_address": SUPPORT,
            "imap_user": SUPPORT,
            "imap_password": SecretStr(PASSWORD),
            "imap_poll_interval": timedelta(seconds=60),  # only IDLE can tell it in time
        }
    )
    async with running_worker(dev_env.client, reading, smtp_sink) as harness:
        yield harness


def send_burst(server: DevMailServer, count: int) -> None:
    """`count` first emails from as many customers, over one SMTP connection."""
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        for number in range(count):
            sender = f"ada-{uuid.uuid4().hex[:8]}@customer.example"
            raw = message(
                sender=sender,
                subject=f"Question {number}",
                message_id=f"<{uuid.uuid4().hex}@customer.example>",
            )
            smtp.sendmail(sender, [SUPPORT], raw)


def case_count(desk: Harness) -> int:
    with transaction(desk.sessions) as session:
        return cases.list_cases(session, cases.CaseFilter(), limit=1, offset=0)[1]


def idling(intake: Intake) -> threading.Event:
    """Set each time the intake starts waiting for mail (the test clears it)."""
    started = threading.Event()
    wait = intake.mailbox.wait_for_mail

    def noted(*args: object, **kwargs: object) -> None:
        started.set()
        wait(*args, **kwargs)  # type: ignore[arg-type]

    intake.mailbox.wait_for_mail = noted  # type: ignore[method-assign]
    return started


async def test_bursts_of_mail_while_the_intake_idles_all_become_cases_without_interruption(
    desk: Harness, devmail: DevMailServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="caseflow.intake")
    intake = Intake(desk.settings, desk.sessions, desk.client)
    waiting = idling(intake)
    async with running(intake):
        for burst in range(1, 4):
            assert await asyncio.to_thread(waiting.wait, 30)
            await asyncio.sleep(0.5)  # past its last look at INBOX: in IDLE now
            waiting.clear()
            await asyncio.to_thread(send_burst, devmail, 10)
            await eventually(lambda: case_count(desk) == 10 * burst, timeout=60)  # noqa: B023
    interruptions = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert interruptions == []
    assert [r.getMessage() for r in caplog.records].count(f"intake reading {SUPPORT}") == 1
    assert (messages_in(devmail, "INBOX"), messages_in(devmail, PROCESSED)) == (0, 30)


def messages_in(server: DevMailServer, folder: str) -> int:
    with IMAPClient(server.host, port=server.imap_port, ssl=False, timeout=10) as client:
        client.login(SUPPORT, PASSWORD)
        return int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
