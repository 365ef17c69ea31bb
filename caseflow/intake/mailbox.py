"""One IMAP connection to a support mailbox: list, fetch, move, wait for new mail.

Blocking (imapclient); the intake calls it from a worker thread. Messages are never deleted:
each one ends in `Processed` or `Quarantine`. `\\Seen` is not used as state, because people
reading the mailbox set it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

logger = logging.getLogger(__name__)

PROCESSED = "Processed"
QUARANTINE = "Quarantine"


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    user: str
    password: str
    ssl: bool = False
    folder: str = "INBOX"
    timeout: float = 30.0
    idle: bool = True


@dataclass(frozen=True)
class Fetched:
    uid: int
    size: int
    raw: bytes


class Mailbox:
    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        self._client: IMAPClient | None = None
        self._newest_seen = 0
        self.uidvalidity = 0

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionError("not connected")
        return self._client

    def connect(self) -> None:
        c = self.config
        client = IMAPClient(c.host, port=c.port, ssl=c.ssl, timeout=c.timeout)
        try:
            client.login(c.user, c.password)
            for folder in (PROCESSED, QUARANTINE):
                if not client.folder_exists(folder):
                    _create_folder(client, folder)
            selected = client.select_folder(c.folder)
        except BaseException:
            _quietly(client.logout)
            raise
        self._client = client
        uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        if self.uidvalidity and uidvalidity != self.uidvalidity:
            # Every UID we knew is void; nothing depends on them (messages are keyed by
            # content), so the folder is simply read again from the start.
            logger.info("UIDVALIDITY of %s changed; rescanning it", c.folder)
        if uidvalidity != self.uidvalidity:
            self._newest_seen = 0
        self.uidvalidity = uidvalidity

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _quietly(client.logout)

    def pending(self) -> list[int]:
        """UIDs waiting in the folder, oldest first."""
        self.client.noop()
        uids = sorted(int(uid) for uid in self.client.search(["NOT", "DELETED"]))
        self._newest_seen = max([self._newest_seen, *uids])
        return uids

    def sizes(self, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        data = self.client.fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(item[b"RFC822.SIZE"]) for uid, item in data.items()}

    def fetch_header(self, uid: int) -> bytes | None:
        """Only the header, for a message too large to download; None if it has gone."""
        data = self.client.fetch([uid], ["BODY.PEEK[HEADER]"])
        item = data.get(uid)
        if item is None or item.get(b"BODY[HEADER]") is None:
            return None
        return bytes(item[b"BODY[HEADER]"])

    def fetch(self, uid: int) -> Fetched | None:
        """The message's bytes, leaving `\\Seen` alone; None if it has gone meanwhile."""
        data = self.client.fetch([uid], ["RFC822.SIZE", "BODY.PEEK[]"])
        item = data.get(uid)
        # Expunged by another session meanwhile: Dovecot answers `BODY[] NIL` (or nothing).
        if item is None or item.get(b"BODY[]") is None:
            return None
        raw = bytes(item[b"BODY[]"])
        return Fetched(uid=uid, size=int(item.get(b"RFC822.SIZE", len(raw))), raw=raw)

    def move(self, uid: int, folder: str) -> bool:
        """Move one message; False when it was already gone (another intake moved it)."""
        client = self.client
        try:
            if client.has_capability("MOVE"):
                client.move([uid], folder)
            else:
                client.copy([uid], folder)
                client.delete_messages([uid])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge([uid])
                else:
                    client.expunge()
        except IMAPClientError as err:
            if "no longer exist" in str(err).lower() or "expungeissued" in str(err).lower():
                return False
            raise
        return True

    def dedupe(self, folder: str, message_ids: list[str]) -> int:
        """Expunge byte-identical copies of these messages from `folder`, keeping the oldest.

        Two intakes that MOVE one message at the same moment can both succeed (the server
        copies before it expunges), leaving two copies. Each intake converges on the same
        survivor, the lowest UID of each set of identical copies, so running this from several
        intakes at once is safe, and an identical copy of every message always remains.
        Answers how many copies it removed.
        """
        ids = [m for m in dict.fromkeys(message_ids) if m]
        if not ids:
            return 0
        client = self.client
        client.select_folder(folder)
        try:
            extra = [uid for message_id in ids for uid in self._extra_copies(message_id)]
            if extra:
                client.delete_messages(extra)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(extra)
                else:
                    client.expunge()
        finally:
            client.select_folder(self.config.folder)
        return len(extra)

    def _extra_copies(self, message_id: str) -> list[int]:
        client = self.client
        uids = sorted(int(u) for u in client.search(["HEADER", "Message-ID", message_id]))
        if len(uids) < 2:
            return []
        data = client.fetch(uids, ["BODY.PEEK[]"])
        first_of: dict[str, int] = {}
        extra = []
        for uid in uids:
            body = data.get(uid, {}).get(b"BODY[]")
            if body is None:
                continue
            digest = hashlib.sha256(bytes(body)).hexdigest()
            if digest in first_of:
                extra.append(uid)
            else:
                first_of[digest] = uid
        return extra

    def wait_for_mail(self, seconds: float, stopping: Callable[[], bool]) -> None:
        """Wait up to `seconds` for the server to announce new mail (IDLE), or simply sleep."""
        client = self.client
        if self._arrived_since_last_look():
            return
        if not (self.config.idle and client.has_capability("IDLE")):
            _sleep(seconds, stopping)
            return
        client.idle()
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not stopping():
                if client.idle_check(timeout=min(1.0, max(deadline - time.monotonic(), 0))):
                    break
        finally:
            client.idle_done()

    def _arrived_since_last_look(self) -> bool:
        """Mail that came while we were busy: the server announced it in answer to our own
        commands (MOVE, FETCH), so IDLE will not announce it again."""
        newest = self._newest_seen
        return any(uid > newest for uid in self.pending())


def _create_folder(client: IMAPClient, folder: str) -> None:
    try:
        client.create_folder(folder)
    except IMAPClientError as err:
        if "exist" not in str(err).lower():
            raise
    _quietly(lambda: client.subscribe_folder(folder))


def _sleep(seconds: float, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stopping():
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as err:  # closing a broken connection may fail in any way
        logger.debug("ignored while closing: %s", err)
