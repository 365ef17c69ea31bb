"""Polite notices to people whose message the intake could not take in: it was too large, or a
record creation rule refused it (an unknown sender, an exhausted entitlement).

Sent once per message: the outbox row's key (`notice:oversized:<dedup key>`) is the business
key, so a re-read of the message, or a second intake, sends nothing more. Never sent to
automatic senders (the caller checks the message's class).

In the sender's language: their contact's, if they are a contact who said, else the
organisation's default (the subject too: `compose.SUBJECTS`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from caseflow import i18n
from caseflow.intake.parse import ParsedEmail
from caseflow.mail import compose, smtp, verp
from caseflow.settings import Settings
from caseflow.store import directory, messages
from caseflow.store.db import transaction

logger = logging.getLogger(__name__)

OVERSIZED = "notice_oversized"
REFUSED = "notice_refused"
# Not "customer": replies to a notice must not thread onto a case through its Message-ID.
AUDIENCE = "notice"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Notice:
    key: str
    reference: str
    template: str
    to: str
    subject: str
    in_reply_to: str
    context: dict[str, Any]


def oversized_notice(header: ParsedEmail, size: int, limit: int) -> Notice:
    """The notice for a message of `size` bytes over the `limit`, from its parsed header."""
    key = f"notice:oversized:{header.dedup_key}"
    return Notice(
        key=key,
        reference=reference(key),
        template=OVERSIZED,
        to=header.sender,
        subject=f"Your message was too large: {header.subject or '(no subject)'}"[:990],
        in_reply_to=header.message_id,
        context={
            "customer_name": header.sender_name,
            "case_subject": header.subject or "(no subject)",
            "size_mb": f"{size / MEGABYTE:.1f}",
            "limit_mb": f"{limit / MEGABYTE:.1f}",
        },
    )


def refused_notice(parsed: ParsedEmail, refusal: str, entitlement: str = "") -> Notice:
    """The notice for a message a record creation rule refused (`refusal`: its code)."""
    key = f"notice:refused:{parsed.dedup_key}"
    return Notice(
        key=key,
        reference=reference(key),
        template=REFUSED,
        to=parsed.sender.strip().lower(),
        subject=f"We could not open a request: {parsed.subject or '(no subject)'}"[:990],
        in_reply_to=parsed.message_id,
        context={
            "customer_name": parsed.sender_name,
            "case_subject": parsed.subject or "(no subject)",
            "sender": parsed.sender,
            "refusal": refusal,
            "entitlement": entitlement,
        },
    )


def reference(key: str) -> str:
    """A short reference the sender can quote; support staff find the message by it."""
    return "REF-" + hashlib.sha256(key.encode()).hexdigest()[:10].upper()


def send_notice(
    settings: Settings,
    sessions: sessionmaker[Session],
    notice: Notice,
    templates: compose.Templates | None = None,
    limit: messages.SendLimit | None = None,
) -> bool:
    """Send it unless it was sent already; answers whether it went out now. With a `limit`,
    raises `messages.LimitReached` when its address had that many of its kind already (counted
    as the outbox row is created, one address at a time, so two intakes at once cannot both
    send the last one).

    It goes through the outbox's claim, as the workflows' emails do: of two intakes at the same
    moment, one sends. A transient SMTP failure, or another intake sending it right now,
    propagates (the message stays for the next pass, which tries again); a permanent failure
    is recorded on the outbox row and not retried.

    In the language of `templates` when given, else the sender's (`language_for`).
    """
    if templates is None:
        templates = compose.Templates(language=language_for(settings, sessions, notice.to))
    message = compose.build(_outgoing(settings, notice), templates, settings.support_domain)
    subject = compose.localized_subject(notice.template, notice.subject, templates.language)
    message.replace_header("Subject", subject[:990])
    config = smtp.SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        use_ssl=settings.smtp_ssl,
    )
    try:
        delivered = messages.send_once_within(
            sessions,
            _outbox_row(notice, message["Message-ID"], subject[:990]),
            lambda: smtp.send_each(config, message, [_envelope(settings, notice)], _nothing),
            limit,
            permanent=(smtp.PermanentMailError,),
            again_after_failure=False,
        )
    except smtp.PermanentMailError as err:
        logger.info("notice %s refused for good: %s", notice.reference, err)
        return False
    if delivered is not messages.Delivery.SENT_NOW:
        return False
    logger.info("notice %s sent (%s)", notice.reference, notice.template)
    return True


def language_for(settings: Settings, sessions: sessionmaker[Session], address: str) -> str:
    """The language a notice to this address speaks: its contact's, else the default."""
    with transaction(sessions, writes=False) as session:
        contact = directory.language_of(session, address)
    return i18n.choose_language(contact, None, settings.default_language)


def _envelope(settings: Settings, notice: Notice) -> smtp.Envelope:
    """VERP, as for the cases' emails: a notice names no case, so its token carries its
    reference, and a bounce of it is recorded but lands on no case."""
    secret = settings.secret_key.get_secret_value()
    support = settings.support_address
    sender = verp.envelope_sender(secret, support, notice.reference, notice.key, 0)
    return smtp.Envelope(sender, notice.to, plain=support)


def _nothing(_: smtp.Envelope) -> None:
    """A notice has one recipient: its outbox row records it sent."""


def _outbox_row(notice: Notice, message_id: str, subject: str) -> dict[str, Any]:
    return {
        "key": notice.key,
        "case_number": "",
        "message_id": message_id,
        "template": notice.template,
        "audience": AUDIENCE,
        "recipients": [notice.to],
        "to_address": notice.to,
        "subject": subject,
    }


def _outgoing(settings: Settings, notice: Notice) -> compose.Outgoing:
    return compose.Outgoing(
        key=notice.key,
        case_number=notice.reference,
        template=notice.template,
        subject=notice.subject,
        sender=settings.support_address,
        sender_name=settings.support_name,
        recipients=[notice.to],
        context=notice.context,
        date=datetime.now(UTC),
        auto_submitted="auto-replied",
        in_reply_to=notice.in_reply_to,
    )
