"""Bounces: which recipients failed, which of our emails bounced, and so which case it concerns.

Reading a bounce is a pure function over bytes (`read_bounce`); finding its case takes a look-up
of our outbox (`locate`). A mail server's report with a null sender (`From: MAILER-DAEMON <>`)
has no address the strict parser accepts, so `lenient_parse` reads it, so that it is recorded
as a bounce rather than quarantined as malformed.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses

import flufl.bounce
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from caseflow import signing
from caseflow.client import signal_email
from caseflow.intake.headers import Headers
from caseflow.intake.parse import (
    MAX_TEXT,
    ParsedEmail,
    dedup_key,
    is_address,
    message_ids,
    normalize_message_id,
)
from caseflow.store import directory, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import InboundEmail, MailClass, excerpt

logger = logging.getLogger(__name__)

BOUNCE_METHOD = "bounce"

# Parts that carry the message that could not be delivered, or its header.
RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers")
# Senders that are mail servers, list managers or gateways, not people, by the local part of
# the address: the servers' own names; `ndr` (Exchange and GroupWise gateways); a list's owner,
# bounce and request addresses (`x-owner`, `owner-x`, `x-bounces`, `x-request`) and its manager
# (Mailman, Majordomo, LISTSERV); anything named a mail service or a gateway (`mailservice`,
# `e-mail-services`, `smtp-gateway`, `gatewaymail`).
SYSTEM_SENDER = re.compile(
    r"^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|post_master|mail\.delivery"
    r"|ndr|ndr[-._][^@]*|[^@]*-owner|owner-[^@]+|[^@]+-bounces?|[^@]+-request"
    r"|mailman|majordomo|listserv|listproc"
    r"|[^@]*mail[^@]*service[^@]*|[^@]*gateway[^@]*)@",
    re.I,
)
_NULL_SENDER_NAME = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)
# What mail servers write when they return a message; read only where other signs agree.
BOUNCE_WORDS = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|undelivered mail"
    r"|delivery (status notification|has failed|failed|failure)|mail delivery failed"
    r"|returned mail|error delivering|not be delivered|permanent (fatal )?error"
    r"|no such user|user unknown|unknown user|invalid (user|recipient|mailbox)"
    r"|mailbox (is )?(full|unavailable)|recipient address rejected"
    r"|\b55[0-4][ -]"
    # Delays, moderation and antivirus or content gateways, which return nothing yet
    r"|delivery (is )?delayed|delayed mail|still being retried"
    r"|has not (yet )?been delivered|will (continue|keep) trying"
    r"|awaiting moderator|awaits moderator approval|held for moderation|requires approval"
    r"|virus (found|detected|alert)|infected|has been quarantined|content filter"
    # de
    r"|unzustellbar|nicht zugestellt|konnte nicht zugestellt|zustellung fehlgeschlagen"
    r"|zustellungsbenachrichtigung|verz[öo]gerte zustellung"
    # fr
    r"|non remis|n'a pas pu [êe]tre (remis|d[ée]livr[ée])|impossible de remettre"
    r"|[ée]chec de (la )?remise|message non distribu[ée]|remise diff[ée]r[ée]e"
    # it
    r"|non recapitabile|non [èe] stato possibile recapitare|impossibile recapitare"
    r"|mancato recapito|consegna non riuscita|recapito ritardato"
    # pt
    r"|n[ãa]o (foi poss[íi]vel entregar|p[ôo]de ser entregue)|falha na entrega"
    r"|n[ãa]o entregue|entrega atrasada"
    # es
    r"|no se (pudo|puede) entregar|no pudo ser entregado|error (en la|de) entrega"
    r"|mensaje no entregado|imposible entregar|entrega retrasada",
    re.I,
)
_ID_LINE = re.compile(r"^(?:message-id|in-reply-to|references):[ \t]*(.+)$", re.I | re.M)
# "RCPT TO: x", "Could not be delivered to: <x>": where a server names the address in prose.
_FAILED_IN_TEXT = re.compile(
    r"(?:rcpt to|delivered to|delivering your mail to|delivery to|recipient(?: address)?"
    r"|failed recipient)s?:?\s*<?([^\s<>@\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?",
    re.I,
)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


class _Quiet(logging.Filter):
    """flufl.bounce logs a traceback for each of its detectors that trips over odd mail;
    that is expected with hostile input and says nothing about ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


logging.getLogger("flufl.bounce").addFilter(_Quiet())


@dataclass(frozen=True)
class Bounce:
    """What a bounce says: the failed recipients and the identity of the returned message."""

    failed: list[str] = field(default_factory=list)
    permanent: bool = True
    status: str = ""
    returned_ids: list[str] = field(default_factory=list)
    returned_addresses: list[str] = field(default_factory=list)


def read_bounce(raw: bytes) -> Bounce:
    """The failed recipients (RFC 3464 fields, X-Failed-Recipients, flufl.bounce's detectors)
    and the Message-IDs and addresses of the returned message, whatever form the report takes."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    final, delayed, status = _delivery_status(msg)
    temporary, permanent = _detected(msg)
    listed = _addresses(_get(msg, "x-failed-recipients"))
    failed = _unique(final + listed + sorted(permanent))
    delayed_only = False
    if not failed:
        failed = _unique(delayed + sorted(temporary))
        delayed_only = bool(failed)
    if not failed:
        failed = _named_in_text(report_text(msg))
    if not status:
        status = _first_status(msg)
    ids, addresses = _returned_identity(msg)
    return Bounce(
        failed=failed,
        permanent=not delayed_only and not status.startswith("4"),
        status=status,
        returned_ids=ids,
        returned_addresses=addresses,
    )


def locate(
    bounce: Bounce,
    parsed: ParsedEmail,
    secret: str,
    support_address: str,
    case_of_our_email: Callable[[list[str]], str | None],
) -> str | None:
    """The case whose email bounced: by our Message-ID in the returned message (or the
    bounce's own references), else by the signed reply address it was returned with."""
    number = case_of_our_email(
        _unique(bounce.returned_ids + parsed.in_reply_to + parsed.references)
    )
    if number is not None:
        return number
    addresses = bounce.returned_addresses + parsed.to + parsed.delivered_to
    return signed_case(addresses, secret, support_address)


def signed_case(addresses: list[str], secret: str, support_address: str) -> str | None:
    """The case a signed reply address `support+<token>@domain` among these names."""
    local, _, domain = support_address.lower().partition("@")
    for address in addresses:
        box, _, box_domain = address.lower().partition("@")
        base, plus, token = box.partition("+")
        if plus and base == local and box_domain == domain:
            number = signing.verify_reply_token(secret, token)
            if number is not None:
                return number
    return None


# ---------------------------------------------------------------------------------------------
# Structure shared with classification


def returned_parts(msg: Message) -> Iterator[Message]:
    for part in msg.walk():
        if part.get_content_type() in RETURNED_TYPES:
            yield part


def has_returned_message(msg: Message) -> bool:
    return next(returned_parts(msg), None) is not None


def looks_like_bounce_text(subject: str, text: str) -> bool:
    return bool(BOUNCE_WORDS.search(subject) or BOUNCE_WORDS.search(text[:5000]))


def is_null_sender(msg: Message) -> bool:
    """`From: MAILER-DAEMON <>` or `From: <>`: a mail server speaking for itself."""
    value = _get(msg, "from")
    pairs = getaddresses([value])
    if any(a.strip() and a.strip() != "<>" for _, a in pairs):
        return False
    return bool(_NULL_SENDER_NAME.search(value)) or "<>" in value


def is_delivery_report(msg: Message) -> bool:
    if msg.get_content_type() == "message/delivery-status":
        return True
    report_type = str(msg.get_param("report-type", "", header="content-type")).lower()
    return msg.get_content_type() == "multipart/report" and report_type == "delivery-status"


def lenient_parse(raw: bytes) -> ParsedEmail | None:
    """A mail server's report without a sender address, read as far as it goes; None for
    anything else, which stays malformed."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # the email package raises many kinds on hostile input
        return None
    if not isinstance(msg, email.message.EmailMessage) or not list(msg.keys()):
        return None
    subject = " ".join(", ".join(Headers.of(msg).all("subject")).split())[:998]
    text = report_text(msg)
    if is_null_sender(msg):
        evident = has_returned_message(msg) or looks_like_bounce_text(subject, text)
        if not (evident or is_delivery_report(msg)):
            return None
    elif "from" in msg or not is_delivery_report(msg):
        return None  # without any From, only a delivery report itself will do
    message_id = normalize_message_id(_get(msg, "message-id"))
    return ParsedEmail(
        dedup_key=dedup_key(message_id, "", _get(msg, "date"), subject, text),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        message_id=message_id,
        sender="",
        sender_name="MAILER-DAEMON",
        subject=subject,
        date=None,
        text=text[:MAX_TEXT],
        to=_addresses(_get(msg, "to")),
        delivered_to=_addresses(_get(msg, "delivered-to") + ", " + _get(msg, "x-original-to")),
        in_reply_to=message_ids(_get(msg, "in-reply-to")),
        references=message_ids(_get(msg, "references")),
        headers={"return-path": _get(msg, "return-path")} if "return-path" in msg else {},
        content_type=msg.get_content_type(),
        report_type=str(msg.get_param("report-type", "", header="content-type")).lower(),
    )


# ---------------------------------------------------------------------------------------------
# Reading the parts


def _delivery_status(msg: Message) -> tuple[list[str], list[str], str]:
    """RFC 3464: Final-Recipient (else Original-Recipient) of each block, failed or delayed."""
    failed: list[str] = []
    delayed: list[str] = []
    status = ""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            recipient = _recipient(block)
            action = _get(block, "action").strip().lower()
            if not recipient:
                continue
            (delayed if action in ("delayed", "relayed", "delivered") else failed).append(recipient)
            status = status or _get(block, "status").strip()[:20]
    return failed, delayed, status


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    # Some servers send the fields as an opaque body: parse them as headers, block by block.
    text = payload if isinstance(payload, str) else ""
    return [email.message_from_string(block.strip() + "\n") for block in text.split("\n\n")]


def _recipient(block: Message) -> str:
    for name in ("final-recipient", "original-recipient"):
        value = _get(block, name)
        address = value.partition(";")[2].strip() if ";" in value else value.strip()
        address = address.strip("<>").lower()
        if is_address(address):
            return address
    return ""


def _detected(msg: Message) -> tuple[set[str], set[str]]:
    try:
        temporary, permanent = flufl.bounce.all_failures(msg)
    except Exception:  # its detectors are heuristics over hostile input
        logger.debug("flufl.bounce failed on a bounce", exc_info=True)
        return set(), set()
    return _decoded(temporary), _decoded(permanent)


def _decoded(found: frozenset[bytes]) -> set[str]:
    result = set()
    for value in found:
        address = value.decode("utf-8", "replace").strip().strip("<>").lower()
        if is_address(address):
            result.add(address)
    return result


def _named_in_text(text: str) -> list[str]:
    found = [m.lower() for m in _FAILED_IN_TEXT.findall(text[:20_000])]
    return _unique([a for a in found if is_address(a)])[:5]


def _first_status(msg: Message) -> str:
    match = _STATUS.search(report_text(msg)[:5000])
    return match.group(1) if match else ""


def _returned_identity(msg: Message) -> tuple[list[str], list[str]]:
    """Message-IDs and addresses of the returned message: its attached copy or header, else
    the header lines a server pasted into its text."""
    ids: list[str] = []
    addresses: list[str] = []
    for part in returned_parts(msg):
        header = _returned_header(part)
        if header is None:
            continue
        for name in ("message-id", "in-reply-to", "references"):
            ids += message_ids(_get(header, name))
        for name in ("reply-to", "return-path", "from"):
            addresses += _addresses(_get(header, name))
    for line in _ID_LINE.findall(report_text(msg)[:50_000]):
        ids += message_ids(line)
    return _unique(ids), _unique(addresses)


def _returned_header(part: Message) -> Message | None:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    return email.message_from_bytes(data, policy=email.policy.default)


def report_text(msg: Message, limit: int = 50_000) -> str:
    """The plain text a mail server wrote, outside any returned message, for the heuristics."""
    texts: list[str] = []
    _collect_text(msg, texts, 0)
    return "\n".join(texts)[:limit]


def _collect_text(part: Message, texts: list[str], depth: int) -> None:
    if depth > 20 or part.get_content_type() in RETURNED_TYPES:
        return
    payload = part.get_payload()
    if isinstance(payload, list):
        for child in payload:
            if isinstance(child, Message):
                _collect_text(child, texts, depth + 1)
    elif depth == 0 or part.get_content_maintype() in ("text", "multipart"):
        # A multipart whose boundary was lost is one block of text.
        texts.append(_decoded_text(part))


def _decoded_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    try:
        return data.decode(str(part.get_content_charset() or "utf-8"), "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _get(msg: Message, name: str) -> str:
    """Every value of the header, decoded as the intake decodes headers; never raises."""
    return ", ".join(Headers(msg, None).all(name))


def _addresses(value: str) -> list[str]:
    result = []
    for _, address in getaddresses([value]):
        address = address.strip().lower()
        if is_address(address):
            result.append(address)
    return result


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# ---------------------------------------------------------------------------------------------
# Taking a bounce in: an event on its case, the failed address marked; never a new case


@dataclass(frozen=True)
class Handed:
    case_number: str | None
    detail: str


async def hand_off(
    client: Client,
    sessions: sessionmaker[Session],
    secret: str,
    support_address: str,
    parsed: ParsedEmail,
    raw: bytes,
) -> Handed:
    """Signal the case whose email bounced; a bounce of no email of ours is only recorded.

    A failed address is marked failing only when the bounce names one of our emails and we did
    mail that address: a stray bounce (backscatter, or a forgery) must stop no one's mail.
    """
    bounce = read_bounce(raw)
    found = Located(secret, support_address, parsed, bounce)
    number = await asyncio.to_thread(_locate_and_mark, sessions, found)
    if number is None:
        reason = "bounce of no email of ours"
        await asyncio.to_thread(_ignore, sessions, parsed.dedup_key, reason)
        return Handed(None, reason)
    try:
        await signal_email(client, number, _inbound(parsed, bounce))
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        reason = f"bounce for {number}, whose case has ended"
        await asyncio.to_thread(_ignore, sessions, parsed.dedup_key, reason)
        return Handed(None, reason)
    await asyncio.to_thread(_delivered, sessions, parsed.dedup_key, number)
    logger.info("bounce delivered to %s (%d failed)", number, len(bounce.failed))
    return Handed(number, BOUNCE_METHOD)


def mark_reachable(sessions: sessionmaker[Session], sender: str) -> None:
    """Mail from an address shows it works: mail to it is sent again."""
    if not sender:
        return
    with transaction(sessions) as session:
        if directory.mark_email_ok(session, sender):
            logger.info("a failing address wrote to us; mailing it again")


@dataclass(frozen=True)
class Located:
    secret: str
    support_address: str
    parsed: ParsedEmail
    bounce: Bounce


def _locate_and_mark(sessions: sessionmaker[Session], found: Located) -> str | None:
    bounce = found.bounce
    with transaction(sessions) as session:
        number = locate(
            bounce,
            found.parsed,
            found.secret,
            found.support_address,
            lambda ids: messages.case_of_our_email(session, ids),
        )
        if number is not None and bounce.permanent:
            reason = f"{bounce.status or 'bounced'}: {found.parsed.subject}"
            ids = bounce.returned_ids + found.parsed.in_reply_to + found.parsed.references
            for address in _ours_to_mark(session, bounce.failed, ids, number):
                directory.mark_email_failing(session, address, reason, datetime.now(UTC))
        return number


def _ours_to_mark(session: Session, failed: list[str], ids: list[str], number: str) -> list[str]:
    """Failed addresses we did mail: the bounced email's recipients, else the case's
    participants, so that a forged report cannot stop our mail to anyone else."""
    row = messages.our_email(session, ids)
    if row is not None:
        mailed = {str(r).lower() for r in row.recipients}
    else:
        case = messages.case_participants(session, number)
        mailed = set(case.participants) if case is not None else set()
    return [address for address in failed if address in mailed]


def _inbound(parsed: ParsedEmail, bounce: Bounce) -> InboundEmail:
    text, length = excerpt(parsed.text)  # the whole stays with the stored message
    return InboundEmail(
        key=parsed.dedup_key,
        sender=parsed.sender,
        subject=parsed.subject,
        received_at=parsed.date or datetime.now(UTC),
        text=text,
        text_length=length,
        sender_name=parsed.sender_name,
        message_id=parsed.message_id,
        mail_class=MailClass.BOUNCE,
        raw_sha256=parsed.raw_sha256,
        failed_recipients=bounce.failed[:20],
        permanent_failure=bounce.permanent,
    )


def _ignore(sessions: sessionmaker[Session], dedup_key: str, reason: str) -> None:
    with transaction(sessions) as session:
        messages.mark_ignored(session, dedup_key, reason)


def _delivered(sessions: sessionmaker[Session], dedup_key: str, number: str) -> None:
    with transaction(sessions) as session:
        messages.mark_delivered(session, dedup_key, number, BOUNCE_METHOD)
