"""The intake: turns each message in the support mailbox into a new case or an event on its case.

Every step is idempotent, so reading is at-least-once and the outcome exactly-once: the raw
message is stored by content hash and claimed by its dedup key; the case workflow is started with
a number allocated once per message, or signalled (it ignores keys it has seen); the message
leaves INBOX only after Temporal has it. Two failure kinds: the message's fault (quarantine it,
with the reason recorded) and ours (leave it for the next pass, back off, log the exception).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from imapclient.exceptions import IMAPClientError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from caseflow.intake.classify import classify
from caseflow.intake.mailbox import PROCESSED, QUARANTINE, Mailbox, MailboxConfig
from caseflow.intake.parse import MalformedEmail, ParsedEmail, parse
from caseflow.intake.threads import NEW, ThreadMatch, find_thread
from caseflow.settings import Settings
from caseflow.store import cases, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import Channel, InboundEmail, MailClass, NewCase
from caseflow.workflows.starter import signal_email, start_case

logger = logging.getLogger(__name__)

FOLLOW_UP = "follow_up"
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class Outcome:
    folder: str
    case_number: str | None
    detail: str


class Intake:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        client: Client,
        mailbox: Mailbox | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._client = client
        self.mailbox = mailbox or Mailbox(mailbox_config(settings))
        self._secret = settings.secret_key.get_secret_value()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the mailbox, wait for mail (IDLE or polling), repeat; reconnect with backoff."""
        delay = 1.0
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.mailbox.connect)
                logger.info("intake reading %s", self.mailbox.config.user)
                delay = 1.0
                while not stop.is_set():
                    await self.drain()
                    await asyncio.to_thread(
                        self.mailbox.wait_for_mail,
                        self._settings.imap_poll_interval.total_seconds(),
                        stop.is_set,
                    )
            except Exception as err:
                logger.warning(
                    "intake interrupted (%s: %s); retrying in %.0f s",
                    type(err).__name__,
                    err,
                    delay,
                )
                logger.debug("intake failure", exc_info=True)
            finally:
                await asyncio.to_thread(self.mailbox.close)
            if not stop.is_set():
                await _wait(stop, delay)
                delay = min(delay * 2, MAX_BACKOFF)

    async def drain(self) -> list[Outcome]:
        """One pass over the messages waiting in the mailbox.

        A message that fails through our fault (Temporal or the database unavailable) stays in
        INBOX for the next pass and does not hold up the ones behind it; a lost IMAP connection
        ends the pass so `run` reconnects.
        """
        outcomes = []
        uids = await asyncio.to_thread(self.mailbox.pending)
        sizes = await asyncio.to_thread(self.mailbox.sizes, uids)
        for uid in uids:
            try:
                outcome = await self._take_in_uid(uid, sizes.get(uid, 0))
            except (IMAPClientError, OSError):
                raise
            except Exception:
                logger.exception("message %d not taken in; it stays for the next pass", uid)
                continue
            if outcome is not None:
                await asyncio.to_thread(self.mailbox.move, uid, outcome.folder)
                outcomes.append(outcome)
        return outcomes

    async def _take_in_uid(self, uid: int, size: int) -> Outcome | None:
        if size > self._settings.imap_max_message_size:
            # Too large to download: quarantine it from its header alone.
            header = await asyncio.to_thread(self.mailbox.fetch_header, uid)
            if header is None:
                return None
            return await self._quarantine(header, f"too large: {size} bytes (header kept)")
        fetched = await asyncio.to_thread(self.mailbox.fetch, uid)
        if fetched is None:
            return None
        return await self.take_in(fetched.raw)

    # -- one message --------------------------------------------------------------------------

    async def take_in(self, raw: bytes) -> Outcome:
        """Store, thread and hand off one message; where it goes next in the mailbox."""
        try:
            parsed = parse(raw)
        except MalformedEmail as err:
            return await self._quarantine(raw, str(err))
        except Exception as err:  # the parser is lenient; anything left is the message's fault
            return await self._quarantine(raw, f"unparseable: {type(err).__name__}: {err}")
        if len(raw) > self._settings.imap_max_message_size:
            return await self._quarantine(raw, f"too large: {len(raw)} bytes")
        mail_class = classify(parsed, self._settings.support_address)
        row_status, row_case = await asyncio.to_thread(self._claim, parsed, raw, mail_class)
        if row_status == messages.DELIVERED:
            return Outcome(PROCESSED, row_case, "already delivered")
        if row_status == messages.QUARANTINED:
            return Outcome(QUARANTINE, None, "already quarantined")
        if row_status == messages.IGNORED:
            return Outcome(PROCESSED, None, "already ignored")
        match = await asyncio.to_thread(self._thread, parsed)
        if mail_class is MailClass.OWN_LOOP and match.number is None:
            await asyncio.to_thread(self._ignore, parsed.dedup_key, "our own email came back")
            return Outcome(PROCESSED, None, "own loop")
        number, method = await self._hand_off(parsed, mail_class, match)
        await asyncio.to_thread(self._delivered, parsed.dedup_key, number, method)
        logger.info("message delivered to %s (%s, %s)", number, method, mail_class)
        return Outcome(PROCESSED, number, method)

    async def _hand_off(
        self, parsed: ParsedEmail, mail_class: MailClass, match: ThreadMatch
    ) -> tuple[str, str]:
        email = inbound_email(parsed, mail_class, verified=match.verified)
        follow_up_of: str | None = None
        if match.number is not None:
            try:
                await signal_email(self._client, match.number, email)
                return match.number, match.method
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            # The case's workflow has ended: the reply starts a follow-up case.
            if await asyncio.to_thread(self._has_email, match.number, email.key):
                return match.number, match.method
            follow_up_of = match.number if match.verified else None
        number = await asyncio.to_thread(self._allocate, f"email:{parsed.dedup_key}")
        new = NewCase(
            channel=Channel.EMAIL,
            subject=parsed.subject,
            description=parsed.text,
            customer_email=parsed.sender,
            customer_name=parsed.sender_name,
            follow_up_of=follow_up_of,
            email=email if match.verified else inbound_email(parsed, mail_class, verified=True),
        )
        await start_case(self._client, number, new, self._settings.task_queue)
        return number, FOLLOW_UP if follow_up_of else NEW

    async def _quarantine(self, raw: bytes, reason: str) -> Outcome:
        logger.info("message quarantined: %s", reason)
        await asyncio.to_thread(self._record_quarantine, raw, reason)
        return Outcome(QUARANTINE, None, reason)

    # -- database steps (run in threads) ------------------------------------------------------

    def _claim(
        self, parsed: ParsedEmail, raw: bytes, mail_class: MailClass
    ) -> tuple[str, str | None]:
        with transaction(self._sessions) as session:
            messages.store_raw(session, parsed.raw_sha256, raw)
            row = messages.claim_inbound(
                session,
                messages.InboundFacts(
                    dedup_key=parsed.dedup_key,
                    mailbox=self.mailbox.config.user,
                    raw_sha256=parsed.raw_sha256,
                    message_id=parsed.message_id,
                    sender=parsed.sender,
                    subject=parsed.subject,
                    mail_class=str(mail_class),
                ),
            )
            row.attempts += 1
            return row.status, row.case_number

    def _thread(self, parsed: ParsedEmail) -> ThreadMatch:
        with transaction(self._sessions) as session:

            def participants_of(number: str) -> list[str] | None:
                found = messages.case_participants(session, number)
                return found.participants if found is not None else None

            return find_thread(
                parsed,
                self._secret,
                self._settings.support_address,
                lambda ids: messages.case_by_message_ids(session, ids),
                participants_of,
            )

    def _has_email(self, number: str, key: str) -> bool:
        with transaction(self._sessions) as session:
            return messages.case_has_email(session, number, key)

    def _allocate(self, origin_key: str) -> str:
        with transaction(self._sessions) as session:
            return cases.allocate_case_number(session, origin_key)

    def _delivered(self, dedup_key: str, number: str, method: str) -> None:
        with transaction(self._sessions) as session:
            messages.mark_delivered(session, dedup_key, number, method)

    def _ignore(self, dedup_key: str, reason: str) -> None:
        with transaction(self._sessions) as session:
            messages.mark_ignored(session, dedup_key, reason)

    def _record_quarantine(self, raw: bytes, reason: str) -> None:
        sha = hashlib.sha256(raw).hexdigest()
        with transaction(self._sessions) as session:
            messages.store_raw(session, sha, raw)
            messages.claim_inbound(
                session,
                messages.InboundFacts(
                    dedup_key=f"raw:{sha}",
                    mailbox=self.mailbox.config.user,
                    raw_sha256=sha,
                    message_id="",
                    sender="",
                    subject="",
                    mail_class="",
                ),
            )
            messages.mark_quarantined(session, f"raw:{sha}", reason)


def inbound_email(parsed: ParsedEmail, mail_class: MailClass, verified: bool) -> InboundEmail:
    return InboundEmail(
        key=parsed.dedup_key,
        sender=parsed.sender,
        subject=parsed.subject,
        received_at=parsed.date or datetime.now(UTC),
        text=parsed.text,
        sender_name=parsed.sender_name,
        message_id=parsed.message_id,
        references=parsed.references[-20:],
        cc=parsed.cc,
        mail_class=mail_class,
        raw_sha256=parsed.raw_sha256,
        verified=verified,
    )


def mailbox_config(settings: Settings) -> MailboxConfig:
    return MailboxConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        user=settings.imap_login,
        password=settings.imap_password.get_secret_value(),
        ssl=settings.imap_ssl,
        folder=settings.imap_folder,
        idle=settings.imap_idle,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
