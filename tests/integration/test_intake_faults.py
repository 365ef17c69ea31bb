"""The intake under faults: killed mid-flight, racing itself, servers going away, UIDVALIDITY."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient

from caseflow.intake.mailbox import PROCESSED
from caseflow.intake.parse import parse
from caseflow.intake.service import Intake
from caseflow.store import cases, messages
from caseflow.store.db import transaction
from caseflow.store.models import CaseEvent
from tests.integration import test_intake
from tests.integration.test_intake import (
    Desk,
    customer,
    eventually,
    running,
)
from tests.support.harness import GOLD_CUSTOMER

pytestmark = pytest.mark.dovecot
desk = test_intake.desk  # the fixture

ROOT = Path(__file__).resolve().parents[2]


# -- helpers --------------------------------------------------------------------------------------


def intake_environment(desk: Desk, log: Path) -> dict[str, str]:
    """CASEFLOW_* variables that point `caseflow intake` at this test's desk."""
    s = desk.settings
    target = desk.env.client.service_client.config.target_host
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    env.update(
        {
            "CASEFLOW_HOME": str(s.home),
            "CASEFLOW_DATABASE_URL": s.effective_database_url,
            "CASEFLOW_TEMPORAL_ADDRESS": target,
            "CASEFLOW_TASK_QUEUE": s.task_queue,
            "CASEFLOW_SUPPORT_ADDRESS": s.support_address,
            "CASEFLOW_IMAP_HOST": s.imap_host,
            "CASEFLOW_IMAP_PORT": str(s.imap_port),
            "CASEFLOW_IMAP_USER": s.imap_login,
            "CASEFLOW_IMAP_PASSWORD": s.imap_password.get_secret_value(),
            "CASEFLOW_IMAP_POLL_INTERVAL": "PT1S",
            "CASEFLOW_SMTP_PORT": str(s.smtp_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@contextlib.contextmanager
def intake_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m caseflow.cli intake`, killed (SIGKILL) on the way out if still alive."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "caseflow.cli", "intake"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def email_events(desk: Desk) -> Counter[str]:
    """How many `email_in` events each email key has, over every case."""
    with transaction(desk.harness.sessions) as session:
        keys = session.scalars(
            CaseEvent.__table__.select()
            .with_only_columns(CaseEvent.email_key)
            .where(CaseEvent.kind == "email_in", CaseEvent.email_key.is_not(None))
        )
        return Counter(str(k) for k in keys)


def assert_each_message_once(desk: Desk, raws: list[bytes]) -> None:
    """Every message: one inbound row, delivered, one case (new mail) and one email event."""
    keys = [parse(raw).dedup_key for raw in raws]
    rows = {row.dedup_key: row for row in desk.inbound()}
    assert set(rows) == set(keys)
    assert {row.status for row in rows.values()} == {messages.DELIVERED}
    numbers = [rows[key].case_number for key in keys]
    assert len(set(numbers)) == len(raws)  # each opened its own case
    assert desk.case_count() == len(raws)
    events = email_events(desk)
    assert {key: events[key] for key in keys} == dict.fromkeys(keys, 1)
    assert desk.count("INBOX") == 0
    processed = desk.message_ids_in(PROCESSED)
    assert sorted(processed) == sorted(parse(raw).message_id for raw in raws)


# -- (a) the real process, killed at random moments -----------------------------------------------


@pytest.mark.slow
async def test_intake_process_killed_at_random_moments_makes_each_case_once(
    desk: Desk, tmp_path: Path
) -> None:
    assert desk.settings.intake_concurrency == 8  # the intake process runs with the default
    senders = [customer() for _ in range(40)]
    raws = [desk.customer_mail(s, f"Question {i}") for i, s in enumerate(senders)]
    desk.deliver(*raws)
    log = tmp_path / "intake.log"
    env = intake_environment(desk, log)
    seed = os.environ.get("CASEFLOW_TEST_SEED") or str(time.time_ns())
    print(f"kill times from seed {seed} (CASEFLOW_TEST_SEED={seed} repeats them)")  # noqa: T201
    rng = random.Random(seed)
    kills = 0
    while kills < 6 and desk.count("INBOX"):
        with intake_process(env, log) as process:
            # Python and the Temporal client take about a second to start; kill somewhere
            # while it works through the mailbox.
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            process.send_signal(signal.SIGKILL)
            kills += 1
    started = log.stat().st_size
    with intake_process(env, log) as process:
        # SIGTERM is handled once the command runs; before that it would just kill Python.
        await eventually(lambda: b"intake reading" in log.read_bytes()[started:], timeout=30)
        try:
            await eventually(lambda: desk.count("INBOX") == 0, timeout=30)
        except AssertionError:
            raise AssertionError(log.read_text()[-5000:]) from None
        await eventually(lambda: desk.case_count() == len(raws), timeout=15)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.read_text()[-3000:]

    assert kills >= 1
    assert_each_message_once(desk, raws)
    await eventually(lambda: all(desk.acks_to(s) for s in senders), timeout=20)
    assert [len(desk.acks_to(s)) for s in senders] == [1] * len(senders)


# -- (b) three `run` loops on one mailbox ---------------------------------------------------


async def test_three_running_intakes_on_one_mailbox_make_each_case_once(desk: Desk) -> None:
    assert desk.settings.intake_concurrency == 8  # each takes eight messages in at once
    senders = [customer() for _ in range(30)]
    raws = [desk.customer_mail(s, f"Question {i}") for i, s in enumerate(senders)]
    async with running(desk.intake()), running(desk.intake()), running(desk.intake()):
        desk.deliver(*raws[:15])
        await asyncio.sleep(0.3)
        desk.deliver(*raws[15:])
        await eventually(lambda: desk.count(PROCESSED) == len(raws), timeout=20)
        await asyncio.sleep(0.5)  # any late duplicate copy would show up now
    await eventually(lambda: desk.case_count() == len(raws))
    assert_each_message_once(desk, raws)
    await eventually(lambda: all(desk.acks_to(s) for s in senders))
    assert [len(desk.acks_to(s)) for s in senders] == [1] * len(senders)


# -- (d) UIDVALIDITY changes under a running intake ----------------------------------------


async def test_a_folder_recreated_with_a_new_uidvalidity_loses_and_duplicates_nothing(
    desk: Desk,
) -> None:
    folder = "Support"
    with desk.dovecot.connect(desk.address) as client:
        client.create_folder(folder)
    settings = desk.settings.model_copy(
        update={"imap_folder": folder, "imap_reconnect_backoff_max": timedelta(seconds=1)}
    )
    intake = Intake(settings, desk.harness.sessions, desk.env.client)
    first = [desk.customer_mail(customer(), f"Early {i}") for i in range(5)]
    later = [desk.customer_mail(customer(), f"Late {i}") for i in range(5)]
    async with running(intake):
        append(desk, folder, first)
        await eventually(lambda: desk.count(PROCESSED) == 5)
        before = uidvalidity(desk, folder)
        # The server "loses" the folder: recreated with the old messages delivered again.
        with desk.dovecot.connect(desk.address) as client:
            client.delete_folder(folder)
            client.create_folder(folder)
        append(desk, folder, first + later)
        assert uidvalidity(desk, folder) != before
        await eventually(lambda: desk.count(folder) == 0, timeout=30)
    await eventually(lambda: desk.case_count() == 10)
    rows = desk.inbound()
    assert len(rows) == 10 and {r.status for r in rows} == {messages.DELIVERED}
    events = email_events(desk)
    assert all(events[parse(raw).dedup_key] == 1 for raw in first + later)
    # The redelivered copies are byte-identical to the ones already in Processed.
    assert sorted(desk.message_ids_in(PROCESSED)) == sorted(
        parse(raw).message_id for raw in first + later
    )


def append(desk: Desk, folder: str, raws: list[bytes]) -> None:
    with desk.dovecot.connect(desk.address) as client:
        for raw in raws:
            client.append(folder, raw)


def uidvalidity(desk: Desk, folder: str) -> int:
    with desk.dovecot.connect(desk.address) as client:
        status = client.folder_status(folder, [b"UIDVALIDITY"])
    return int(status[b"UIDVALIDITY"])


# -- a server outage ------------------------------------------------------------------------------
# Longer outages, the IMAP server's and Temporal's, while mail keeps arriving: test_outages.py.


def test_a_connection_lost_mid_idle_is_noticed_within_the_poll_interval(desk: Desk) -> None:
    from caseflow.intake.mailbox import Mailbox
    from caseflow.intake.service import mailbox_config

    mailbox = Mailbox(mailbox_config(desk.settings))
    mailbox.connect()
    try:
        client: IMAPClient = mailbox.client
        started = time.monotonic()
        # Cut the socket under IDLE, as a dead NAT or a vanished server would.
        client.socket().shutdown(2)
        with pytest.raises(Exception):  # noqa: B017  (imaplib.abort, OSError: either will do)
            mailbox.wait_for_mail(2.0, lambda: False)
            mailbox.pending()
        assert time.monotonic() - started < 3
    finally:
        mailbox.close()


# -- (c) one message through two mailboxes --------------------------------------------------------


async def test_a_resend_through_a_second_mailbox_makes_one_case(desk: Desk) -> None:
    second = desk.dovecot.new_user()
    settings = desk.settings.model_validate(
        {**desk.settings.model_dump(), "mailboxes": [{"address": second, "queue": "gold"}]}
    )
    [main_box, other_box] = settings.intake_mailboxes()
    ada = customer()
    raw = desk.customer_mail(ada)
    desk.deliver(raw)
    resent = raw.replace(b"Subject:", b"Received: from relay.example; Mon, 1 Jan 2024\r\nSubject:")
    desk.dovecot.deliver(second, resent)

    intakes = [
        Intake(settings, desk.harness.sessions, desk.env.client, box=box)
        for box in (main_box, other_box)
    ]
    outcomes = []
    for intake in intakes:
        await asyncio.to_thread(intake.mailbox.connect)
        try:
            outcomes += await intake.drain()
        finally:
            await asyncio.to_thread(intake.mailbox.close)

    assert [o.detail for o in outcomes] == ["new", "already delivered"]
    assert outcomes[0].case_number == outcomes[1].case_number
    assert desk.dovecot.count(second, "INBOX") == 0
    await eventually(lambda: desk.acks_to(ada))
    assert desk.case_count() == 1 and len(desk.acks_to(ada)) == 1


# -- several mailboxes, each with its routing defaults ------------------------------------------


async def test_each_mailbox_opens_cases_with_its_own_defaults(desk: Desk) -> None:
    billing = desk.dovecot.new_user()
    settings = desk.settings.model_validate(
        {
            **desk.settings.model_dump(),
            "mailboxes": [
                {
                    "address": billing,
                    "imap_password": desk.dovecot.password(billing),
                    "queue": "escalations",
                    "priority": 2,
                    "product": "billing",
                }
            ],
        }
    )
    ada, bob = customer(), customer()
    desk.deliver(desk.customer_mail(ada, "Printer on fire"))
    desk.dovecot.deliver(billing, desk.customer_mail(bob, "Invoice question"))
    # A routing rule that matches (Acme Gold customers → gold) wins over the mailbox's queue.
    desk.dovecot.deliver(billing, desk.customer_mail(GOLD_CUSTOMER, "Invoice too"))
    intakes = [
        Intake(settings, desk.harness.sessions, desk.env.client, box=box)
        for box in settings.intake_mailboxes()
    ]
    async with running(intakes[0]), running(intakes[1]):
        await eventually(lambda: desk.case_count() == 3)
    with transaction(desk.harness.sessions) as session:
        listed = cases.list_cases(session, cases.CaseFilter(), limit=10, offset=0)[0]
        found = {c.customer_email: c for c in listed}
        by_customer = {
            email: (c.mailbox, c.queue, c.priority, c.product) for email, c in found.items()
        }
    assert by_customer[bob] == (billing, "escalations", 2, "billing")
    assert by_customer[ada][0] == desk.address
    assert by_customer[ada][1] != "escalations"
    assert by_customer[GOLD_CUSTOMER] == (billing, "gold", 2, "billing")
