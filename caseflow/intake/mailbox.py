"""One IMAP connection to a support mailbox: list, fetch, move, wait for new mail.

Blocking (imapclient); the intake calls it from a worker thread. Messages are never deleted:
each one ends in `Processed` or `Quarantine`. `\\Seen` is not used as state, because people
reading the mailbox set it.
"""

from __future__ import annotations

import hashlib
import logging
import selectors
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

logger = logging.getLogger(__name__)

PROCESSED = "Processed"
QUARANTINE = "Quarantine"
# Message-IDs per SEARCH when looking for duplicate copies: bounds the command's length.
_SEARCH_CHUNK = 50
_MESSAGE_ID_FIELD = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MESSAGE_ID_ANSWER = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


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
        self._take_uidvalidity(int(selected.get(b"UIDVALIDITY", 0)))

    def _take_uidvalidity(self, uidvalidity: int) -> None:
        if self.uidvalidity and uidvalidity != self.uidvalidity:
            # Every UID we knew is void; nothing depends on them (messages are keyed by
            # content), so the folder is simply read again from the start.
            logger.info("UIDVALIDITY of %s changed; rescanning it", self.config.folder)
        if uidvalidity != self.uidvalidity:
            self._newest_seen = 0
        self.uidvalidity = uidvalidity

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _quietly(client.logout)

    def check_folder(self) -> None:
        """Select the folder again before each pass: a server may go on answering for a
        selected folder that was deleted and made again (Dovecot does: an empty folder, and
        STATUS of the old one), so the intake would wait forever on a folder nobody delivers
        to. A folder that is gone raises, and the intake reconnects."""
        selected = self.client.select_folder(self.config.folder)
        self._take_uidvalidity(int(selected.get(b"UIDVALIDITY", 0)))

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

    def fetch_many(self, uids: list[int]) -> dict[int, bytes]:
        """These messages' bytes in one FETCH, leaving `\\Seen` alone; gone ones are absent."""
        return self._fetch_part(uids, b"BODY.PEEK[]", b"BODY[]")

    def fetch_headers(self, uids: list[int]) -> dict[int, bytes]:
        """Only the headers, in one FETCH, for messages too large to download."""
        return self._fetch_part(uids, b"BODY.PEEK[HEADER]", b"BODY[HEADER]")

    def _fetch_part(self, uids: list[int], item: bytes, answer: bytes) -> dict[int, bytes]:
        if not uids:
            return {}
        wanted = set(uids)
        data = self.client.fetch(uids, [item])
        # Expunged by another session meanwhile: Dovecot answers `BODY[] NIL` (or nothing).
        return {
            int(uid): bytes(found[answer])
            for uid, found in data.items()
            if int(uid) in wanted and found.get(answer) is not None
        }

    def move(self, uid: int, folder: str) -> bool:
        """Move one message; False when it was already gone (another intake moved it)."""
        try:
            self._move([uid], folder)
        except IMAPClientError as err:
            if _gone(err):
                return False
            raise
        return True

    def move_many(self, uids: list[int], folder: str) -> None:
        """Move these messages with one command; one by one if some had gone meanwhile, so
        that each of the others still moves."""
        if not uids:
            return
        try:
            self._move(uids, folder)
        except IMAPClientError as err:
            if not _gone(err):
                raise
            for uid in uids:
                self.move(uid, folder)

    def _move(self, uids: list[int], folder: str) -> None:
        client = self.client
        if client.has_capability("MOVE"):
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        client.delete_messages(uids)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

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
            extra = [
                uid
                for start in range(0, len(ids), _SEARCH_CHUNK)
                for uid in self._extra_copies(ids[start : start + _SEARCH_CHUNK])
            ]
            if extra:
                client.delete_messages(extra)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(extra)
                else:
                    client.expunge()
        finally:
            client.select_folder(self.config.folder)
        return len(extra)

    def _extra_copies(self, message_ids: list[str]) -> list[int]:
        """One SEARCH for all these Message-IDs; bodies fetched only where an id is found twice."""
        client = self.client
        uids = sorted(int(u) for u in client.search(_any_message_id(message_ids)))
        if len(uids) < 2:
            return []
        copies: dict[str, list[int]] = {}
        for uid, item in client.fetch(uids, [_MESSAGE_ID_FIELD]).items():
            found = _message_id_of(bytes(item.get(_MESSAGE_ID_ANSWER) or b""))
            copies.setdefault(found, []).append(int(uid))
        return [uid for same in copies.values() if len(same) > 1 for uid in self._identical(same)]

    def _identical(self, uids: list[int]) -> list[int]:
        """Of copies with one Message-ID, those byte-identical to a lower UID."""
        uids = sorted(uids)
        data = self.client.fetch(uids, ["BODY.PEEK[]"])
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
            _await_a_response(client, seconds, stopping)
        finally:
            # Reads what the server said and its tagged answer in blocking mode, whole lines.
            client.idle_done()

    def _arrived_since_last_look(self) -> bool:
        """Mail that came while we were busy: the server announced it in answer to our own
        commands (MOVE, FETCH), so IDLE will not announce it again."""
        newest = self._newest_seen
        return any(uid > newest for uid in self.pending())


def _await_a_response(client: IMAPClient, seconds: float, stopping: Callable[[], bool]) -> None:
    """Return once the server has sent something in IDLE (or after `seconds`, or when
    `stopping()`), having read none of it: `idle_done` reads it, whole lines at a time.

    Not imapclient's `idle_check`: it reads lines with the socket in non-blocking mode, so a
    response that arrives in several TCP segments is cut where the socket runs dry; the piece
    read is lost ("unterminated line"), and the rest is what `idle_done` then meets mid-line
    ("unexpected response: b'FLAGS ())'"). pymap writes every token of a response on its own
    (mjs/imapclient#519); any server may be read over a link that splits them.
    """
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(client.socket(), selectors.EVENT_READ)
        while not stopping():
            if _already_received(client):
                return
            left = deadline - time.monotonic()
            if left <= 0 or selector.select(min(1.0, left)):
                return


def _already_received(client: IMAPClient) -> bool:
    """Bytes the reader took from the socket with the IDLE continuation (or TLS holds), which
    the socket's readiness no longer shows; peeked at without blocking, never consumed."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)


def _gone(err: IMAPClientError) -> bool:
    text = str(err).lower()
    return "no longer exist" in text or "expungeissued" in text


def _any_message_id(message_ids: list[str]) -> list[object]:
    """SEARCH criteria matching any of these Message-IDs: a balanced tree of ORs."""
    if len(message_ids) == 1:
        return ["HEADER", "Message-ID", message_ids[0]]
    middle = len(message_ids) // 2
    return ["OR", _any_message_id(message_ids[:middle]), _any_message_id(message_ids[middle:])]


def _message_id_of(header: bytes) -> str:
    value = BytesHeaderParser().parsebytes(header).get("message-id", "")
    return " ".join(str(value).split())


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
