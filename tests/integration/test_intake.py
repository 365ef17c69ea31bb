"""The email intake against real servers: Dovecot, the Temporal dev server, a worker, SQLite."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from caseflow import client as starter
from caseflow.intake import service
from caseflow.intake.mailbox import PROCESSED, QUARANTINE
from caseflow.intake.parse import parse
from caseflow.intake.service import Intake, Outcome
from caseflow.settings import Settings
from caseflow.store import cases, messages
from caseflow.store.db import transaction
from caseflow.store.models import Case, InboundMessage
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import EXCERPT, MergeRequest, NewCase
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import SUPERVISOR, Harness, running_worker
from tests.support.servers import SmtpSink
from tests.unit.emails import CORPUS, DSN_BOUNCE, message

pytestmark = pytest.mark.dovecot

# Real messages written elsewhere, read where they lie (never copied into the repository).
AUTO_REPLY_FILE = CORPUS / "sisimai" / "bsd_rfc3834-01.eml"  # Auto-Submitted: auto-replied
BOUNCE_FILE = CORPUS / "sisimai" / "bsd_rfc3464-01.eml"  # multipart/report; delivery-status
OUT_OF_OFFICE = message(
    sender="Bob <bob@customer.example>",
    subject="Out of office: Printer on fire",
    message_id="<ooo-1@customer.example>",
    headers=[("Auto-Submitted", "auto-replied")],
    body="I am away until Monday.\r\n",
)


def automatic_mail(source: str) -> tuple[bytes, bytes]:
    """An auto-reply and a bounce: our own samples, or real ones from the corpus."""
    if source == "samples":
        return OUT_OF_OFFICE, DSN_BOUNCE
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS} (set CASEFLOW_CORPUS)")
    return AUTO_REPLY_FILE.read_bytes(), BOUNCE_FILE.read_bytes()


# Binary, no headers; without NUL or bare LF, which Dovecot would rewrite on APPEND.
GARBAGE = b"\x89PNG\r\n\x1a\r\n\x01\x02IHDR\xff\xfe\xfd binary, no headers at all\r\n"

T = TypeVar("T")


@dataclass
class Desk:
    """One test's support desk: its own mailbox, database, task queue, worker and SMTP sink."""

    dovecot: Dovecot
    address: str
    env: WorkflowEnvironment
    harness: Harness

    @property
    def settings(self) -> Settings:
        return self.harness.settings

    @property
    def sink(self) -> SmtpSink:
        return self.harness.sink

    def intake(self) -> Intake:
        return Intake(self.settings, self.harness.sessions, self.env.client)

    def deliver(self, *raws: bytes) -> None:
        with self.dovecot.connect(self.address) as client:
            for raw in raws:
                client.append("INBOX", raw)

    def count(self, folder: str) -> int:
        """Messages in the folder; 0 before the intake has created it."""
        with self.dovecot.connect(self.address) as client:
            if not client.folder_exists(folder):
                return 0
        return self.dovecot.count(self.address, folder)

    def has_folders(self) -> bool:
        with self.dovecot.connect(self.address) as client:
            return bool(client.folder_exists(PROCESSED))

    def message_ids_in(self, folder: str) -> list[str]:
        return [parse(raw).message_id for raw in self.dovecot.fetch_all(self.address, folder)]

    def customer_mail(
        self,
        sender: str,
        subject: str = "Printer on fire",
        *,
        to: str | None = None,
        in_reply_to: str | None = None,
    ) -> bytes:
        """A fresh message to the support address, with a Message-ID of its own."""
        return message(
            sender=sender,
            to=to or self.address,
            subject=subject,
            message_id=f"<{uuid.uuid4().hex}@customer.example>",
            headers=[("In-Reply-To", in_reply_to)] if in_reply_to else [],
        )

    def acks_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.sent_to(address) if m["Auto-Submitted"] == "auto-replied"]

    def case(self, number: str) -> Case | None:
        with transaction(self.harness.sessions) as session:
            return cases.get_case(session, number)

    def case_count(self) -> int:
        with transaction(self.harness.sessions) as session:
            return cases.list_cases(session, cases.CaseFilter(), limit=1000, offset=0)[1]

    def email_keys(self, number: str) -> list[str]:
        with transaction(self.harness.sessions) as session:
            events = cases.case_events(session, number)
            return [e.email_key for e in events if e.kind == "email_in" and e.email_key]

    def inbound(self) -> list[InboundMessage]:
        with transaction(self.harness.sessions) as session:
            return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


@pytest.fixture
async def desk(
    dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Desk]:
    address = dovecot.new_user()
    mine = reading(dovecot, settings, address)
    async with running_worker(dev_env.client, mine, smtp_sink) as harness:
        yield Desk(dovecot, address, dev_env, harness)


async def eventually(check: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Poll `check` until it answers something truthy; fail with its last answer at the end."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still {answer!r} after {timeout} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def connected(intake: Intake) -> AsyncIterator[Intake]:
    await asyncio.to_thread(intake.mailbox.connect)
    try:
        yield intake
    finally:
        await asyncio.to_thread(intake.mailbox.close)


async def drain_once(desk: Desk) -> list[Outcome]:
    async with connected(desk.intake()) as intake:
        return await intake.drain()


@asynccontextmanager
async def running(intake: Intake) -> AsyncIterator[asyncio.Task[None]]:
    """`Intake.run` in the background; stopped (and awaited) on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def new_case_with_ack(desk: Desk, customer: str) -> tuple[str, EmailMessage]:
    desk.deliver(desk.customer_mail(customer))
    [outcome] = await drain_once(desk)
    assert outcome.case_number is not None
    [ack] = await eventually(lambda: desk.acks_to(customer))
    return outcome.case_number, ack


def customer() -> str:
    return f"ada-{uuid.uuid4().hex[:8]}@customer.example"


# -- a new email, a reply ---------------------------------------------------------------------


async def test_new_email_becomes_a_running_case_with_an_acknowledgement(desk: Desk) -> None:
    ada = customer()
    desk.deliver(desk.customer_mail(f"Ada Lovelace <{ada}>"))

    [outcome] = await drain_once(desk)

    assert (outcome.folder, outcome.detail) == (PROCESSED, "new")
    number = outcome.case_number
    assert number is not None
    case = await eventually(lambda: desk.case(number))
    assert (case.customer_email, case.subject) == (ada, "Printer on fire")
    assert desk.case_count() == 1
    described = await desk.env.client.get_workflow_handle(number).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    [ack] = await eventually(lambda: desk.acks_to(ada))
    assert f"[{number}]" in str(ack["Subject"])
    assert ack["Auto-Submitted"] == "auto-replied"
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 1)


async def test_a_raw_latin1_subject_is_stored_and_acknowledged_as_the_customer_wrote_it(
    desk: Desk,
) -> None:
    ada = customer()
    # Neither the subject nor the name is RFC 2047 encoded; only the body declares a charset.
    raw = (
        desk.customer_mail(f"NAME <{ada}>", "SUBJECT")
        .replace(b"NAME", "René Dupré".encode("latin-1"))
        .replace(b"SUBJECT", "Problème d'impression".encode("latin-1"))
        .replace(b"charset=utf-8", b"charset=iso-8859-1")
    )
    assert b"Subject: Probl\xe8me d'impression\r\n" in raw
    desk.deliver(raw)

    [outcome] = await drain_once(desk)

    number = outcome.case_number
    assert number is not None
    case = await eventually(lambda: desk.case(number))
    assert case.subject == "Problème d'impression"
    [ack] = await eventually(lambda: desk.acks_to(ada))
    assert str(ack["Subject"]) == f"[{number}] We received your request: Problème d'impression"
    text = ack.get_body(preferencelist=("plain",))
    assert text is not None and text.get_content().startswith("Hello René Dupré,")


async def test_replies_by_message_id_and_by_signed_address_thread_onto_the_case(
    desk: Desk,
) -> None:
    ada = customer()
    number, ack = await new_case_with_ack(desk, ada)
    by_reference = desk.customer_mail(
        ada, "Re: Printer on fire", in_reply_to=str(ack["Message-ID"])
    )
    reply_to = parseaddr(str(ack["Reply-To"]))[1]
    assert "+" in reply_to.partition("@")[0]
    by_address = desk.customer_mail(ada, "Still burning", to=reply_to)
    desk.deliver(by_reference, by_address)

    outcomes = await drain_once(desk)

    assert [(o.case_number, o.detail) for o in outcomes] == [
        (number, "references"),
        (number, "reply_address"),
    ]
    keys = [parse(raw).dedup_key for raw in (by_reference, by_address)]
    await eventually(lambda: set(keys) <= set(desk.email_keys(number)))
    assert desk.case_count() == 1
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 3)


# -- exactly one case per message ---------------------------------------------------------------


async def test_a_reply_in_the_same_batch_as_its_original_threads_onto_its_case(
    desk: Desk,
) -> None:
    ada, bob = customer(), customer()
    original = desk.customer_mail(ada, "Printer on fire")
    others = [desk.customer_mail(customer(), f"Question {i}") for i in range(6)]
    # From a colleague, not the original's sender: only the reference links it.
    reply = desk.customer_mail(bob, "Re: Printer on fire", in_reply_to=parse(original).message_id)
    desk.deliver(original, *others, reply)
    concurrent = desk.settings.model_copy(update={"intake_concurrency": 8})
    intake = Intake(concurrent, desk.harness.sessions, desk.env.client)

    async with connected(intake):
        outcomes = await intake.drain()

    assert [o.detail for o in outcomes] == ["new"] * 7 + ["references"]
    assert outcomes[-1].case_number == outcomes[0].case_number
    number = outcomes[0].case_number
    assert number is not None
    await eventually(lambda: parse(reply).dedup_key in desk.email_keys(number))
    # The read model is written after each case starts: wait for the seven.
    await eventually(lambda: desk.case_count() == 7)
    assert desk.case_count() == 7
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 8)


async def test_a_long_email_travels_as_an_excerpt_and_the_timeline_keeps_it_whole(
    desk: Desk,
) -> None:
    paragraph = "The printer prints every page twice, then jams on the third one. "
    body = "".join(f"{n}: {paragraph}\r\n" for n in range(800))  # about 55,000 characters
    raw = message(sender=customer(), to=desk.address, message_id=f"<{uuid.uuid4().hex}@x.example>",
                  body=body)  # fmt: skip
    desk.deliver(raw)
    [outcome] = await drain_once(desk)
    number = outcome.case_number
    assert number is not None
    whole = parse(raw).reply_text or parse(raw).text
    assert len(whole) > 50_000

    def timeline_body() -> str | None:
        with transaction(desk.harness.sessions) as session:
            events = cases.case_events(session, number)
            return next((e.body for e in events if e.kind == "email_in"), None)

    assert await eventually(timeline_body) == whole
    handle = desk.env.client.get_workflow_handle(number)
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    payloads = [p.data for p in started.input.payloads]
    assert all(len(data) < 3 * EXCERPT for data in payloads)  # an excerpt, not 55,000 chars
    case = desk.case(number)
    assert case is not None and case.description == whole[:EXCERPT]


async def test_the_same_message_delivered_twice_makes_one_case(desk: Desk) -> None:
    ada = customer()
    raw = desk.customer_mail(ada)
    desk.deliver(raw, raw)

    outcomes = await drain_once(desk)

    assert [o.detail for o in outcomes] == ["new", "already delivered"]
    assert outcomes[0].case_number == outcomes[1].case_number
    await eventually(lambda: desk.acks_to(ada))
    await eventually(lambda: desk.case_count() == 1)  # the record lane may trail the email's
    assert desk.case_count() == 1
    # Byte-identical copies are one message: Processed keeps one of them.
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 1)


async def test_two_intakes_draining_one_mailbox_make_one_case_per_message(desk: Desk) -> None:
    senders = [customer() for _ in range(20)]
    raws = [desk.customer_mail(s, f"Question {i}") for i, s in enumerate(senders)]
    desk.deliver(*raws)

    async with connected(desk.intake()) as first, connected(desk.intake()) as second:
        await asyncio.gather(first.drain(), second.drain())

    assert desk.count("INBOX") == 0
    # Both walk INBOX in the same order, so both may MOVE one message at the same moment and
    # Dovecot may then keep two copies in Processed, until the intakes remove the extra copy.
    assert sorted(desk.message_ids_in(PROCESSED)) == sorted(parse(raw).message_id for raw in raws)
    rows = desk.inbound()
    assert [r.status for r in rows] == [messages.DELIVERED] * 20
    assert len({r.case_number for r in rows}) == 20
    await eventually(lambda: desk.case_count() == 20)
    await eventually(lambda: all(desk.acks_to(s) for s in senders))
    assert all(len(desk.acks_to(s)) == 1 for s in senders)


def _kill_before_start(monkeypatch: pytest.MonkeyPatch) -> None:
    async def killed(*args: object, **kwargs: object) -> None:
        raise Killed("after storing the message, before starting the workflow")

    monkeypatch.setattr(service, "start_case", killed)


def _kill_before_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(*args: object) -> None:
        raise Killed("after starting the workflow, before recording the delivery")

    monkeypatch.setattr(Intake, "_delivered", killed)


class Killed(BaseException):  # noqa: N818
    """Stands for the process dying at that point: nothing in the intake may catch it."""


@pytest.mark.parametrize(
    "kill", [_kill_before_start, _kill_before_recording], ids=["before-start", "before-record"]
)
async def test_an_intake_killed_mid_message_leaves_it_for_the_next_pass_and_one_case(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, kill: Callable[[pytest.MonkeyPatch], None]
) -> None:
    ada = customer()
    desk.deliver(desk.customer_mail(ada))
    with monkeypatch.context() as patch:
        kill(patch)
        with pytest.raises(Killed):
            await drain_once(desk)
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (1, 0)

    [outcome] = await drain_once(desk)

    assert outcome.folder == PROCESSED
    await eventually(lambda: desk.acks_to(ada))
    await eventually(lambda: desk.case_count() == 1)  # the record lane may trail the email's
    assert desk.case_count() == 1
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 1)


async def test_an_intake_killed_after_hand_off_but_before_the_move_makes_one_case(
    desk: Desk,
) -> None:
    ada = customer()
    raw = desk.customer_mail(ada)
    desk.deliver(raw)
    first = await desk.intake().take_in(raw)  # handed off; the process dies before moving it

    [again] = await drain_once(desk)

    assert (first.detail, again.detail) == ("new", "already delivered")
    assert again.case_number == first.case_number
    await eventually(lambda: desk.acks_to(ada))
    await eventually(lambda: desk.case_count() == 1)  # the record lane may trail the email's
    assert desk.case_count() == 1
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 1)


async def test_a_message_that_fails_through_our_fault_stays_and_blocks_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = customer(), customer()
    desk.deliver(desk.customer_mail(first), desk.customer_mail(second))
    real_start = starter.start_case
    calls = 0

    async def flaky_start(client: object, number: str, new: NewCase, *rest: object) -> object:
        # The first message's first start fails (messages are taken in concurrently, so
        # "the first call" would be either of them).
        nonlocal calls
        if new.customer_email == first and calls == 0:
            calls += 1
            raise RuntimeError("Temporal hiccup")
        return await real_start(client, number, new, *rest)  # type: ignore[arg-type]

    no_backoff = desk.settings.model_copy(update={"intake_retry_backoff": timedelta(0)})
    intake = Intake(no_backoff, desk.harness.sessions, desk.env.client)
    with monkeypatch.context() as patch:
        patch.setattr(service, "start_case", flaky_start)
        async with connected(intake):
            outcomes = await intake.drain()
    assert [o.folder for o in outcomes] == [service.STAYS, PROCESSED]
    assert outcomes[0].detail == "hand-off failed: RuntimeError: Temporal hiccup"
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (1, 1)
    async with connected(intake):
        await intake.drain()  # the next pass takes it in
    await eventually(lambda: desk.acks_to(first) and desk.acks_to(second))
    await eventually(lambda: desk.case_count() == 2)  # the record lane may trail the email's
    assert desk.case_count() == 2 and desk.count("INBOX") == 0


async def test_an_oversized_message_is_quarantined_from_its_header_alone(desk: Desk) -> None:
    small = desk.settings.model_copy(update={"imap_max_message_size": 4000})
    big = message(
        sender=customer(),
        to=desk.address,
        subject="Huge attachment",
        message_id=f"<{uuid.uuid4().hex}@customer.example>",
        body=("x" * 76 + "\r\n") * 150,
    )
    ada = customer()
    desk.deliver(big, desk.customer_mail(ada))
    intake = Intake(small, desk.harness.sessions, desk.env.client)
    async with connected(intake):
        outcomes = await intake.drain()
    assert [o.folder for o in outcomes] == [QUARANTINE, PROCESSED]
    assert outcomes[0].detail.startswith("too large")
    assert desk.count(QUARANTINE) == 1  # the whole message is kept there
    with transaction(desk.harness.sessions) as session:
        [row] = messages.quarantined_messages(session)
        header = messages.raw_message(session, row.raw_sha256)
    assert header is not None and b"Huge attachment" in header and b"x" * 100 not in header
    await eventually(lambda: desk.acks_to(ada))


# -- what is not a customer's request -----------------------------------------------------------


@pytest.mark.parametrize("finishing", ["as they come", "first one last"])
async def test_malformed_messages_are_quarantined_with_a_reason_and_block_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, finishing: str
) -> None:
    ada = customer()
    no_sender = desk.customer_mail("undisclosed-recipients:;", "Who sent this?")
    if finishing == "first one last":
        hold_back_quarantine_of(GARBAGE, monkeypatch)
    desk.deliver(GARBAGE, no_sender, desk.customer_mail(ada))

    outcomes = await drain_once(desk)

    assert [o.folder for o in outcomes] == [QUARANTINE, QUARANTINE, PROCESSED]
    assert (desk.count("INBOX"), desk.count(QUARANTINE), desk.count(PROCESSED)) == (0, 2, 1)
    # Messages of different senders are taken in at the same time, so their rows are written
    # in the order they finish: each reason is checked against its message, not a position.
    with transaction(desk.harness.sessions) as session:
        kept = {
            row.reason: messages.raw_message(session, row.raw_sha256)
            for row in messages.quarantined_messages(session)
        }
    assert kept == {  # kept as they arrived
        "the message has no headers": GARBAGE,
        "no valid sender address in From or Sender": no_sender,
    }
    await eventually(lambda: desk.acks_to(ada))
    await eventually(lambda: desk.case_count() == 1)  # the record lane may trail the email's
    assert desk.case_count() == 1


def hold_back_quarantine_of(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording this message's quarantine waits until the others of its batch are done."""
    record = Intake._record_quarantine

    def slowly(intake: Intake, quarantined: bytes, reason: str) -> None:
        if quarantined == raw:
            time.sleep(1.0)
        record(intake, quarantined, reason)

    monkeypatch.setattr(Intake, "_record_quarantine", slowly)


@pytest.mark.parametrize("source", ["samples", "corpus"])
async def test_auto_replies_and_bounces_are_recorded_but_never_acknowledged(
    desk: Desk, source: str
) -> None:
    auto_reply, bounce = automatic_mail(source)
    desk.deliver(auto_reply, bounce)

    outcomes = await drain_once(desk)

    assert [o.folder for o in outcomes] == [PROCESSED, PROCESSED]
    assert (desk.count("INBOX"), desk.count(PROCESSED)) == (0, 2)
    # Machines open no case (issue 12): both are noise, kept with their reasons, and listed for
    # supervisors (tests/integration/test_noise.py).
    assert sorted((r.mail_class, r.status) for r in desk.inbound()) == [
        ("auto_reply", messages.NOISE),
        ("bounce", messages.NOISE),
    ]
    assert [o.case_number for o in outcomes] == [None, None]
    assert all(r.reason for r in desk.inbound())
    assert desk.case_count() == 0
    await desk.harness.settled()
    assert desk.sink.messages == []


async def scheduled_activities(desk: Desk, number: str) -> list[str]:
    history = await desk.env.client.get_workflow_handle(number).fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_a_reply_to_a_finished_case_starts_a_follow_up_linked_to_it(desk: Desk) -> None:
    ada = customer()
    number, ack = await new_case_with_ack(desk, ada)
    handle = desk.env.client.get_workflow_handle(number)
    await handle.terminate(reason="test: the case has ended")
    desk.deliver(desk.customer_mail(ada, "Re: Printer on fire", in_reply_to=str(ack["Message-ID"])))

    [outcome] = await drain_once(desk)

    assert outcome.detail == "follow_up"
    follow_up = outcome.case_number
    assert follow_up is not None and follow_up != number
    case = await eventually(lambda: desk.case(follow_up))
    assert case.follow_up_of == number
    await eventually(lambda: len(desk.acks_to(ada)) == 2)
    assert desk.case_count() == 2


async def test_a_reply_to_a_merged_duplicate_lands_on_the_surviving_case(desk: Desk) -> None:
    ada, bob = customer(), customer()
    survivor, _ = await new_case_with_ack(desk, ada)
    duplicate, ack = await new_case_with_ack(desk, bob)
    [original] = await eventually(lambda: desk.email_keys(duplicate))
    await eventually(lambda: desk.case(survivor))
    merge = MergeRequest(actor=SUPERVISOR, into=survivor)
    await starter.case_handle(desk.env.client, duplicate).execute_update(CaseWorkflow.merge, merge)
    by_reference = desk.customer_mail(
        bob, "Re: Printer on fire", in_reply_to=str(ack["Message-ID"])
    )
    by_address = desk.customer_mail(bob, "More smoke", to=parseaddr(str(ack["Reply-To"]))[1])
    desk.deliver(by_reference, by_address)

    outcomes = await drain_once(desk)

    assert [(o.case_number, o.detail) for o in outcomes] == [
        (survivor, "references"),
        (survivor, "reply_address"),
    ]
    replies = [parse(raw).dedup_key for raw in (by_reference, by_address)]
    await eventually(lambda: {original, *replies} <= set(desk.email_keys(survivor)))
    merged = desk.case(duplicate)
    assert merged is not None and (merged.status, merged.merged_into) == ("merged", survivor)
    assert desk.email_keys(duplicate) == [original]
    assert desk.case_count() == 2


# -- the loop: IDLE and a server that goes away -------------------------------------------------


async def test_run_picks_up_mail_at_once_by_idle_and_stops_when_asked(desk: Desk) -> None:
    slow_polling = desk.settings.model_copy(update={"imap_poll_interval": timedelta(seconds=60)})
    intake = Intake(slow_polling, desk.harness.sessions, desk.env.client)
    desk.deliver(desk.customer_mail(customer()))
    async with running(intake) as task:
        await eventually(lambda: desk.count(PROCESSED) == 1)
        await asyncio.sleep(0.2)  # past its last look at INBOX, so only IDLE can tell it
        desk.deliver(desk.customer_mail(customer()))
        await eventually(lambda: desk.count(PROCESSED) == 2, timeout=3)
    assert task.done() and task.exception() is None
    await eventually(lambda: desk.case_count() == 2)


async def test_run_polls_when_idle_is_turned_off(desk: Desk) -> None:
    polling = desk.settings.model_copy(
        update={"imap_idle": False, "imap_poll_interval": timedelta(seconds=1)}
    )
    intake = Intake(polling, desk.harness.sessions, desk.env.client)
    async with running(intake):
        await eventually(desk.has_folders)  # it has connected
        await asyncio.sleep(0.2)  # past its last look at INBOX
        desk.deliver(desk.customer_mail(customer()))
        await eventually(lambda: desk.count(PROCESSED) == 1, timeout=3)


async def test_run_picks_up_mail_that_arrived_while_it_was_busy_without_waiting_to_poll(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_polling = desk.settings.model_copy(update={"imap_poll_interval": timedelta(seconds=60)})
    intake = Intake(slow_polling, desk.harness.sessions, desk.env.client)
    late = desk.customer_mail(customer())
    take_in = intake.take_in

    async def deliver_meanwhile(raw: bytes, **options: Any) -> Outcome:
        if raw != late:
            await asyncio.to_thread(desk.deliver, late)
        return await take_in(raw, **options)

    monkeypatch.setattr(intake, "take_in", deliver_meanwhile)
    desk.deliver(desk.customer_mail(customer()))
    async with running(intake):
        await eventually(lambda: desk.count(PROCESSED) == 2, timeout=5)
    assert desk.count("INBOX") == 0


async def test_run_survives_dovecot_restarting_and_loses_nothing(desk: Desk) -> None:
    senders = [customer() for _ in range(3)]
    async with running(desk.intake()):
        desk.deliver(desk.customer_mail(senders[0]))
        await eventually(lambda: desk.count(PROCESSED) == 1)
        await asyncio.to_thread(desk.dovecot.restart)
        desk.deliver(desk.customer_mail(senders[1]), desk.customer_mail(senders[2]))
        await eventually(lambda: desk.count(PROCESSED) == 3)
    assert desk.count("INBOX") == 0
    await eventually(lambda: all(desk.acks_to(s) for s in senders))
    assert desk.case_count() == 3
