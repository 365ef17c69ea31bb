"""The portal's one email: a sign-in link, sent through the outbox as the intake's notices are.

Sent once (its outbox row's key names the link), claimed as every email is
(`store.messages.send_once_within`), and at most `portal_auth.LINKS_PER_WINDOW` to one address
in `LINK_WINDOW`, counted as the row is created, so that a burst of requests cannot flood a
mailbox. Its audience is `notice`: a reply to it threads onto no case. In the language of the
page that asked for it (the caller's `language`), else the organisation's default.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from caseflow import i18n
from caseflow.api import portal_auth
from caseflow.mail import compose, smtp, verp
from caseflow.settings import Settings
from caseflow.store import messages

logger = logging.getLogger(__name__)

TEMPLATE = "portal_sign_in"
AUDIENCE = "notice"
SUBJECT = "Your sign-in link"  # compose.SUBJECTS["portal_sign_in"], translated there


def send_sign_in_link(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    to: str,
    name: str,
    url: str,
    link_hash: str,
    language: str | None = None,
) -> bool:
    """Email the link unless the address had its hour's worth; whether it went out now.
    Blocking (SMTP): run it in the thread pool. In `language` (a language tag: the page's;
    one Caseflow does not speak, or None, is the organisation's default)."""
    language = i18n.choose_language(language, None, settings.default_language)
    key = f"portal:sign-in:{link_hash}"
    reference = "LNK-" + link_hash[:10].upper()
    minutes = int(portal_auth.LINK_LIFETIME.total_seconds() // 60)
    outgoing = compose.Outgoing(
        key=key,
        case_number=reference,
        template=TEMPLATE,
        subject=SUBJECT,
        sender=settings.support_address,
        sender_name=settings.support_name,
        recipients=[to],
        context={"customer_name": name, "sign_in_url": url, "minutes": str(minutes)},
        date=datetime.now(UTC),
    )
    message = compose.build(outgoing, compose.Templates(language=language), settings.support_domain)
    subject = compose.localized_subject(TEMPLATE, SUBJECT, language)
    message.replace_header("Subject", f"{subject} · {settings.support_name}")
    secret = settings.secret_key.get_secret_value()
    sender = verp.envelope_sender(secret, settings.support_address, reference, key, 0)
    row = {
        "key": key,
        "case_number": "",
        "message_id": message["Message-ID"],
        "template": TEMPLATE,
        "audience": AUDIENCE,
        "recipients": [to],
        "to_address": to,
        "subject": str(message["Subject"]),
    }
    limit = messages.SendLimit(portal_auth.LINKS_PER_WINDOW, portal_auth.LINK_WINDOW)
    try:
        delivered = messages.send_once_within(
            sessions,
            row,
            lambda: smtp.send(_smtp(settings), message, sender, [to]),
            limit,
            permanent=(smtp.PermanentMailError,),
            again_after_failure=False,
        )
    except messages.LimitReached:
        logger.info("no sign-in link sent: the address had %d this hour", limit.count)
        return False
    except smtp.PermanentMailError as err:
        logger.info("sign-in link %s refused for good: %s", reference, err)
        return False
    return delivered is messages.Delivery.SENT_NOW


def _smtp(settings: Settings) -> smtp.SmtpConfig:
    return smtp.SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        use_ssl=settings.smtp_ssl,
    )
