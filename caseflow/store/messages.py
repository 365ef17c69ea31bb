"""Email in and out: raw messages by content hash, the fate of each inbound message, the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from caseflow.store.db import transaction
from caseflow.store.models import Case, CaseEvent, InboundMessage, OutboundEmail, RawMessage, utcnow

RECEIVED = "received"
DELIVERED = "delivered"
QUARANTINED = "quarantined"
IGNORED = "ignored"
REFUSED = "refused"  # kept, but no case: a record creation rule refused it (see `reason`)
NOISE = "noise"  # kept, but no case: automatic mail that concerns no open case (see `reason`)


def store_raw(session: Session, sha256: str, data: bytes) -> None:
    """Keep the bytes as they arrived; storing the same bytes twice is a no-op."""
    if session.get(RawMessage, sha256) is not None:
        return
    try:
        with session.begin_nested():
            session.add(RawMessage(sha256=sha256, size=len(data), data=data))
    except IntegrityError:
        pass  # another intake stored the same bytes first


def raw_message(session: Session, sha256: str) -> bytes | None:
    row = session.get(RawMessage, sha256)
    return row.data if row is not None else None


@dataclass
class InboundFacts:
    dedup_key: str
    mailbox: str
    raw_sha256: str
    message_id: str
    sender: str
    subject: str
    mail_class: str
    text: str = ""  # what the timeline shows of it, whole (workflows carry only its start)


def claim_inbound(session: Session, facts: InboundFacts) -> InboundMessage:
    """The row of this message, created on first sight; its status says how far it got."""
    row = inbound_by_key(session, facts.dedup_key)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = InboundMessage(
                dedup_key=facts.dedup_key,
                mailbox=facts.mailbox,
                raw_sha256=facts.raw_sha256,
                message_id=facts.message_id[:998],
                sender=facts.sender[:320],
                subject=facts.subject[:998],
                mail_class=facts.mail_class,
                text=facts.text,
                status=RECEIVED,
            )
            session.add(row)
        return row
    except IntegrityError:
        existing = inbound_by_key(session, facts.dedup_key)
        assert existing is not None
        return existing


def inbound_by_key(session: Session, dedup_key: str) -> InboundMessage | None:
    return session.scalar(select(InboundMessage).where(InboundMessage.dedup_key == dedup_key))


def mark_delivered(session: Session, dedup_key: str, case_number: str, threaded_by: str) -> None:
    row = inbound_by_key(session, dedup_key)
    assert row is not None
    row.status = DELIVERED
    row.case_number = case_number
    row.threaded_by = threaded_by
    row.delivered_at = utcnow()


def mark_quarantined(session: Session, dedup_key: str, reason: str) -> None:
    row = inbound_by_key(session, dedup_key)
    if row is not None:
        row.status = QUARANTINED
        row.reason = reason[:10_000]


def mark_ignored(session: Session, dedup_key: str, reason: str) -> None:
    row = inbound_by_key(session, dedup_key)
    if row is not None:
        row.status = IGNORED
        row.reason = reason[:10_000]


def mark_noise(session: Session, dedup_key: str, mail_class: str, reason: str) -> None:
    row = inbound_by_key(session, dedup_key)
    if row is not None:
        row.status = NOISE
        row.mail_class = mail_class
        row.reason = reason[:10_000]


def noise_messages(
    session: Session, mail_class: str = "", sender: str = "", limit: int = 100, offset: int = 0
) -> tuple[list[InboundMessage], int]:
    """Noise, newest first, of one class and from senders containing `sender` if given; a
    page of it and how many there are in all."""
    query = select(InboundMessage).where(InboundMessage.status == NOISE)
    if mail_class:
        query = query.where(InboundMessage.mail_class == mail_class)
    if sender:
        escaped = sender.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(InboundMessage.sender).like(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    return list(session.scalars(ordered.limit(limit).offset(offset))), int(total)


def quarantined_messages(session: Session) -> list[InboundMessage]:
    query = select(InboundMessage).where(InboundMessage.status == QUARANTINED)
    return list(session.scalars(query.order_by(InboundMessage.received_at)))


# ---------------------------------------------------------------------------------------------
# Threading look-ups


def case_by_message_ids(session: Session, message_ids: list[str]) -> str | None:
    """The case one of these Message-IDs belongs to: ours (outbox) first, then inbound ones."""
    ids = [m for m in message_ids if m]
    if not ids:
        return None
    # Only what we sent customers threads: a reply to an SLA notice is not customer mail.
    ours = select(OutboundEmail.case_number).where(
        OutboundEmail.message_id.in_(ids), OutboundEmail.audience == "customer"
    )
    number = session.scalars(ours).first()
    if number is not None:
        return number
    theirs = select(InboundMessage.case_number).where(
        InboundMessage.message_id.in_(ids), InboundMessage.case_number.is_not(None)
    )
    return session.scalars(theirs).first()


def case_has_email(session: Session, number: str, key: str) -> bool:
    """Whether the case's timeline already holds this message (read after its workflow ended)."""
    query = select(CaseEvent.id).where(CaseEvent.case_number == number, CaseEvent.email_key == key)
    return session.scalar(query.limit(1)) is not None


@dataclass
class CaseParticipants:
    number: str
    status: str
    participants: list[str]


def case_participants(session: Session, number: str) -> CaseParticipants | None:
    case = session.get(Case, number)
    if case is None:
        return None
    return CaseParticipants(case.number, case.status, [str(p) for p in case.participants])


# ---------------------------------------------------------------------------------------------
# Outbox: one row per email, claimed by the one attempt that sends it

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
# How long an attempt holds the email it sends: longer than a send takes (SMTP waits up to 30 s
# a step), so that an attempt overlapping it (a retry after a timeout, another worker) sends
# nothing; once it has expired, a crashed attempt's email can be claimed and sent again.
CLAIM_LEASE = timedelta(minutes=5)


class ClaimHeld(Exception):
    """Another attempt is sending this email now: try again later (its claim may expire)."""


class Delivery(StrEnum):
    SENT_NOW = "sent_now"
    SENT_BEFORE = "sent_before"
    FAILED_BEFORE = "failed_before"  # failed for good, and not to be tried again


def send_once(
    sessions: sessionmaker[Session],
    values: dict[str, Any],
    send: Callable[[], object],
    *,
    permanent: tuple[type[Exception], ...],
    again_after_failure: bool,
    lease: timedelta = CLAIM_LEASE,
    now: Callable[[], datetime] = utcnow,
) -> Delivery:
    """Send the email of this outbox row at most once, however many attempts overlap.

    The row (created on first sight) is claimed in its own transaction, and `send` runs
    outside any transaction: an exception in `permanent` marks the row failed, any other puts
    it back to pending; both propagate. A failed email is claimed again only
    `again_after_failure`. Raises `ClaimHeld` while another attempt holds the row.
    """
    key = values["key"]
    with transaction(sessions) as session:
        add_to_outbox(session, values)
        token = claim_email(session, key, now(), lease, again_after_failure=again_after_failure)
        status = outbox_status(session, key)
    if token is None:
        if status == SENT:
            return Delivery.SENT_BEFORE
        if status == FAILED:
            return Delivery.FAILED_BEFORE
        raise ClaimHeld(f"email {key} is being sent by another attempt")
    try:
        send()
    except permanent as err:
        with transaction(sessions) as session:
            mark_failed(session, key, str(err))
        raise
    except Exception as err:
        with transaction(sessions) as session:
            release_claim(session, key, token, f"{type(err).__name__}: {err}")
        raise
    with transaction(sessions) as session:
        mark_sent(session, key, now())
    return Delivery.SENT_NOW


def claim_email(
    session: Session, key: str, now: datetime, lease: timedelta, *, again_after_failure: bool
) -> str | None:
    """Move the row to `sending` for one attempt: from pending, from an expired claim, or (if
    `again_after_failure`) from failed. One conditional UPDATE, so of attempts at the same
    moment exactly one changes the row; its claim's token, or None for the others."""
    claimable = [
        OutboundEmail.status == PENDING,
        and_(OutboundEmail.status == SENDING, OutboundEmail.claimed_until < now),
    ]
    if again_after_failure:
        claimable.append(OutboundEmail.status == FAILED)
    token = uuid.uuid4().hex
    claimed = session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.key == key, or_(*claimable))
        .values(status=SENDING, claim=token, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return token if cast(CursorResult[Any], claimed).rowcount == 1 else None


def release_claim(session: Session, key: str, token: str, error: str) -> None:
    """The attempt did not send (a transient failure): the next one may claim the row at once."""
    session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.key == key, OutboundEmail.claim == token)
        .values(status=PENDING, claimed_until=None, error=error[:10_000])
        .execution_options(synchronize_session=False)
    )


def outbox_status(session: Session, key: str) -> str | None:
    return session.scalar(select(OutboundEmail.status).where(OutboundEmail.key == key))


def outbox_entry(session: Session, key: str) -> OutboundEmail | None:
    return session.get(OutboundEmail, key)


def add_to_outbox(session: Session, values: dict[str, Any]) -> OutboundEmail:
    """The outbox row for this key, created on first sight, even by two attempts at once."""
    existing = session.get(OutboundEmail, values["key"])
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            row = OutboundEmail(**values)
            session.add(row)
        return row
    except IntegrityError:
        winner = session.get(OutboundEmail, values["key"], populate_existing=True)
        assert winner is not None
        return winner


def mark_sent(session: Session, key: str, at: datetime) -> None:
    row = session.get(OutboundEmail, key)
    assert row is not None
    row.status = SENT
    row.sent_at = at
    row.error = ""
    row.claimed_until = None


def mark_failed(session: Session, key: str, error: str) -> None:
    row = session.get(OutboundEmail, key)
    if row is not None:
        row.status = FAILED
        row.error = error[:10_000]
        row.claimed_until = None


def recent_message_ids(session: Session, number: str, limit: int = 5) -> list[str]:
    """Our latest Message-IDs on this case, oldest first, for References."""
    query = (
        select(OutboundEmail.message_id)
        .where(OutboundEmail.case_number == number, OutboundEmail.status == SENT)
        .order_by(OutboundEmail.sent_at.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(query))))


def case_outbox(session: Session, number: str) -> list[OutboundEmail]:
    """Every email we sent (or tried to send) about this case, oldest first."""
    query = select(OutboundEmail).where(OutboundEmail.case_number == number)
    return list(session.scalars(query.order_by(OutboundEmail.created_at, OutboundEmail.key)))


# ---------------------------------------------------------------------------------------------
# Bounces and loop protection

ACK_TEMPLATE = "ack"


def case_of_our_email(session: Session, message_ids: list[str]) -> str | None:
    """The case of the email we sent with one of these Message-IDs, whoever it went to.

    Unlike `case_by_message_ids` this counts agent notices too: a bounce of any of our emails
    belongs to its case.
    """
    row = our_email(session, message_ids)
    return row.case_number if row is not None else None


def our_email(session: Session, message_ids: list[str]) -> OutboundEmail | None:
    """The outbox row of the email we sent with one of these Message-IDs."""
    ids = [m for m in message_ids if m]
    if not ids:
        return None
    query = select(OutboundEmail).where(OutboundEmail.message_id.in_(ids))
    return session.scalars(query.order_by(OutboundEmail.created_at)).first()


def acks_sent_since(session: Session, address: str, since: datetime) -> int:
    """Acknowledgements addressed to this address since then (refused ones do not count)."""
    return sent_since(session, address, ACK_TEMPLATE, since)


def sent_since(session: Session, address: str, template: str, since: datetime) -> int:
    """Emails of this template addressed to this address since then (refused ones do not
    count): what per-sender limits on automatic replies count."""
    query = select(func.count()).where(
        OutboundEmail.to_address == address.strip().lower(),
        OutboundEmail.template == template,
        OutboundEmail.created_at >= since,
        OutboundEmail.status != FAILED,
    )
    return int(session.scalar(query) or 0)


def mark_refused(session: Session, dedup_key: str, reason: str) -> None:
    row = inbound_by_key(session, dedup_key)
    if row is not None:
        row.status = REFUSED
        row.reason = reason[:10_000]


# ---------------------------------------------------------------------------------------------
# Retries and quarantine of inbound messages


def inbound_by_id(session: Session, row_id: int) -> InboundMessage | None:
    return session.get(InboundMessage, row_id)


def schedule_retry(session: Session, dedup_key: str, reason: str, at: datetime) -> None:
    """The message's hand-off failed; it is taken in again no sooner than `at`."""
    row = inbound_by_key(session, dedup_key)
    if row is not None:
        row.reason = reason[:10_000]
        row.next_attempt_at = at


def reopen(session: Session, row: InboundMessage) -> None:
    """A quarantined message about to be taken in again, with a clean slate."""
    row.status = RECEIVED
    row.reason = ""
    row.attempts = 0
    row.next_attempt_at = None


# ---------------------------------------------------------------------------------------------
# Per-address limits on automatic emails, counted as each email is sent

# What the advisory lock of an address hashes (PostgreSQL): the address in a space of its own.
_ADDRESS_LOCK = "caseflow:outbox-address:"


@dataclass(frozen=True)
class SendLimit:
    """At most `count` emails of one template to one address within `window`: the per-sender
    limits on acknowledgements and on the intake's notices."""

    count: int
    window: timedelta = timedelta(hours=24)


class LimitReached(Exception):
    """The address has had `sent` emails of this kind in the window, the limit being `limit`:
    this one is not sent, and no outbox row is kept for it."""

    def __init__(self, sent: int, limit: int) -> None:
        super().__init__(f"limit of {limit} per address reached ({sent} sent in the window)")
        self.sent = sent
        self.limit = limit


def send_once_within(
    sessions: sessionmaker[Session],
    values: dict[str, Any],
    send: Callable[[], object],
    limit: SendLimit | None,
    *,
    permanent: tuple[type[Exception], ...],
    again_after_failure: bool,
    lease: timedelta = CLAIM_LEASE,
    now: Callable[[], datetime] = utcnow,
) -> Delivery:
    """`send_once`, if the email's address has room under `limit` (None: no limit); raises
    `LimitReached` otherwise.

    The room is taken when the outbox row is created (`take_slot`), in a transaction of its own
    serialised per address: of emails to one address at the same moment, in any process, at
    most `limit.count` are sent. A retry of an email that has its row counts nothing again.
    """
    if limit is not None:
        with transaction(sessions) as session:
            take_slot(session, values, limit, now(), again_after_failure=again_after_failure)
    return send_once(
        sessions,
        values,
        send,
        permanent=permanent,
        again_after_failure=again_after_failure,
        lease=lease,
        now=now,
    )


def take_slot(
    session: Session,
    values: dict[str, Any],
    limit: SendLimit,
    at: datetime,
    *,
    again_after_failure: bool,
) -> None:
    """Count this email against its address's limit, once: create its outbox row (pending) if
    the address had fewer than `limit.count` emails of its template in the window before `at`,
    else raise `LimitReached`. A row that exists holds its slot already; a failed one gave it
    back, and takes it again here if it is to be sent again."""
    address = str(values["to_address"]).strip().lower()
    lock_address(session, address)
    row = session.get(OutboundEmail, values["key"], populate_existing=True)
    if row is not None and (row.status != FAILED or not again_after_failure):
        return
    sent = sent_since(session, address, str(values["template"]), at - limit.window)
    if sent >= limit.count:
        raise LimitReached(sent, limit.count)
    if row is None:
        add_to_outbox(session, values)
    else:
        row.status = PENDING


def lock_address(session: Session, address: str) -> None:
    """Until the transaction ends, whoever counts emails to this address waits. PostgreSQL: an
    advisory transaction lock on the address (at READ COMMITTED, the count after it sees what
    the previous holder committed); SQLite: nothing to take, since a writing transaction holds
    the database's one write lock from its BEGIN IMMEDIATE (`store.db`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_ADDRESS_LOCK + address))))


# ---------------------------------------------------------------------------------------------
# One SMTP transaction per recipient (VERP), and the email a bounce's token names


def handed_over(session: Session, key: str) -> set[int]:
    """The recipients (indexes in `recipients`) this email was handed over to so far."""
    row = session.get(OutboundEmail, key)
    return {int(i) for i in row.handed_over or []} if row is not None else set()


def mark_handed_over(session: Session, key: str, index: int) -> None:
    """The mail server accepted the email for this recipient: no attempt sends it them again."""
    row = session.get(OutboundEmail, key)
    if row is not None and index not in (row.handed_over or []):
        row.handed_over = sorted({*(row.handed_over or []), index})  # a new list, so it is seen


def email_of_bounce_token(
    session: Session, case_number: str, names: Callable[[str], bool]
) -> OutboundEmail | None:
    """The email of this case whose business key a bounce token names (`names(key)`)."""
    query = select(OutboundEmail.key).where(OutboundEmail.case_number == case_number)
    keys = session.scalars(query)
    key = next((k for k in keys if names(k)), None)
    return session.get(OutboundEmail, key) if key is not None else None


@dataclass(frozen=True)
class MailCounts:
    """What waits in the mail tables now, for the operators' metrics."""

    emails_waiting: int  # outbox rows not yet sent (pending, or claimed by a sending attempt)
    emails_failed: int
    quarantined: int
    noise: int
    intake_waiting: int  # taken in, not yet handed to a case (a retry of the hand-off waits)


def mail_counts(session: Session) -> MailCounts:
    """Counts by status, two grouped queries over indexed columns."""
    outbox = _by_status(session, OutboundEmail.status)
    inbound = _by_status(session, InboundMessage.status)
    return MailCounts(
        emails_waiting=outbox.get(PENDING, 0) + outbox.get(SENDING, 0),
        emails_failed=outbox.get(FAILED, 0),
        quarantined=inbound.get(QUARANTINED, 0),
        noise=inbound.get(NOISE, 0),
        intake_waiting=inbound.get(RECEIVED, 0),
    )


def _by_status(session: Session, status: InstrumentedAttribute[str]) -> dict[str, int]:
    query = select(status, func.count()).group_by(status)
    return dict(session.execute(query).all())
