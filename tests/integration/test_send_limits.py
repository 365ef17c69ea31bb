"""Per-address limits on automatic email hold when emails to one address are sent at the same
moment: the limit is counted as each email's outbox row is created, one address at a time (an
advisory lock on PostgreSQL, SQLite's one writer), not read earlier by the case that sends it.
The outbox on SQLite and PostgreSQL from threads, the intake's notices, and two intakes opening
two cases of one sender at once against Dovecot, the Temporal dev server and an SMTP sink."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from caseflow.intake import notices
from caseflow.intake.parse import parse
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store import cases, messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import OutboundEmail, utcnow
from caseflow.worker import Activities
from caseflow.workflows.model import (
    ActivityName,
    CaseContext,
    ContextRequest,
    EmailOutcome,
    EmailRequest,
)
from tests.integration.test_intake import Desk, connected, eventually
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import running_worker
from tests.support.servers import SmtpSink
from tests.unit.emails import message

WAIT = 30.0  # seconds for what the test is sure will happen


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def an_address() -> str:
    return f"ada-{uuid.uuid4().hex[:8]}@customer.example"


def ack_row(key: str, address: str, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "case_number": key.partition(":")[0],
        "message_id": f"<{uuid.uuid4().hex}@caseflow.test>",
        "template": "ack",
        "audience": "customer",
        "recipients": [address],
        "to_address": address,
        "subject": "We received your request",
        **more,
    }


def send_within(
    db: sessionmaker[Session], key: str, address: str, limit: int, send: Callable[[], object]
) -> messages.Delivery:
    return messages.send_once_within(
        db,
        ack_row(key, address),
        send,
        messages.SendLimit(limit),
        permanent=(ValueError,),
        again_after_failure=True,
    )


def outbox_of(db: sessionmaker[Session], address: str) -> list[str]:
    with transaction(db, writes=False) as session:
        query = select(OutboundEmail.status).where(OutboundEmail.to_address == address)
        return sorted(session.scalars(query))


# -- the outbox -----------------------------------------------------------------------------------


def test_of_eight_emails_to_one_address_at_once_with_a_limit_of_three_three_go_out(
    db: sessionmaker[Session],
) -> None:
    address, attempts = an_address(), 8
    start = threading.Barrier(attempts)
    sent: list[str] = []

    def attempt(n: int) -> messages.Delivery | messages.LimitReached:
        key = f"CAS-{n:06d}:ack"

        def send() -> None:
            time.sleep(0.05)  # a mail server's pace: the others are counting meanwhile
            sent.append(key)

        start.wait(WAIT)
        try:
            return send_within(db, key, address, 3, send)
        except messages.LimitReached as reached:
            return reached

    with ThreadPoolExecutor(attempts) as pool:
        results = list(pool.map(attempt, range(attempts)))

    assert len(sent) == 3
    assert results.count(messages.Delivery.SENT_NOW) == 3
    withheld = [r for r in results if isinstance(r, messages.LimitReached)]
    assert [(r.sent, r.limit) for r in withheld] == [(3, 3)] * 5
    assert outbox_of(db, address) == ["sent"] * 3  # a withheld email keeps no row


def test_a_retried_email_is_neither_counted_again_nor_refused_because_of_itself(
    db: sessionmaker[Session],
) -> None:
    address, first, other = an_address(), "CAS-000001:ack", "CAS-000002:ack"

    def mail_server_away() -> None:
        raise ConnectionRefusedError("mail server away")

    with pytest.raises(ConnectionRefusedError):
        send_within(db, first, address, 1, mail_server_away)
    # The first email holds the address's one slot while it waits for its retry.
    with pytest.raises(messages.LimitReached):
        send_within(db, other, address, 1, lambda: None)

    assert send_within(db, first, address, 1, lambda: None) is messages.Delivery.SENT_NOW
    assert send_within(db, first, address, 1, lambda: None) is messages.Delivery.SENT_BEFORE
    assert outbox_of(db, address) == ["sent"]


def test_an_email_that_failed_for_good_or_left_the_window_frees_its_slot(
    db: sessionmaker[Session],
) -> None:
    address = an_address()
    with transaction(db) as session:
        old = ack_row("CAS-000001:ack", address, created_at=utcnow() - timedelta(hours=25))
        messages.add_to_outbox(session, old)

    def refused_for_good() -> None:
        raise ValueError("550 no such user")

    with pytest.raises(ValueError, match="550"):
        send_within(db, "CAS-000002:ack", address, 1, refused_for_good)
    assert send_within(db, "CAS-000003:ack", address, 1, lambda: None) is messages.Delivery.SENT_NOW
    with pytest.raises(messages.LimitReached) as reached:
        send_within(db, "CAS-000004:ack", address, 1, lambda: None)
    assert (reached.value.sent, reached.value.limit) == (1, 1)


# -- the intake's notices -------------------------------------------------------------------------


def test_two_refusal_notices_to_one_address_at_once_with_a_limit_of_one_send_one(
    database_url: str, db: sessionmaker[Session], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=database_url, smtp_port=smtp_sink.port)
    address = an_address()
    refused = [
        notices.refused_notice(
            parse(message(sender=address, message_id=f"<{uuid.uuid4().hex}@x.test>")),
            "unknown_sender",
        )
        for _ in range(2)
    ]
    start = threading.Barrier(2)

    def notify(notice: notices.Notice) -> bool | messages.LimitReached:
        start.wait(WAIT)
        try:
            return notices.send_notice(settings, db, notice, limit=messages.SendLimit(1))
        except messages.LimitReached as reached:
            return reached

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(notify, refused))

    assert True in results
    [withheld] = [r for r in results if isinstance(r, messages.LimitReached)]
    assert (withheld.sent, withheld.limit) == (1, 1)
    assert len(smtp_sink.sent_to(address)) == 1


# -- two intakes, two new cases of one sender at the same moment ---------------------------------


class ContextsFirst:
    """The email activity waits until `expected` case contexts have been read: every case has
    counted the acknowledgements already sent (none) before any is sent, the race the limit
    must hold in. The real activities otherwise."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.contexts: list[CaseContext] = []
        self.all_read = threading.Event()

    def swap(self, real: Activities) -> Activities:
        load, send = real[ActivityName.LOAD_CASE_CONTEXT], real[ActivityName.SEND_EMAIL]

        @activity.defn(name=ActivityName.LOAD_CASE_CONTEXT)
        def load_case_context(request: ContextRequest) -> CaseContext:
            context: CaseContext = load(request)
            self.contexts.append(context)
            if len(self.contexts) >= self.expected:
                self.all_read.set()
            return context

        @activity.defn(name=ActivityName.SEND_EMAIL)
        def send_email(request: EmailRequest) -> EmailOutcome:
            self.all_read.wait(WAIT)
            outcome: EmailOutcome = send(request)
            return outcome

        return {
            **real,
            ActivityName.LOAD_CASE_CONTEXT: load_case_context,
            ActivityName.SEND_EMAIL: send_email,
        }


@pytest.fixture
async def two_desks(
    dovecot: Dovecot,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
) -> AsyncIterator[tuple[Desk, list[Intake], ContextsFirst]]:
    """Two support mailboxes on one database (SQLite or PostgreSQL), an intake for each, and a
    worker whose emails wait until two case contexts have been read."""
    first, second = dovecot.new_user(), dovecot.new_user()
    mine = reading(dovecot, settings, first, database_url=database_url, ack_limit_per_day=1)
    both = mine.model_validate(
        {
            **mine.model_dump(),
            "mailboxes": [{"address": second, "imap_password": dovecot.password(second)}],
        }
    )
    held = ContextsFirst(expected=2)
    async with running_worker(dev_env.client, both, smtp_sink, swap=held.swap) as harness:
        desk = Desk(dovecot, first, dev_env, harness)
        intakes = [
            Intake(both, harness.sessions, dev_env.client, box=box)
            for box in both.intake_mailboxes()
        ]
        yield desk, intakes, held


@pytest.mark.dovecot
async def test_two_cases_of_one_sender_opened_at_once_send_one_acknowledgement_at_a_limit_of_one(
    two_desks: tuple[Desk, list[Intake], ContextsFirst],
) -> None:
    desk, intakes, held = two_desks
    ada = an_address()
    for intake in intakes:
        desk.dovecot.deliver(intake.box.address, desk.customer_mail(ada, to=intake.box.address))

    async def drain(intake: Intake) -> str:
        async with connected(intake):
            [outcome] = await intake.drain()
        assert outcome.case_number is not None
        return outcome.case_number

    numbers = await asyncio.gather(*(drain(intake) for intake in intakes))
    await desk.harness.settled(*numbers)

    assert len(set(numbers)) == 2 and all(desk.case(n) for n in numbers)
    # Both cases counted no acknowledgement before either was sent: the send-time count decided.
    assert [c.acks_sent_today for c in held.contexts] == [0, 0]
    assert len(desk.acks_to(ada)) == 1
    suppressed = await eventually(lambda: suppressed_acks(desk, numbers), timeout=WAIT)
    assert list(suppressed.values()) == [
        "No acknowledgement: 1 already sent to this address in 24 h (limit 1)"
    ]
    [withheld] = suppressed
    [acknowledged] = set(numbers) - {withheld}
    with transaction(desk.harness.sessions, writes=False) as session:
        assert [(e.template, e.status) for e in messages.case_outbox(session, acknowledged)] == [
            ("ack", "sent")
        ]
        assert messages.case_outbox(session, withheld) == []


def suppressed_acks(desk: Desk, numbers: list[str]) -> dict[str, str]:
    """The cases whose timeline says their acknowledgement was not sent, and what it says."""
    with transaction(desk.harness.sessions, writes=False) as session:
        return {
            n: e.summary
            for n in numbers
            for e in cases.case_events(session, n)
            if e.kind == "ack_suppressed"
        }
