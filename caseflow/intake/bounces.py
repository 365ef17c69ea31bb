"""Bounces: which recipients failed, which of our emails bounced, and so which case it concerns.

Reading a bounce is a pure function over the message as parsed (`read_bounce`); finding its
case takes a look-up of our outbox (`locate`). A mail server's report with a null sender
(`From: MAILER-DAEMON <>`) has no address the strict parser accepts, so `lenient_parse` reads
it, so that it is recorded as a bounce rather than quarantined as malformed.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses

import flufl.bounce
from sqlalchemy.orm import Session, sessionmaker

from caseflow import signing
from caseflow.intake.headers import Headers
from caseflow.intake.parse import (
    MAX_TEXT,
    ParsedEmail,
    dedup_key,
    is_address,
    message_ids,
    normalize_message_id,
)
from caseflow.mail import verp
from caseflow.store import directory, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import InboundEmail, MailClass, excerpt

logger = logging.getLogger(__name__)

BOUNCE_METHOD = "bounce"

# Parts that carry the message that could not be delivered, or its header.
RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers")
# Senders that are mail servers or list managers, never people, by the local part of the
# address alone: the servers' own names, `ndr` (Exchange and GroupWise gateways), Exchange's
# `MicrosoftExchange<hex>`, the list managers (Mailman, Majordomo, LISTSERV) and Mailman's
# `x-bounces`.
SYSTEM_SENDER = re.compile(
    r"^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|post_master|mail\.delivery"
    r"|ndr|ndr[-._][^@]*|[^@]+-bounces|mailman|majordomo|listserv|listproc"
    r"|microsoftexchange[0-9a-f]{8,})@",
    re.I,
)
# Senders that are most likely a system (a list's owner and request addresses, anything named
# a mail service or a gateway, MTAs' accounts, antivirus and content filters), but that a team
# or a person may be called too (`product-owner@`, `access-request@`, `payments-gateway@`,
# `root@` of a small shop): alone, they keep an acknowledgement away; with a report's words or
# a returned message they are a mail system's.
SYSTEM_LIKE_SENDER = re.compile(
    r"^([^@]*-owner|owner-[^@]+|[^@]+-bounce|[^@]+-request"
    r"|[^@]*mail[^@]*service[^@]*|[^@]*gateway[^@]*"
    r"|root|daemon|mdaemon|mailer|smtp|mta|exim|qmail|sendmail|mailsrv"
    r"|[^@]*(anti-?virus|virus-?(alert|scan|wall)|mail-?scanner|amavis|clamav|quarantine"
    r"|mailsweeper|spam-?filter|content-?filter|barracuda|ironport|mimecast|proofpoint|sophos"
    r"|symantec|trend-?micro|fortimail|messagelabs|postini|mailmarshal|spamassassin|spamtitan"
    r")[^@]*)@",
    re.I,
)
_NULL_SENDER_NAME = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)
# What mail servers write when they return a message; read only where other signs agree.
BOUNCE_WORDS = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|undelivered mail"
    r"|delivery (status notification|has failed|failed|failure)|mail delivery failed"
    r"|returned mail|error delivering|not be delivered|could not deliver|permanent (fatal )?error"
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
_DELAY_WORDS = re.compile(
    r"delay|retried|retrying|not (yet )?been delivered|will (continue|keep) trying|retry"
    r"|warning (message )?only|warning: (message|could not send)"
    r"|verz[öo]ger|erneut versucht|diff[ée]r[ée]|nouvel essai|ritardat|non [èe] stato ancora"
    r"|nuovi tentativi|atrasad|nova tentativa|retrasad|se reintentar[áa]",
    re.I,
)
_MODERATION_WORDS = re.compile(
    r"moderat|approval|held for|genehmigung|approbation|approvazione", re.I
)
_VIRUS_WORDS = re.compile(
    r"virus|malware|infected|quarantin|content filter|blocked attachment|dangerous attachment",
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


def read_bounce(raw: bytes | Message) -> Bounce:
    """The failed recipients (RFC 3464 fields, X-Failed-Recipients, flufl.bounce's detectors)
    and the Message-IDs and addresses of the returned message, whatever form the report takes;
    from the message as parsed (its bytes are parsed only when that is all there is)."""
    msg: Message = (
        raw
        if isinstance(raw, Message)
        else email.message_from_bytes(raw, policy=email.policy.default)
    )
    final, delayed, status = _delivery_status(msg)
    temporary, permanent = detected(msg)
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


@dataclass(frozen=True)
class Location:
    """The case a bounce concerns and, when its VERP token says so, the one recipient whose
    copy bounced (exact: the report's own words may name no one, or someone else)."""

    case_number: str
    recipient: str = ""

    def told(self, bounce: Bounce) -> Bounce:
        """The bounce as its case is told of it: failed for the token's recipient, if any."""
        return replace(bounce, failed=[self.recipient]) if self.recipient else bounce


def locate(
    bounce: Bounce,
    parsed: ParsedEmail,
    secret: str,
    support_address: str,
    case_of_our_email: Callable[[list[str]], str | None],
    recipients_of: Callable[[signing.BounceClaims], list[str] | None] | None = None,
) -> Location | None:
    """The case whose email bounced: by the VERP token of the address it came back to, with
    its recipient (`recipients_of`: the recipients of the email a token names, None for no
    email of ours); else by our Message-ID in the returned message (or the bounce's own
    references), else by the signed reply address it was returned with."""
    if recipients_of is not None:
        found = verp_location(bounce, parsed, secret, recipients_of)
        if found is not None:
            return found
    number = case_of_our_email(
        _unique(bounce.returned_ids + parsed.in_reply_to + parsed.references)
    )
    if number is None:
        addresses = bounce.returned_addresses + parsed.to + parsed.delivered_to
        number = signed_case(addresses, secret, support_address)
    return Location(number) if number is not None else None


def verp_location(
    bounce: Bounce,
    parsed: ParsedEmail,
    secret: str,
    recipients_of: Callable[[signing.BounceClaims], list[str] | None],
) -> Location | None:
    """The case and recipient a genuine `+b.` token names: in the address the bounce was
    delivered to (Delivered-To, X-Original-To, Envelope-To), its To (a report goes to the
    envelope sender), or the returned message's Return-Path. A forged token, or one naming no
    email of ours, is passed over."""
    envelope_to = _addresses(_get(parsed.message, "envelope-to")) if parsed.message else []
    addresses = parsed.delivered_to + envelope_to + parsed.to + bounce.returned_addresses
    for claims in verp.bounce_claims(secret, addresses):
        recipients = recipients_of(claims)
        if recipients is not None and claims.recipient < len(recipients):
            return Location(claims.tag, recipients[claims.recipient].strip().lower())
    return None


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


def notice_kind(text: str) -> str:
    """What sort of notice a mail system wrote, by its words: for the reasons people read."""
    head = text[:3000]
    if _VIRUS_WORDS.search(head):
        return "antivirus or content gateway notice"
    if _MODERATION_WORDS.search(head):
        return "moderation notice"
    if _DELAY_WORDS.search(head) and not re.search(r"\b5\.\d{1,3}\.\d{1,3}\b", head):
        return "delay notice"
    return "non-delivery report"


def is_null_sender(msg: Message) -> bool:
    """`From: MAILER-DAEMON <>`, `From: <>` or a mail system's name without any address: a mail
    server speaking for itself."""
    value = _get(msg, "from")
    pairs = getaddresses([value])
    if any("@" in a for _, a in pairs):
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
    worded = looks_like_bounce_text(subject, text)
    if "from" in msg:
        if not is_null_sender(msg):
            return None  # a sender that is neither an address nor a mail system's: malformed
        if not (worded or has_returned_message(msg) or is_delivery_report(msg)):
            return None
    elif not (worded or is_delivery_report(msg)):
        return None  # no sender at all, and no words or report say that a mail server wrote
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
        message=msg,
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


def detected(msg: Message) -> tuple[set[str], set[str]]:
    """flufl.bounce's scanners: the temporary and the permanent failures they find."""
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
# Taking a bounce in: its case found, the failed address marked (the intake then signals the
# case, or records the bounce as noise: `pipeline.decide`)


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


def locate_and_mark(sessions: sessionmaker[Session], found: Located) -> Location | None:
    """The case (and recipient) whose email bounced, None for no email of ours; the failed
    addresses we did mail are marked failing (a stray bounce, backscatter or a forgery, must
    stop no one's mail)."""
    bounce = found.bounce
    with transaction(sessions) as session:

        def recipients_of(claims: signing.BounceClaims) -> list[str] | None:
            row = messages.email_of_bounce_token(session, claims.tag, claims.names)
            return [str(r) for r in row.recipients] if row is not None else None

        location = locate(
            bounce,
            found.parsed,
            found.secret,
            found.support_address,
            lambda ids: messages.case_of_our_email(session, ids),
            recipients_of,
        )
        if location is not None and bounce.permanent:
            number = location.case_number
            reason = f"{bounce.status or 'bounced'}: {found.parsed.subject}"
            ids = bounce.returned_ids + found.parsed.in_reply_to + found.parsed.references
            # The token's recipient is one we mailed: its copy is the one that bounced.
            failing = [location.recipient] if location.recipient else []
            for address in failing or _ours_to_mark(session, bounce.failed, ids, number):
                directory.mark_email_failing(session, address, reason, datetime.now(UTC))
        return location


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


def inbound(parsed: ParsedEmail, bounce: Bounce, reason: str = "") -> InboundEmail:
    """The bounce as its case's workflow gets it; `reason`: the detectors' findings."""
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
        reason=reason[:1000],
    )
