"""Automatic mail against real servers: nothing but people is acknowledged, bounces land on
their case and stop our mail to the failed address, and an auto-responder cannot loop with us.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.intake.mailbox import PROCESSED
from caseflow.settings import Settings
from caseflow.store import cases, directory, messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Contact, InboundMessage
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import ActionRequest, MessageRequest
from tests.integration.test_intake import (
    Desk,
    customer,
    eventually,
    new_case_with_ack,
    running,
)
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import AGENT, running_worker
from tests.support.servers import SmtpSink
from tests.unit.emails import ARF_REPORT, message

pytestmark = pytest.mark.dovecot

NOT_OURS = "<CAS-000999.0123456789abcdef01234567@elsewhere.example>"


def bounce_of(ours: EmailMessage, failed: str, sender: str = "MAILER-DAEMON@mx.example") -> bytes:
    """What a mail server sends back when it cannot deliver one of our emails."""
    returned = ours.as_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    head = returned.partition("\n\n")[0]
    text = f"""\
Return-Path: <>
From: {sender}
To: {ours["From"]}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{uuid.uuid4().hex}@mx.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {failed}
Action: failed
Status: 5.1.1
--r
Content-Type: text/rfc822-headers

{head}
--r--
"""
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
async def desk(
    dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Desk]:
    async with desk_beside(dovecot, dev_env, settings, smtp_sink) as mine:
        yield mine


async def take_in(desk: Desk, *raws: bytes) -> list[InboundMessage]:
    """Deliver, and let the intake loop run until the mailbox is empty and all is recorded.

    The loop rather than one pass: it retries what a busy SQLite file refuses for a moment.
    """
    before = len(desk.inbound())
    desk.deliver(*raws)
    async with running(desk.intake()):
        await eventually(
            lambda: desk.count("INBOX") == 0 and len(desk.inbound()) == before + len(raws)
        )
    return desk.inbound()[before:]


def events(desk: Desk, number: str, kind: str) -> list[Any]:
    with transaction(desk.harness.sessions) as session:
        return [e for e in cases.case_events(session, number) if e.kind == kind]


def email_status(desk: Desk, address: str) -> str:
    with transaction(desk.harness.sessions) as session:
        contact = session.scalar(select(Contact).where(Contact.email == address))
        return contact.email_status if contact is not None else ""


# -- every class recorded, only people acknowledged -----------------------------------------------


async def test_every_kind_of_automatic_mail_is_recorded_and_only_the_person_acknowledged(
    desk: Desk,
) -> None:
    ada, bob = customer(), customer()
    number, ack = await new_case_with_ack(desk, ada)
    automatic = {
        "auto_reply": message(
            sender=bob,
            message_id=f"<{uuid.uuid4().hex}@c.example>",
            subject="Automatic reply: hello",
            headers=[("Auto-Submitted", "auto-replied")],
        ),
        "bulk": message(
            sender=bob, message_id=f"<{uuid.uuid4().hex}@c.example>", headers=[("List-Id", "x")]
        ),
        "feedback": ARF_REPORT,
        "bounce": bounce_of(ack, ada),
        "own_loop": ack.as_bytes(),
    }

    rows = await take_in(desk, *automatic.values(), desk.customer_mail(bob))

    assert desk.count(PROCESSED) == 1 + len(rows)
    classes = {row.mail_class: row for row in rows}
    assert set(classes) == set(automatic) | {"human"}
    assert classes["bounce"].case_number == number
    assert classes["own_loop"].case_number == number  # our own ack, threaded to its case
    await eventually(lambda: desk.acks_to(bob))
    await desk.harness.settled()  # every case has sent all it would: any wrong acknowledgement
    assert len(desk.acks_to(ada)) == 1  # only the first, from before
    assert len(desk.acks_to(bob)) == 1  # for the human message only


# -- bounces --------------------------------------------------------------------------------------


async def test_a_bounce_is_an_event_on_its_case_and_stops_mail_to_the_address_until_it_writes(
    desk: Desk,
) -> None:
    ada = customer()
    number, ack = await new_case_with_ack(desk, ada)

    [row] = await take_in(desk, bounce_of(ack, ada))

    assert (row.status, row.case_number, row.threaded_by) == ("delivered", number, "bounce")
    [bounced] = await eventually(lambda: events(desk, number, "email_bounced"))
    assert bounced.data["failed"] == ada
    assert email_status(desk, ada) == "failing"
    assert desk.case_count() == 1
    assert desk.case(number).status == "new"  # type: ignore[union-attr]

    handle = desk.env.client.get_workflow_handle(number)
    await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Hello?"))
    [failed] = await eventually(lambda: events(desk, number, "email_failed"))
    assert "bounced" in failed.body
    assert desk.sink.with_subject("Re:") == []

    await take_in(desk, desk.customer_mail(ada, f"Re: [{number}] Printer on fire"))
    assert email_status(desk, ada) == "ok"
    await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="There!"))
    await eventually(lambda: desk.sink.with_subject("Re:"))


async def test_a_bounce_from_a_null_sender_is_recorded_as_a_bounce_never_quarantined(
    desk: Desk,
) -> None:
    ada = customer()
    number, ack = await new_case_with_ack(desk, ada)

    [row] = await take_in(desk, bounce_of(ack, ada, sender="MAILER-DAEMON <>"))

    assert (row.mail_class, row.status, row.sender) == ("bounce", messages.DELIVERED, "")
    assert row.case_number == number
    assert desk.count(PROCESSED) == 2
    await eventually(lambda: events(desk, number, "email_bounced"))


async def test_a_bounce_of_no_email_of_ours_is_recorded_and_starts_no_case(desk: Desk) -> None:
    ada = customer()
    stranger = message(sender="someone@else.example", message_id=NOT_OURS)
    parsed = email.message_from_bytes(stranger, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)

    [row] = await take_in(desk, bounce_of(parsed, ada))

    assert desk.count(PROCESSED) == 1
    # Noise (issue 12): kept and listed for supervisors, never a case.
    assert (row.mail_class, row.status, row.case_number) == ("bounce", messages.NOISE, None)
    assert "no email of ours" in row.reason
    assert desk.case_count() == 0
    assert email_status(desk, ada) == ""  # a stray bounce marks nobody


# -- an auto-responder peer -----------------------------------------------------------------------


class AutoResponder(SmtpSink):
    """The customer's mail server: keeps what we send and answers each email to the customer
    with an out-of-office reply, appended straight into the support mailbox."""

    def __init__(self, dovecot: Dovecot, customer: str, style: str) -> None:
        super().__init__()
        self.dovecot = dovecot
        self.customer = customer
        self.style = style
        self.support = ""
        self.replies = 0

    def received(self, recipients: list[str], raw: bytes) -> None:
        super().received(recipients, raw)
        if self.customer in recipients:
            ours = email.message_from_bytes(raw, policy=email.policy.default)
            self.dovecot.deliver(self.support, self.reply_to(ours))
            self.replies += 1

    def reply_to(self, ours: Any) -> bytes:
        subject = str(ours["Subject"])
        headers: list[tuple[str, str]] = []
        if self.style == "rfc3834":
            subject = f"Automatic reply: {subject}"
            headers = [("Auto-Submitted", "auto-replied"), ("In-Reply-To", str(ours["Message-ID"]))]
        elif self.style == "bare":
            subject = f"Re: {subject}"  # copies our tag, and nothing else
        else:  # "untagged": a fresh conversation every time
            subject = "Re: " + re.sub(r"\[CAS-\d+\]\s*", "", subject)
        return message(
            sender=self.customer,
            to=self.support,
            subject=subject,
            message_id=f"<{uuid.uuid4().hex}@peer.example>",
            headers=headers,
            body="I am away. Your email will not be forwarded.\r\n",
        )


@asynccontextmanager
async def desk_beside(
    dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings, sink: SmtpSink, **more: Any
) -> AsyncIterator[Desk]:
    """A desk of its own mailbox whose outgoing mail goes to `sink`."""
    address = dovecot.new_user()
    mine = reading(dovecot, settings, address, smtp_port=sink.port, **more)
    async with running_worker(dev_env.client, mine, sink) as harness:
        yield Desk(dovecot, address, dev_env, harness)


async def quiet(desk: Desk, peer: AutoResponder, settle: float = 2.0, limit: float = 30.0) -> None:
    """Wait until no mail has moved either way for `settle` seconds."""
    deadline = time.monotonic() + limit
    last, since = (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        now = (len(peer.messages), len(desk.inbound()))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle and desk.count("INBOX") == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"mail still moving after {limit} s: {last}")


@pytest.mark.parametrize(
    ("style", "sent", "cases_made"),
    [("rfc3834", 1, 1), ("bare", 1, 1), ("untagged", 3, 4)],
    ids=["rfc3834-headers", "no-headers-copies-tag", "no-headers-no-tag"],
)
async def test_an_exchange_with_an_auto_responder_stops_by_itself(
    dovecot: Dovecot,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    style: str,
    sent: int,
    cases_made: int,
) -> None:
    ada = customer()
    peer = AutoResponder(dovecot, ada, style)
    peer.start()
    try:
        async with desk_beside(dovecot, dev_env, settings, peer, ack_limit_per_day=3) as peer_desk:
            peer.support = peer_desk.address
            started = time.monotonic()
            async with running(peer_desk.intake()):
                peer_desk.deliver(peer_desk.customer_mail(ada))
                await eventually(lambda: peer.messages)
                await quiet(peer_desk, peer)
            took = time.monotonic() - started

            # Each acknowledgement drew one automatic answer; the limits ended it.
            assert len(peer.sent_to(ada)) == sent
            assert peer.replies == sent
            assert len(peer_desk.inbound()) == 1 + sent
            assert peer_desk.case_count() == cases_made
            assert took < 20, f"the exchange took {took:.1f} s"
    finally:
        peer.stop()


# -- the store's side, on SQLite and PostgreSQL ---------------------------------------------------


def test_failing_addresses_are_marked_and_restored_and_acks_counted_per_address(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        directory.find_or_create_contact(session, "ada@noise.example")
        for key, template, at in [
            ("CAS-1:ack", "ack", now - timedelta(hours=1)),
            ("CAS-2:ack", "ack", now - timedelta(hours=30)),
            ("CAS-3:reply:2", "reply", now),
        ]:
            messages.add_to_outbox(session, outbox_row(key, template, at))
    with transaction(sessions) as session:
        assert directory.mark_email_failing(session, "Ada@Noise.example", "5.1.1", now)
        assert not directory.mark_email_failing(session, "nobody@noise.example", "5.1.1", now)
        failing = directory.failing_addresses(session, ["ada@noise.example", "x@noise.example"])
        acks = messages.acks_sent_since(session, "ADA@noise.example", now - timedelta(hours=24))
        bounced_case = messages.case_of_our_email(session, ["<x@y>", "<CAS-3:reply:2@caseflow>"])
    assert (failing, acks, bounced_case) == (["ada@noise.example"], 1, "CAS-3")
    with transaction(sessions) as session:
        assert directory.mark_email_ok(session, "ada@noise.example")
        assert not directory.mark_email_ok(session, "ada@noise.example")
        assert directory.failing_addresses(session, ["ada@noise.example"]) == []
    engine.dispose()


def outbox_row(key: str, template: str, at: datetime) -> dict[str, Any]:
    return {
        "key": key,
        "case_number": key.partition(":")[0],
        "message_id": f"<{key}@caseflow>",
        "template": template,
        "audience": "agents" if template == "reply" else "customer",
        "recipients": ["ada@noise.example"],
        "to_address": "ada@noise.example",
        "subject": "s",
        "created_at": at,
    }


async def test_a_bounce_naming_an_address_we_did_not_mail_marks_nobody(desk: Desk) -> None:
    ada, bob = customer(), customer()
    await new_case_with_ack(desk, bob)  # bob is a known contact
    number, ack = await new_case_with_ack(desk, ada)

    [row] = await take_in(desk, bounce_of(ack, bob))  # a forgery: the ack went to ada

    assert row.case_number == number
    await eventually(lambda: events(desk, number, "email_bounced"))
    assert (email_status(desk, ada), email_status(desk, bob)) == ("ok", "ok")
