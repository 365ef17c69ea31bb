"""An email goes out once however many attempts overlap: the case workflows' `send_email` and
the intake's notices both claim their outbox row before sending. The email activity (run in
Temporal's ActivityEnvironment) and the notices over SQLite and PostgreSQL, into an aiosmtpd
sink that can hold a message at DATA, as a slow mail server does."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from caseflow.activities.email import EmailActivities
from caseflow.intake import notices
from caseflow.intake.parse import parse
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import utcnow
from caseflow.workflows.model import EmailRequest, Recipients
from tests.support.servers import SmtpSink, free_port
from tests.unit.emails import message

T = TypeVar("T")
CUSTOMER = "carol@globex.example"
HELD = 20.0  # at most this long: a test opens the gate well before


class GatedSink(SmtpSink):
    """An SMTP sink whose server holds each message at DATA until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.at_data = threading.Semaphore(0)  # released once per message held at DATA
        self._controller = Controller(_Gated(self), hostname="127.0.0.1", port=self.port)


class _Gated:
    def __init__(self, sink: GatedSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self._sink.at_data.release()
        await asyncio.to_thread(self._sink.gate.wait, HELD)
        self._sink.received(list(envelope.rcpt_tos), bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[GatedSink]:
    sink = GatedSink()
    sink.start()
    yield sink
    sink.gate.set()
    sink.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def mail_settings(database_url: str, sink: GatedSink, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, smtp_port=sink.port)


def reply(key: str = "") -> EmailRequest:
    return EmailRequest(
        key=key or f"CAS-000042:reply:{uuid.uuid4().hex}",
        case_number="CAS-000042",
        template="reply",
        to=Recipients(addresses=[CUSTOMER]),
        subject="Printer on fire",
        context={
            "customer_name": "Carol",
            "case_subject": "Printer on fire",
            "body": "Unplug it.",
            "agent": "ann",
        },
        auto_submitted="no",
    )


def send_email(settings: Settings, db: sessionmaker[Session], request: EmailRequest) -> None:
    """One attempt of the activity, as a worker runs it (in a thread of its own)."""
    ActivityEnvironment().run(EmailActivities(db, settings).send_email, request)


def in_flight(pool: ThreadPoolExecutor, sink: GatedSink, work: Callable[[], T]) -> Future[T]:
    """Start `work`, and return once its message is held at DATA: it is sending."""
    future = pool.submit(work)
    assert sink.at_data.acquire(timeout=HELD), "the first attempt never reached DATA"
    return future


def outcome(future: Future[Any], timeout: float = 5.0) -> object:
    """What the attempt came to: its result, or the exception it raised; "stuck" while it is
    still sending (held at DATA) after `timeout` seconds."""
    try:
        return future.result(timeout=timeout)
    except TimeoutError:
        return "stuck"
    except Exception as err:
        return err


def status_of(db: sessionmaker[Session], key: str) -> str | None:
    with transaction(db, writes=False) as session:
        return messages.outbox_status(session, key)


# -- the workflows' emails ------------------------------------------------------------------------


def test_an_attempt_overlapping_one_still_sending_sends_nothing_and_is_retried_later(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    request = reply()
    with ThreadPoolExecutor(2) as pool:
        first = in_flight(pool, sink, lambda: send_email(mail_settings, db, request))
        # A retry after a timeout without heartbeats, or a second worker: the first still runs.
        second = outcome(pool.submit(send_email, mail_settings, db, request))
        sink.gate.set()
        assert outcome(first) is None

    assert isinstance(second, ApplicationError) and second.type == "EmailBeingSent"
    assert not second.non_retryable
    assert len(sink.sent_to(CUSTOMER)) == 1
    assert status_of(db, request.key) == "sent"


def test_the_retry_after_the_email_went_out_sends_nothing(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    request = reply()
    sink.gate.set()
    send_email(mail_settings, db, request)

    send_email(mail_settings, db, request)

    assert len(sink.sent_to(CUSTOMER)) == 1


def test_the_email_of_an_attempt_that_crashed_while_sending_goes_out_once_its_claim_expires(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    request, crashed = reply(), reply()
    sink.gate.set()
    for email, claimed_at in (
        (request, utcnow()),
        (crashed, utcnow() - messages.CLAIM_LEASE - timedelta(seconds=1)),
    ):
        with transaction(db) as session:
            messages.add_to_outbox(session, outbox_row(email.key))
            messages.claim_email(
                session, email.key, claimed_at, messages.CLAIM_LEASE, again_after_failure=True
            )

    with pytest.raises(ApplicationError, match="being sent"):
        send_email(mail_settings, db, request)
    send_email(mail_settings, db, crashed)

    assert len(sink.sent_to(CUSTOMER)) == 1
    assert (status_of(db, request.key), status_of(db, crashed.key)) == ("sending", "sent")


def test_a_mail_server_away_puts_the_email_back_for_the_retry(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    request = reply()
    sink.gate.set()
    away = mail_settings.model_copy(update={"smtp_port": free_port()})
    with pytest.raises(Exception, match="Connection refused|ConnectionRefused"):
        send_email(away, db, request)
    assert status_of(db, request.key) == "pending"

    send_email(mail_settings, db, request)

    assert len(sink.sent_to(CUSTOMER)) == 1


def outbox_row(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "case_number": "CAS-000042",
        "message_id": f"<{uuid.uuid4().hex}@caseflow.test>",
        "template": "reply",
        "audience": "customer",
        "recipients": [CUSTOMER],
        "to_address": CUSTOMER,
        "subject": "[CAS-000042] Printer on fire",
    }


# -- the intake's notices -------------------------------------------------------------------------


def refused_notice() -> notices.Notice:
    return notices.refused_notice(
        parse(message(sender=CUSTOMER, message_id=f"<{uuid.uuid4().hex}@x.test>")),
        "unknown_sender",
    )


def test_two_intakes_sending_one_notice_at_once_send_it_once(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    notice = refused_notice()
    with ThreadPoolExecutor(2) as pool:
        first = in_flight(pool, sink, lambda: notices.send_notice(mail_settings, db, notice))
        second = outcome(pool.submit(notices.send_notice, mail_settings, db, notice))
        sink.gate.set()
        assert outcome(first) is True

    # The other intake leaves the message for its next pass, which finds the notice sent.
    assert isinstance(second, messages.ClaimHeld)
    assert notices.send_notice(mail_settings, db, notice) is False
    assert len(sink.sent_to(CUSTOMER)) == 1
    assert status_of(db, notice.key) == "sent"


def test_a_notice_takes_the_same_claim_as_the_workflows_emails(
    mail_settings: Settings, db: sessionmaker[Session], sink: GatedSink
) -> None:
    notice = refused_notice()
    with transaction(db) as session:
        messages.add_to_outbox(session, outbox_row(notice.key))
        messages.claim_email(
            session, notice.key, utcnow(), messages.CLAIM_LEASE, again_after_failure=False
        )

    with pytest.raises(messages.ClaimHeld):
        notices.send_notice(mail_settings, db, notice)

    assert sink.sent_to(CUSTOMER) == []
