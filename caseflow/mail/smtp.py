"""Sending over SMTP, telling failures that will pass from those that will not."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import NoReturn


class TransientMailError(Exception):
    """The server is away or busy; try again later."""


class PermanentMailError(Exception):
    """The server refused the message or every recipient for good (5xx)."""


class EveryRecipientRefused(PermanentMailError):
    """Each envelope's recipient was refused for good, one by one (not the connection or the
    login): an earlier attempt that handed the email to others has sent all it can."""


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


@dataclass(frozen=True)
class Envelope:
    """One SMTP transaction: its envelope sender (VERP, see `mail.verp`) and its one recipient;
    `plain`, the sender without its token, for a server that refuses the tokened one."""

    sender: str
    recipient: str
    plain: str = ""


def send_each(
    config: SmtpConfig,
    msg: EmailMessage,
    envelopes: Sequence[Envelope],
    handed_over: Callable[[Envelope], None],
) -> dict[str, tuple[int, bytes]]:
    """Hand the message over in a transaction per envelope, on one connection, calling
    `handed_over` as each is accepted; returns the recipients refused for good while others
    were accepted. Raises `PermanentMailError` when every one was refused for good, and
    `TransientMailError` at the first that cannot be handed over for now (those before it were).
    """
    if not envelopes:
        return {}
    refused: dict[str, tuple[int, bytes]] = {}
    try:
        with _connect(config) as smtp:
            if config.user:
                smtp.login(config.user, config.password)
            for envelope in envelopes:
                failure = _transaction(smtp, msg, envelope)
                if failure is None:
                    handed_over(envelope)
                elif 500 <= failure[0] < 600:
                    refused[envelope.recipient] = failure
                else:
                    raise TransientMailError(f"{failure[0]} {failure[1]!r}")
    except smtplib.SMTPResponseException as err:  # at the greeting or the login
        _raise_for_codes([err.smtp_code], f"{err.smtp_code} {err.smtp_error!r}")
    except (OSError, smtplib.SMTPException) as err:
        raise TransientMailError(f"{type(err).__name__}: {err}") from err
    if len(refused) == len(envelopes):
        codes = [code for code, _ in refused.values()]
        if all(500 <= code < 600 for code in codes):
            raise EveryRecipientRefused(str(refused))
        _raise_for_codes(codes, str(refused))
    return refused


def _transaction(
    smtp: smtplib.SMTP, msg: EmailMessage, envelope: Envelope
) -> tuple[int, bytes] | None:
    """One MAIL FROM, RCPT TO and DATA; the server's refusal, or None once it accepted. A
    server that refuses the tokened sender (a submission server that allows only the account's
    own address) gets the plain one: the email goes, its bounce is matched the older way."""
    try:
        smtp.send_message(msg, from_addr=envelope.sender, to_addrs=[envelope.recipient])
    except smtplib.SMTPRecipientsRefused as err:
        return next(iter(err.recipients.values()))
    except smtplib.SMTPSenderRefused as err:
        if envelope.plain and envelope.plain != envelope.sender:
            return _transaction(smtp, msg, Envelope(envelope.plain, envelope.recipient))
        return _refusal(err)
    except smtplib.SMTPDataError as err:
        return _refusal(err)
    return None


def _refusal(err: smtplib.SMTPResponseException) -> tuple[int, bytes]:
    """The server's answer; smtplib has reset the transaction: the connection serves the next."""
    detail = err.smtp_error
    return err.smtp_code, detail if isinstance(detail, bytes) else str(detail).encode()


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
