"""Sending over SMTP, telling failures that will pass from those that will not."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import NoReturn


class TransientMailError(Exception):
    """The server is away or busy; try again later."""


class PermanentMailError(Exception):
    """The server refused the message or every recipient for good (5xx)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str = ""
    password: str = ""
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 30.0


def send(
    config: SmtpConfig, msg: EmailMessage, envelope_from: str, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    """Hand the message over; returns the recipients refused when others were accepted."""
    try:
        with _connect(config) as smtp:
            if config.user:
                smtp.login(config.user, config.password)
            refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as err:
        _raise_for_codes([code for code, _ in err.recipients.values()], str(err.recipients))
    except smtplib.SMTPResponseException as err:
        _raise_for_codes([err.smtp_code], f"{err.smtp_code} {err.smtp_error!r}")
    except (OSError, smtplib.SMTPException) as err:
        raise TransientMailError(f"{type(err).__name__}: {err}") from err
    return dict(refused)


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.use_ssl:
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    if config.starttls:
        smtp.starttls(context=ssl.create_default_context())
    return smtp


def _raise_for_codes(codes: list[int], detail: str) -> NoReturn:
    if codes and all(500 <= code < 600 for code in codes):
        raise PermanentMailError(detail)
    raise TransientMailError(detail)
