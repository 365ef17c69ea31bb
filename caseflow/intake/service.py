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
import email.policy
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from functools import partial

from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from tenacity import RetryCallState

from caseflow import admission
from caseflow.admission import Verdict
from caseflow.client import signal_email, start_case
from caseflow.intake import bounces, notices, ordering
from caseflow.intake.classify import Judgement, judge
from caseflow.intake.headers import Headers
from caseflow.intake.mailbox import PROCESSED, QUARANTINE, Mailbox, MailboxConfig
from caseflow.intake.parse import (
    ParsedEmail,
    attachment_notes,
    limits_from,
    notes_omitted,
    parse,
)
from caseflow.intake.pipeline import Decision, Examined, Facts, Route, decide, examine
from caseflow.intake.threads import NEW, ThreadMatch, find_thread
from caseflow.retrying import Backoff, Sleep, Stopped, failure, start_again, until_stopped
from caseflow.settings import MailboxSettings, Settings
from caseflow.store import attachments, cases, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import (
    MAX_REASON,
    Channel,
    InboundEmail,
    MailClass,
    NewCase,
    excerpt,
)

logger = logging.getLogger(__name__)

FOLLOW_UP = "follow_up"
# Outcome.folder of a message that stays in INBOX until its next attempt.
STAYS = ""
TOO_LARGE = "too large"
# Refusal notices to one address are limited over a rolling window of this length.
NOTICE_WINDOW = timedelta(hours=24)
# Temporal answers these when it is away or overloaded: an outage, not the message's fault.
_OUTAGE_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


# A message claimed before, that went all the way: where it goes again, and why.
_FINISHED = {
    messages.DELIVERED: (PROCESSED, "already delivered"),
    messages.QUARANTINED: (QUARANTINE, "already quarantined"),
    messages.IGNORED: (PROCESSED, "already ignored"),
    messages.REFUSED: (PROCESSED, "already refused"),
    messages.NOISE: (PROCESSED, "already recorded as noise"),
}

_BUSY_PAUSES = (0.1, 0.3, 1.0)
# A batch is fetched with one command and moved with one per folder: a few rounds of
# `intake_concurrency` messages, so that its last messages keep the others busy; bounded in
# bytes, since the whole batch is held in memory.
_BATCH_ROUNDS = 8
_BATCH_MIN = 16
_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    folder: str
    case_number: str | None
    detail: str
    message_id: str = ""
    retry_at: datetime | None = None


class NotQuarantined(ValueError):
    """Reprocessing asked for a message that is not (or no longer) in quarantine."""


class NotNoise(ValueError):
    """Promotion asked for a message that is not (or no longer) recorded as noise."""


class NotReprocessable(ValueError):
    """Only the header of this message was kept (it was too large), so it cannot be re-run."""


class Intake:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        client: Client,
        mailbox: Mailbox | None = None,
        box: MailboxSettings | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._client = client
        self.box = box or settings.intake_mailboxes()[0]
        self.mailbox = mailbox or Mailbox(mailbox_config(settings, self.box))
        self._secret = settings.secret_key.get_secret_value()
        # (UIDVALIDITY, UID) of messages waiting for their next attempt, so a pass skips them
        # without downloading; the database's `next_attempt_at` is the authority.
        self._not_before: dict[tuple[int, int], datetime] = {}

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, sleep: Sleep | None = None) -> None:
        """Drain the mailbox, wait for mail (IDLE or polling), repeat; reconnect with backoff
        (1 s doubling to `imap_reconnect_backoff_max`, from 1 s again once connected)."""
        most = max(self._settings.imap_reconnect_backoff_max.total_seconds(), 1.0)
        retrying = until_stopped(
            stop, Backoff(1.0, most), retry_on=Exception, on_retry=_interrupted, sleep=sleep
        )
        with contextlib.suppress(Stopped):
            async for attempt in retrying:
                with attempt:
                    await self._serve(stop, connected=partial(start_again, attempt.retry_state))

    async def _serve(self, stop: asyncio.Event, connected: Callable[[], None]) -> None:
        """Connect, then drain and wait for mail until `stop` is set or the connection fails."""
        try:
            await asyncio.to_thread(self.mailbox.connect)
            logger.info("intake reading %s", self.box.address)
            connected()
            while not stop.is_set():
                await self.drain()
                await asyncio.to_thread(
                    self.mailbox.wait_for_mail,
                    self._settings.imap_poll_interval.total_seconds(),
                    stop.is_set,
                )
        finally:
            await asyncio.to_thread(self.mailbox.close)

    async def drain(self) -> list[Outcome]:
        """One pass over the messages waiting in the mailbox, in batches; their outcomes in
        arrival order.

        Each batch is fetched with one command, taken in with up to `intake_concurrency`
        messages at once (one sender's messages, and messages that refer to each other, one
        after the other), then moved with one command per folder: a message leaves INBOX only
        once its hand-off is done. A message that fails through our fault (Temporal or the
        database unavailable) stays in INBOX for the next pass and holds up no other; a lost
        IMAP connection ends the pass so `run` reconnects. Only this coroutine talks IMAP:
        the connection is not shared between tasks.
        """
        await asyncio.to_thread(self.mailbox.check_folder)
        uids = [uid for uid in await asyncio.to_thread(self.mailbox.pending) if self._due(uid)]
        sizes = await asyncio.to_thread(self.mailbox.sizes, uids)
        outcomes: dict[int, Outcome] = {}
        moved: list[str] = []
        try:
            for batch in batches(uids, sizes, self._settings):
                letters = await self._download(batch, sizes)
                try:
                    await self._take_in_all(letters, outcomes)
                except Exception:
                    # An outage ends the pass; what was handed off before it still moves.
                    moved += await self._move(letters, outcomes)
                    raise
                moved += await self._move(letters, outcomes)
        finally:
            # Another intake may have moved the same message at the same moment; whoever
            # moved last removes the extra copy, even when its pass ends early.
            await self._dedupe(moved)
        return [outcomes[uid] for uid in uids if uid in outcomes]

    async def _download(self, uids: list[int], sizes: dict[int, int]) -> list[Letter]:
        """The batch's messages (only the header of one too large to download), in UID order;
        a message another intake has moved meanwhile is left out."""
        limit = self._settings.imap_max_message_size
        large = [uid for uid in uids if sizes.get(uid, 0) > limit]
        small = [uid for uid in uids if sizes.get(uid, 0) <= limit]
        whole = await asyncio.to_thread(self.mailbox.fetch_many, small)
        headers = await asyncio.to_thread(self.mailbox.fetch_headers, large)
        letters = []
        for uid in uids:
            if uid in whole:
                letters.append(Letter(uid, sizes.get(uid, 0), whole[uid], header_only=False))
            elif uid in headers:
                letters.append(Letter(uid, sizes.get(uid, 0), headers[uid], header_only=True))
        return letters

    async def _take_in_all(self, letters: list[Letter], done: dict[int, Outcome]) -> None:
        """Take the letters in, chain by chain, at most `intake_concurrency` chains at once;
        each outcome goes into `done` as it comes.

        The first failure that ends the pass (an outage) cancels the rest and is raised as it
        is (not in a group), so callers and tests see the error itself."""
        gate = asyncio.Semaphore(self._settings.intake_concurrency)
        # Each message is parsed and judged once, here, off the event loop; its chain is read
        # from what that found.
        read = await asyncio.to_thread(self._examine_all, letters)

        async def take_in_chain(chain: list[int]) -> None:
            async with gate:
                for i in chain:
                    outcome = await self._take_in_letter(letters[i], read[i])
                    if outcome is not None:
                        done[letters[i].uid] = outcome

        identities = [_identity(letter, found) for letter, found in zip(letters, read, strict=True)]
        order = ordering.chains(identities)
        tasks = [asyncio.create_task(take_in_chain(chain)) for chain in order]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)  # nothing may still run once the pass ends
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    def _examine_all(self, letters: list[Letter]) -> list[Examined | Exception | None]:
        """Each letter parsed and judged (None: only its header was fetched; an exception: the
        parser failed, a bug of ours that its take-in counts as a failed attempt)."""
        limits = limits_from(self._settings)
        found: list[Examined | Exception | None] = []
        for letter in letters:
            if letter.header_only:
                found.append(None)
                continue
            try:
                found.append(examine(letter.raw, limits, self.box.address))
            except Exception as err:  # reported and counted when the letter is taken in
                found.append(err)
        return found

    async def _take_in_letter(
        self, letter: Letter, examined: Examined | Exception | None = None
    ) -> Outcome | None:
        for pause in (*_BUSY_PAUSES, None):
            try:
                outcome = await self._take_in_fetched(letter, examined)
                break
            except OperationalError as err:
                # SQLite "database is locked" when several writers race: every step is
                # idempotent, so simply try the message again in a moment.
                if pause is None:
                    raise
                logger.warning("database busy (%s); retrying message %d", err.orig, letter.uid)
                await asyncio.sleep(pause)
            except Exception as err:
                if is_outage(err):
                    raise
                logger.exception("message %d not taken in; it stays for the next pass", letter.uid)
                return None
        if outcome is not None and outcome.folder == STAYS and outcome.retry_at is not None:
            self._not_before[(self.mailbox.uidvalidity, letter.uid)] = outcome.retry_at
        return outcome

    async def _take_in_fetched(
        self, letter: Letter, examined: Examined | Exception | None
    ) -> Outcome:
        if letter.header_only:
            # Too large to download: quarantine it from its header alone.
            return await self._oversized(letter.raw, letter.size)
        return await self.take_in(letter.raw, examined=examined)

    async def _move(self, letters: list[Letter], outcomes: dict[int, Outcome]) -> list[str]:
        """Move the batch's finished messages, one command per folder; answers the
        Message-IDs of those moved to `Processed`, to be checked for duplicate copies."""
        by_folder: dict[str, list[int]] = {}
        for letter in letters:
            outcome = outcomes.get(letter.uid)
            if outcome is not None and outcome.folder != STAYS:
                by_folder.setdefault(outcome.folder, []).append(letter.uid)
        for folder, uids in by_folder.items():
            # A MOVE that finds the message gone may still have raced another one: keep the
            # outcome either way, so the copy is checked for duplicates.
            await asyncio.to_thread(self.mailbox.move_many, uids, folder)
        return [outcomes[uid].message_id for uid in by_folder.get(PROCESSED, []) if uid in outcomes]

    async def _dedupe(self, message_ids: list[str]) -> None:
        if not any(message_ids):
            return
        try:
            await asyncio.to_thread(self.mailbox.dedupe, PROCESSED, message_ids)
        except Exception as err:  # the connection broke; the next pass's move checks again
            logger.warning("could not check %s for duplicate copies: %s", PROCESSED, err)

    def _due(self, uid: int) -> bool:
        key = (self.mailbox.uidvalidity, uid)
        not_before = self._not_before.get(key)
        if not_before is None:
            return True
        if not_before > datetime.now(UTC):
            return False
        del self._not_before[key]
        return True

    # -- one message --------------------------------------------------------------------------

    async def take_in(
        self,
        raw: bytes,
        *,
        last_attempt: bool = False,
        promoted_by: str = "",
        examined: Examined | Exception | None = None,
    ) -> Outcome:
        """Store, thread and hand off one message; where it goes next in the mailbox.

        The pipeline: the bytes are parsed once and judged by the detectors (`examine`, in a
        thread), the message is stored and claimed, what the decision needs is looked up
        (thread, record creation rules), `decide` says where it goes, and that is done.

        A failure of ours that is not an outage (a parser bug, Temporal refusing the input)
        counts as an attempt: the message is retried later with backoff, and quarantined after
        `intake_max_attempts` attempts (at once with `last_attempt`). `promoted_by`: the
        supervisor who promoted the message from noise, so that it takes a person's path;
        `examined`: what `examine` made of these bytes already (or how it failed).
        """
        limits = limits_from(self._settings)
        try:
            if isinstance(examined, Exception):
                raise examined
            if examined is None:
                examined = await asyncio.to_thread(examine, raw, limits, self.box.address)
        except Exception as err:
            logger.exception("parsing a message failed")
            key = raw_key(raw)
            reason = f"parsing failed: {type(err).__name__}: {err}"
            return await self._failed(key, raw, None, reason, last_attempt)
        parsed = examined.parsed
        if parsed is None:
            return await self._quarantine(raw, examined.malformed)
        if len(raw) > self._settings.imap_max_message_size:
            return await self._quarantine(raw, f"{TOO_LARGE}: {len(raw)} bytes")
        row = await asyncio.to_thread(self._claim, parsed, raw, examined.mail_class)
        mid = parsed.message_id
        if row.status in _FINISHED:
            folder, detail = _FINISHED[row.status]
            return Outcome(folder, row.case_number, detail, mid)
        if row.retry_at is not None and row.retry_at > datetime.now(UTC) and not last_attempt:
            return Outcome(STAYS, None, "waiting for its next attempt", mid, row.retry_at)
        try:
            return await self._deliver(examined, parsed, promoted_by)
        except Exception as err:
            if is_outage(err):
                raise
            logger.exception("message not handed off (attempt %d)", row.attempts + 1)
            reason = f"hand-off failed: {type(err).__name__}: {err}"
            return await self._failed(parsed.dedup_key, raw, parsed, reason, last_attempt)

    async def _deliver(self, examined: Examined, parsed: ParsedEmail, promoted_by: str) -> Outcome:
        """Look up what the decision needs, decide, and carry the decision out."""
        judgement = examined.judgement
        location: bounces.Location | None = None
        if examined.bounce is not None and not promoted_by:
            found = bounces.Located(self._secret, self.box.address, parsed, examined.bounce)
            location = await asyncio.to_thread(bounces.locate_and_mark, self._sessions, found)
            number = location.case_number if location is not None else None
            match = ThreadMatch(number, bounces.BOUNCE_METHOD, verified=True)
        else:
            match = await asyncio.to_thread(self._thread, parsed)
        if judgement.mail_class in (MailClass.HUMAN, MailClass.AUTO_REPLY):
            await asyncio.to_thread(bounces.mark_reachable, self._sessions, parsed.sender)
        facts = Facts(judgement, match.number, verified=match.verified, promoted_by=promoted_by)
        decision = decide(facts)
        if decision.route is Route.EVENT and decision.case_number is not None:
            number = decision.case_number
            email = self._inbound(examined, parsed, match.verified, promoted_by, location)
            # False: the case's workflow has ended; unless it has the email already, the case
            # ended before it.
            if await self._signal(number, email) or await asyncio.to_thread(
                self._has_email, number, email.key
            ):
                return await self._done(parsed, number, match.method, judgement)
            decision = decide(replace(facts, case_ended=True))
        if decision.route is Route.CASE and decision.follow_up_of is None and match.number is None:
            verdict = await asyncio.to_thread(self._admission, parsed)
            if not verdict.admission.admitted:
                return await self._refuse(parsed, judgement, verdict)
        if decision.route is Route.NOISE:
            return await self._noise(parsed, judgement, decision.reason)
        number = await self._new_case(examined, parsed, decision, promoted_by)
        method = FOLLOW_UP if decision.follow_up_of else NEW
        return await self._done(parsed, number, method, judgement)

    async def _signal(self, number: str, email: InboundEmail) -> bool:
        """Hand the email to its case's workflow; False when that workflow has ended."""
        try:
            await signal_email(self._client, number, email)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    async def _done(
        self, parsed: ParsedEmail, number: str, method: str, judgement: Judgement
    ) -> Outcome:
        await asyncio.to_thread(self._delivered, parsed.dedup_key, number, method)
        logger.info("message delivered to %s (%s, %s)", number, method, judgement.mail_class)
        return Outcome(PROCESSED, number, method, parsed.message_id)

    async def _noise(self, parsed: ParsedEmail, judgement: Judgement, reason: str) -> Outcome:
        """Automatic mail that concerns no open case: kept and listed, never a case."""
        mail_class = str(judgement.mail_class)
        await asyncio.to_thread(self._mark_noise, parsed.dedup_key, mail_class, reason)
        logger.info("message recorded as noise (%s): %s", mail_class, reason)
        return Outcome(PROCESSED, None, f"noise: {reason}", parsed.message_id)

    def _inbound(
        self,
        examined: Examined,
        parsed: ParsedEmail,
        verified: bool,
        promoted_by: str,
        location: bounces.Location | None,
    ) -> InboundEmail:
        """The email as its case gets it; a bounce names the recipient its token says."""
        if examined.bounce is not None and not promoted_by:
            bounce = location.told(examined.bounce) if location is not None else examined.bounce
            return bounces.inbound(parsed, bounce, examined.judgement.reason)
        return inbound_email(parsed, examined.mail_class, verified, _reason(examined, promoted_by))

    async def _refuse(self, parsed: ParsedEmail, judgement: Judgement, verdict: Verdict) -> Outcome:
        """A record creation rule refused the message: it is kept and recorded, and a person
        (never an automatic sender) gets one polite notice, within the per-sender daily limit.
        The notice goes first, so a failure to send it leaves the message for the next pass."""
        admission = verdict.admission
        told = f"no notice: {judgement.reason or 'an automatic sender'}"
        if judgement.acknowledgeable:
            notice = notices.refused_notice(parsed, admission.refusal, verdict.entitlement)
            told = await asyncio.to_thread(self._notify, notice)
        reason = f"{admission.refusal}: {admission.detail} ({told})"
        await asyncio.to_thread(self._refused, parsed.dedup_key, reason)
        logger.info("message refused: %s (%s)", admission.refusal, told)
        return Outcome(PROCESSED, None, f"refused: {admission.refusal}", parsed.message_id)

    async def reprocess(self, row_id: int) -> Outcome:
        """Take a quarantined message in again from its stored bytes (after a fix).

        A failure quarantines it again at once, with the new reason. The copy in the IMAP
        `Quarantine` folder stays there, for the record.
        """
        raw, old_key, outcome = await self._again(row_id, messages.QUARANTINED)
        if outcome.folder == PROCESSED:
            # A message that failed to parse was kept under a key of its raw bytes; it now
            # has its real key, so the old row records where it went.
            await asyncio.to_thread(self._settle, old_key, outcome)
        return outcome

    async def promote(self, row_id: int, supervisor: str) -> Outcome:
        """Take a message recorded as noise in again as a person's: it runs the normal path
        (thread, record creation rules, a case), and its timeline says who promoted it and
        what the detectors had found. No acknowledgement goes to a sender judged automatic."""
        promoted_by = supervisor or "supervisor"
        return (await self._again(row_id, messages.NOISE, promoted_by=promoted_by))[2]

    async def _again(
        self, row_id: int, status: str, promoted_by: str = ""
    ) -> tuple[bytes, str, Outcome]:
        """Take the stored message in again; its row goes back to `status` (with its reason)
        if that fails through an outage, so that it can be tried again later: its IMAP copy
        has left INBOX, and nothing else would take it in."""
        raw, key, before = await asyncio.to_thread(self._reopen, row_id, status)
        try:
            outcome = await self.take_in(raw, last_attempt=True, promoted_by=promoted_by)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._restore, row_id, before))
            raise
        return raw, key, outcome

    async def _new_case(
        self, examined: Examined, parsed: ParsedEmail, decision: Decision, promoted_by: str
    ) -> str:
        number = await asyncio.to_thread(self._allocate, f"email:{parsed.dedup_key}")
        new = NewCase(
            channel=Channel.EMAIL,
            subject=parsed.subject,
            description=excerpt(timeline_text(parsed))[0],  # the timeline has it whole
            customer_email=parsed.sender,
            customer_name=parsed.sender_name,
            priority=self.box.priority,
            product=self.box.product,
            follow_up_of=decision.follow_up_of,
            email=inbound_email(parsed, examined.mail_class, True, _reason(examined, promoted_by)),
            mailbox=self.box.address,
            queue=self.box.queue,
        )
        await start_case(self._client, number, new, self._settings.task_queue)
        return number

    async def _quarantine(self, raw: bytes, reason: str) -> Outcome:
        logger.info("message quarantined: %s", reason)
        await asyncio.to_thread(self._record_quarantine, raw, reason)
        return Outcome(QUARANTINE, None, reason)

    async def _oversized(self, header: bytes, size: int) -> Outcome:
        """Quarantine it from its header, and tell a human sender, once, politely."""
        limit = self._settings.imap_max_message_size
        outcome = await self._quarantine(header, f"{TOO_LARGE}: {size} bytes (header kept)")
        try:
            parsed = await asyncio.to_thread(parse, header)
        except Exception as err:  # no usable sender: nobody to tell
            logger.info("no notice for an oversized message: %s", err)
            return outcome
        judgement = await asyncio.to_thread(judge, parsed, self.box.address)
        if not judgement.acknowledgeable:
            return outcome
        notice = notices.oversized_notice(parsed, size, limit)
        await asyncio.to_thread(notices.send_notice, self._settings, self._sessions, notice)
        return Outcome(QUARANTINE, None, outcome.detail, parsed.message_id)

    async def _failed(
        self,
        key: str,
        raw: bytes,
        parsed: ParsedEmail | None,
        reason: str,
        last_attempt: bool,
    ) -> Outcome:
        """Count a failed attempt: retry later with backoff, or quarantine after the last."""
        mid = parsed.message_id if parsed else ""
        attempts, retry_at = await asyncio.to_thread(
            self._record_failure, key, raw, parsed, reason, last_attempt
        )
        if retry_at is None:
            logger.info("message quarantined after %d attempts: %s", attempts, reason)
            return Outcome(QUARANTINE, None, reason, mid)
        return Outcome(STAYS, None, reason, mid, retry_at)

    # -- database steps (run in threads) ------------------------------------------------------

    def _claim(self, parsed: ParsedEmail, raw: bytes, mail_class: MailClass) -> RowState:
        with transaction(self._sessions) as session:
            messages.store_raw(session, parsed.raw_sha256, raw)
            attachments.store_message_files(
                session, parsed.dedup_key, parsed.attachments, parsed.text, parsed.html
            )
            row = messages.claim_inbound(session, self._facts(parsed, mail_class))
            return RowState(row.status, row.case_number, row.attempts, row.next_attempt_at)

    def _facts(self, parsed: ParsedEmail, mail_class: MailClass) -> messages.InboundFacts:
        return messages.InboundFacts(
            dedup_key=parsed.dedup_key,
            mailbox=self.box.address,
            raw_sha256=parsed.raw_sha256,
            message_id=parsed.message_id,
            sender=parsed.sender,
            subject=parsed.subject,
            mail_class=str(mail_class),
            text=timeline_text(parsed),
        )

    def _raw_facts(self, raw: bytes) -> messages.InboundFacts:
        sha = hashlib.sha256(raw).hexdigest()
        sender, subject = header_glance(raw)
        return messages.InboundFacts(
            dedup_key=f"raw:{sha}",
            mailbox=self.box.address,
            raw_sha256=sha,
            message_id="",
            sender=sender,
            subject=subject,
            mail_class="",
        )

    def _record_failure(
        self,
        key: str,
        raw: bytes,
        parsed: ParsedEmail | None,
        reason: str,
        last_attempt: bool,
    ) -> tuple[int, datetime | None]:
        """Attempts so far, and when to try again (None: quarantined now)."""
        facts = self._facts(parsed, MailClass.HUMAN) if parsed else self._raw_facts(raw)
        with transaction(self._sessions) as session:
            messages.store_raw(session, facts.raw_sha256, raw)
            row = messages.claim_inbound(session, facts)
            waiting = row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)
            if waiting and not last_attempt:
                return row.attempts, row.next_attempt_at  # failed again before its time
            row.attempts += 1
            if last_attempt or row.attempts >= self._settings.intake_max_attempts:
                messages.mark_quarantined(session, key, reason)
                return row.attempts, None
            retry_at = datetime.now(UTC) + retry_delay(self._settings, row.attempts)
            messages.schedule_retry(session, key, reason, retry_at)
            return row.attempts, retry_at

    def _reopen(self, row_id: int, status: str) -> tuple[bytes, str, tuple[str, str, int]]:
        """The bytes and key of a quarantined message (or noise), made ready to take in again."""
        with transaction(self._sessions) as session:
            row = messages.inbound_by_id(session, row_id)
            if row is None or row.status != status:
                if status == messages.NOISE:
                    raise NotNoise(f"message {row_id} is not noise")
                raise NotQuarantined(f"message {row_id} is not in quarantine")
            if row.reason.startswith(TOO_LARGE):
                raise NotReprocessable(f"message {row_id} was too large; only its header is kept")
            raw = messages.raw_message(session, row.raw_sha256)
            if raw is None:
                raise NotReprocessable(f"the bytes of message {row_id} are missing")
            before = (row.status, row.reason, row.attempts)
            messages.reopen(session, row)
            return raw, row.dedup_key, before

    def _restore(self, row_id: int, before: tuple[str, str, int]) -> None:
        with transaction(self._sessions) as session:
            row = messages.inbound_by_id(session, row_id)
            if row is not None and row.status == messages.RECEIVED:
                row.status, row.reason, row.attempts = before

    def _settle(self, old_key: str, outcome: Outcome) -> None:
        with transaction(self._sessions) as session:
            row = messages.inbound_by_key(session, old_key)
            if row is not None and row.status == messages.RECEIVED and outcome.case_number:
                messages.mark_delivered(session, old_key, outcome.case_number, "reprocessed")

    def _thread(self, parsed: ParsedEmail) -> ThreadMatch:
        with transaction(self._sessions, writes=False) as session:

            def participants_of(number: str) -> list[str] | None:
                found = messages.case_participants(session, number)
                return found.participants if found is not None else None

            match = find_thread(
                parsed,
                self._secret,
                self._settings.support_address,
                lambda ids: messages.case_by_message_ids(session, ids),
                participants_of,
            )
            if match.number is None:
                return match
            # A reply to a merged duplicate goes on the case that survived it.
            survivor = cases.survivor_of(session, match.number)
            return replace(match, number=survivor)

    def _has_email(self, number: str, key: str) -> bool:
        with transaction(self._sessions, writes=False) as session:
            return messages.case_has_email(session, number, key)

    def _allocate(self, origin_key: str) -> str:
        with transaction(self._sessions) as session:
            return cases.allocate_case_number(session, origin_key)

    def _delivered(self, dedup_key: str, number: str, method: str) -> None:
        with transaction(self._sessions) as session:
            messages.mark_delivered(session, dedup_key, number, method)
            attachments.assign_case(session, dedup_key, number)

    def _admission(self, parsed: ParsedEmail) -> Verdict:
        """The record creation rules of this mailbox, applied to the sender of a new case: a
        sender is known when a contact has the address or an account has its domain."""
        when_exhausted = self.box.exhausted_entitlement or self._settings.exhausted_entitlement
        with transaction(self._sessions, writes=False) as session:
            return admission.admit(
                session,
                parsed.sender,
                str(Channel.EMAIL),
                unknown_senders=self.box.unknown_senders,
                when_exhausted=when_exhausted,
            )

    def _notify(self, notice: notices.Notice) -> str:
        """Send the notice unless this address had its day's worth (as acknowledgements): the
        count is taken as the notice's outbox row is made, serialised per address."""
        limit = messages.SendLimit(self._settings.ack_limit_per_day, NOTICE_WINDOW)
        try:
            notices.send_notice(self._settings, self._sessions, notice, limit=limit)
        except messages.LimitReached as reached:
            return f"no notice: {reached.sent} already sent to this address in 24 h"
        return f"notice {notice.reference}"

    def _refused(self, dedup_key: str, reason: str) -> None:
        with transaction(self._sessions) as session:
            messages.mark_refused(session, dedup_key, reason)

    def _mark_noise(self, dedup_key: str, mail_class: str, reason: str) -> None:
        with transaction(self._sessions) as session:
            messages.mark_noise(session, dedup_key, mail_class, reason)

    def _record_quarantine(self, raw: bytes, reason: str) -> None:
        facts = self._raw_facts(raw)
        with transaction(self._sessions) as session:
            messages.store_raw(session, facts.raw_sha256, raw)
            row = messages.claim_inbound(session, facts)
            row.attempts = max(row.attempts, 1)
            messages.mark_quarantined(session, facts.dedup_key, reason)


@dataclass(frozen=True)
class Letter:
    """A message as fetched: its bytes, or only its header when it is too large."""

    uid: int
    size: int
    raw: bytes
    header_only: bool


def _identity(letter: Letter, examined: Examined | Exception | None) -> ordering.Identity:
    """What orders the letter in its batch: read from its parse, else from its header."""
    if isinstance(examined, Examined) and examined.parsed is not None:
        return ordering.of_parsed(examined.parsed)
    return ordering.identity(letter.raw)


def batches(uids: list[int], sizes: dict[int, int], settings: Settings) -> Iterator[list[int]]:
    """The UIDs in arrival order, cut into batches of a few rounds of `intake_concurrency`
    messages and at most `_BATCH_BYTES` to download (always at least one message)."""
    most = max(settings.intake_concurrency * _BATCH_ROUNDS, _BATCH_MIN)
    limit = settings.imap_max_message_size
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0) if sizes.get(uid, 0) <= limit else 0
        if batch and (len(batch) >= most or total + size > _BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


@dataclass(frozen=True)
class RowState:
    """How far an inbound message got, read when the intake claims it."""

    status: str
    case_number: str | None
    attempts: int
    retry_at: datetime | None


def header_glance(raw: bytes) -> tuple[str, str]:
    """Sender and subject of a message that could not be parsed, as far as they can be read."""
    try:
        headers = Headers.of(BytesHeaderParser(policy=email.policy.default).parsebytes(raw))
        sender = parseaddr(headers.first("from"))[1]
        return sender[:320], " ".join(headers.first("subject").split())[:998]
    except Exception:  # a header too broken to read: the listing shows blanks
        return "", ""


def raw_key(raw: bytes) -> str:
    return f"raw:{hashlib.sha256(raw).hexdigest()}"


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """1, 2, 4 ... times the base delay after each failed attempt, capped."""
    base = settings.intake_retry_backoff
    delay: timedelta = base * 2 ** min(max(attempts - 1, 0), 30)
    return min(delay, settings.intake_retry_backoff_max)


def is_outage(err: BaseException) -> bool:
    """Whether the failure is a server being away (try again later, count no attempt)."""
    if isinstance(err, RPCError):
        return err.status in _OUTAGE_CODES
    return isinstance(err, IMAPClientError | OSError | OperationalError)


def inbound_email(
    parsed: ParsedEmail, mail_class: MailClass, verified: bool, reason: str = ""
) -> InboundEmail:
    """The email as its case's workflow gets it; `reason` says why it is no person's to
    acknowledge (see `Judgement.reason`), empty for a person's."""
    text, length = excerpt(timeline_text(parsed))  # the whole stays with the stored message
    return InboundEmail(
        key=parsed.dedup_key,
        sender=parsed.sender,
        subject=parsed.subject,
        received_at=parsed.date or datetime.now(UTC),
        text=text,
        text_length=length,
        sender_name=parsed.sender_name,
        message_id=parsed.message_id,
        references=parsed.references[-20:],
        cc=parsed.cc,
        mail_class=mail_class,
        raw_sha256=parsed.raw_sha256,
        verified=verified,
        attachments=attachment_notes(parsed),
        attachments_omitted=notes_omitted(parsed),
        reason=reason[:MAX_REASON],
    )


def _reason(examined: Examined, promoted_by: str) -> str:
    """Why no acknowledgement goes (see `Judgement.reason`), and who promoted it from noise."""
    reason = examined.judgement.reason
    if promoted_by:
        reason = f"promoted from noise by {promoted_by}" + (f"; {reason}" if reason else "")
    return reason


def timeline_text(parsed: ParsedEmail) -> str:
    """What the case's timeline shows of a message: the reply without its quoted history."""
    return parsed.reply_text or parsed.text


def mailbox_config(settings: Settings, box: MailboxSettings | None = None) -> MailboxConfig:
    box = box or settings.intake_mailboxes()[0]
    password = box.imap_password or settings.imap_password
    return MailboxConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        user=box.imap_user or box.address,
        password=password.get_secret_value(),
        ssl=settings.imap_ssl,
        folder=box.folder,
        idle=settings.imap_idle,
    )


async def reprocess_quarantined(
    settings: Settings, sessions: sessionmaker[Session], client: Client, row_id: int
) -> Outcome:
    """Take quarantined message `row_id` in again, as the mailbox it came to would. Every
    database and CPU step runs in a thread: the API calls this on its event loop."""
    intake = await _intake_of(settings, sessions, client, row_id)
    return await intake.reprocess(row_id)


async def promote_noise(
    settings: Settings,
    sessions: sessionmaker[Session],
    client: Client,
    row_id: int,
    supervisor: str,
) -> Outcome:
    """Take message `row_id`, recorded as noise, in again as a person's (see `Intake.promote`),
    as the mailbox it came to would."""
    intake = await _intake_of(settings, sessions, client, row_id)
    return await intake.promote(row_id, supervisor)


async def _intake_of(
    settings: Settings, sessions: sessionmaker[Session], client: Client, row_id: int
) -> Intake:
    """The intake of the mailbox message `row_id` came to."""
    address = await asyncio.to_thread(_mailbox_of, sessions, row_id)
    boxes = settings.intake_mailboxes()
    box = next((b for b in boxes if b.address.lower() == address), boxes[0])
    return Intake(settings, sessions, client, box=box)


def _mailbox_of(sessions: sessionmaker[Session], row_id: int) -> str:
    with transaction(sessions, writes=False) as session:
        row = messages.inbound_by_id(session, row_id)
        return row.mailbox.lower() if row is not None else ""


async def run_all(
    settings: Settings, sessions: sessionmaker[Session], client: Client, stop: asyncio.Event
) -> None:
    """One intake loop per configured mailbox, side by side, until `stop` is set."""
    intakes = [Intake(settings, sessions, client, box=box) for box in settings.intake_mailboxes()]
    await asyncio.gather(*(intake.run(stop) for intake in intakes))


def _interrupted(retry_state: RetryCallState) -> None:
    err = failure(retry_state)
    logger.warning(
        "intake interrupted (%s: %s); retrying in %.0f s",
        type(err).__name__,
        err,
        retry_state.upcoming_sleep,
    )
    logger.debug("intake failure", exc_info=err)
