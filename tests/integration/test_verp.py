"""VERP against real servers: each recipient of our email gets it in an SMTP transaction of
their own, from an envelope sender naming the email and them; a bounce that quotes nothing of
it, delivered by a mail server (Dovecot's LMTP, plus addressing) to that address, lands in the
support INBOX and on its case, for that recipient."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from caseflow import signing
from caseflow.activities.email import EmailActivities
from caseflow.intake import notices
from caseflow.intake.parse import parse
from caseflow.mail import smtp, verp
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.store.db import transaction
from caseflow.workflows.model import EmailRequest, Recipients
from tests.integration.test_intake import Desk, customer, eventually, new_case_with_ack, running
from tests.integration.test_noise import desk_beside, email_status, events
from tests.support.dovecot import Dovecot
from tests.support.servers import SmtpSink
from tests.unit.emails import message

NUMBER = "CAS-000042"
ANA, BOB = "ana@customer.example", "bob@customer.example"


class PickySink(SmtpSink):
    """A customer's mail server that defers (451) or refuses (550) chosen recipients at RCPT."""

    def __init__(self) -> None:
        super().__init__()
        self.defer_once: set[str] = set()
        self.refuse: set[str] = set()
        self.refuse_tokened_senders = False  # a submission server that allows no `+` sender
        self._controller = Controller(_Picky(self), hostname="127.0.0.1", port=self.port)


class _Picky:
    def __init__(self, sink: PickySink) -> None:
        self._sink = sink

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._sink.refuse_tokened_senders and "+" in address:
            return "553 5.7.1 sender address not owned by the user"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self._sink.refuse:
            return "550 5.1.1 user unknown"
        if address in self._sink.defer_once:
            self._sink.defer_once.discard(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self._sink.enveloped(envelope.mail_from or "", list(envelope.rcpt_tos))
        self._sink.received(list(envelope.rcpt_tos), bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def picky() -> Iterator[PickySink]:
    sink = PickySink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_settings(settings: Settings, picky: PickySink) -> Settings:
    return settings.model_copy(update={"smtp_port": picky.port})


def reply_to_both() -> EmailRequest:
    return EmailRequest(
        key=f"{NUMBER}:reply:{uuid.uuid4().hex}",
        case_number=NUMBER,
        template="reply",
        to=Recipients(addresses=[ANA, BOB]),
        subject="Printer on fire",
        context={"customer_name": "Ana", "case_subject": "Printer", "body": "Hi", "agent": "ann"},
        auto_submitted="no",
    )


def send_email(settings: Settings, sessions: sessionmaker[Session], request: EmailRequest) -> None:
    ActivityEnvironment().run(EmailActivities(sessions, settings).send_email, request)


def envelope_of(settings: Settings, request: EmailRequest, index: int) -> str:
    secret = settings.secret_key.get_secret_value()
    return verp.envelope_sender(secret, settings.support_address, NUMBER, request.key, index)


def outbox(sessions: sessionmaker[Session], key: str) -> tuple[str | None, set[int]]:
    with transaction(sessions, writes=False) as session:
        return messages.outbox_status(session, key), messages.handed_over(session, key)


# -- sending --------------------------------------------------------------------------------------


def test_each_recipient_gets_a_transaction_of_their_own_from_an_address_naming_them(
    mail_settings: Settings, sessions: sessionmaker[Session], picky: PickySink
) -> None:
    request = reply_to_both()

    send_email(mail_settings, sessions, request)

    first, second = envelope_of(mail_settings, request, 0), envelope_of(mail_settings, request, 1)
    assert picky.envelopes == [(first, [ANA]), (second, [BOB])]
    local, domain = mail_settings.support_address.split("@")
    assert first.startswith(f"{local}+b.cas-000042.") and first.endswith(f"@{domain}")
    secret = mail_settings.secret_key.get_secret_value()
    claims = list(verp.bounce_claims(secret, [first, second]))
    assert [(c.tag, c.recipient, c.names(request.key)) for c in claims] == [
        (NUMBER, 0, True),
        (NUMBER, 1, True),
    ]
    assert outbox(sessions, request.key) == ("sent", {0, 1})


def test_a_retry_after_one_recipient_was_deferred_sends_only_to_that_recipient(
    mail_settings: Settings, sessions: sessionmaker[Session], picky: PickySink
) -> None:
    request = reply_to_both()
    picky.defer_once.add(BOB)

    with pytest.raises(smtp.TransientMailError):
        send_email(mail_settings, sessions, request)
    assert outbox(sessions, request.key) == ("pending", {0})
    send_email(mail_settings, sessions, request)

    assert [rcpts for _, rcpts in picky.envelopes] == [[ANA], [BOB]]
    assert picky.envelopes[1][0] == envelope_of(mail_settings, request, 1)
    assert outbox(sessions, request.key) == ("sent", {0, 1})


def test_a_recipient_refused_for_good_does_not_keep_the_email_from_the_others(
    mail_settings: Settings, sessions: sessionmaker[Session], picky: PickySink
) -> None:
    request = reply_to_both()
    picky.refuse.add(ANA)

    send_email(mail_settings, sessions, request)

    assert picky.envelopes == [(envelope_of(mail_settings, request, 1), [BOB])]
    assert outbox(sessions, request.key) == ("sent", {1})


def test_a_server_that_refuses_the_tokened_sender_gets_the_plain_address(
    mail_settings: Settings, sessions: sessionmaker[Session], picky: PickySink
) -> None:
    request = reply_to_both()
    picky.refuse_tokened_senders = True

    send_email(mail_settings, sessions, request)

    plain = mail_settings.support_address
    assert picky.envelopes == [(plain, [ANA]), (plain, [BOB])]
    assert outbox(sessions, request.key) == ("sent", {0, 1})


def test_a_notice_goes_out_from_an_address_naming_its_reference(
    mail_settings: Settings, sessions: sessionmaker[Session], picky: PickySink
) -> None:
    notice = notices.refused_notice(parse(message(sender=ANA)), "unknown_sender")

    assert notices.send_notice(mail_settings, sessions, notice)

    [(sender, rcpts)] = picky.envelopes
    secret = mail_settings.secret_key.get_secret_value()
    [claims] = verp.bounce_claims(secret, [sender])
    assert (rcpts, claims.tag, claims.recipient) == ([ANA], notice.reference, 0)
    assert claims.names(notice.key)


# -- a bounce that quotes nothing ---------------------------------------------------------------


def report_quoting_nothing(to: str) -> bytes:
    """All some mail servers send back: no returned message, no header of it, no Message-ID."""
    return (
        "Return-Path: <>\r\n"
        "From: MAILER-DAEMON@mx.customer.example\r\n"
        f"To: {to}\r\n"
        "Subject: failure notice\r\n"
        "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
        "\r\n"
        "550 user unknown\r\n"
    ).encode()


@pytest.fixture
async def desk(
    dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Desk]:
    async with desk_beside(dovecot, dev_env, settings, smtp_sink) as mine:
        yield mine


@pytest.mark.dovecot
async def test_a_bounce_quoting_nothing_sent_to_the_verp_address_lands_on_its_case_and_recipient(
    desk: Desk,
) -> None:
    ada = customer()
    number, _ = await new_case_with_ack(desk, ada)
    [(envelope_sender, _)] = [e for e in desk.sink.envelopes if e[1] == [ada]]
    local, domain = desk.address.split("@")
    assert envelope_sender.startswith(f"{local}+b.{number.lower()}.")
    assert envelope_sender.endswith(f"@{domain}")

    # The customer's server returns it to the envelope sender; ours delivers by plus addressing.
    desk.dovecot.deliver_lmtp(envelope_sender, report_quoting_nothing(envelope_sender))
    [landed] = desk.dovecot.fetch_all(desk.address)
    delivered = email.message_from_bytes(landed, policy=email.policy.default)
    assert str(delivered["Delivered-To"]) == envelope_sender
    before = len(desk.inbound())
    async with running(desk.intake()):
        await eventually(lambda: desk.count("INBOX") == 0 and len(desk.inbound()) > before)

    [row] = desk.inbound()[before:]
    assert (row.mail_class, row.status, row.case_number) == ("bounce", "delivered", number)
    assert email_status(desk, ada) == "failing"
    [bounced] = await eventually(lambda: events(desk, number, "email_bounced"))
    assert bounced.data["failed"] == ada  # the token's recipient: the report names no one


@pytest.mark.dovecot
async def test_a_forged_verp_address_finds_no_case_and_marks_nobody(desk: Desk) -> None:
    ada = customer()
    number, _ = await new_case_with_ack(desk, ada)
    local, domain = desk.address.split("@")
    forged_token = signing.bounce_token("not-our-secret", number, f"{number}:ack", 0)
    forged = f"{local}+{forged_token}@{domain}"

    desk.dovecot.deliver_lmtp(forged, report_quoting_nothing(forged))
    before = len(desk.inbound())
    async with running(desk.intake()):
        await eventually(lambda: desk.count("INBOX") == 0 and len(desk.inbound()) > before)

    [row] = desk.inbound()[before:]
    assert (row.mail_class, row.case_number) == ("bounce", None)
    assert events(desk, number, "email_bounced") == []
    assert email_status(desk, ada) != "failing"
