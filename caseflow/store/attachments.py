"""Files of inbound messages: bytes stored once by SHA-256 (`blobs`), listed per message and case.

Besides its files, a message keeps two renditions here, at negative positions so that no file
listing shows them: its full text (quoted history included) and its HTML sanitised for display.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.store.models import Attachment, Blob, InboundMessage

FULL_TEXT = -2  # the message's whole text, quoted history included
SAFE_HTML = -1  # the message's HTML, sanitised for display


class NewFile(Protocol):
    """A file as the intake extracted it; `data` is None when a size limit kept it out."""

    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def data(self) -> bytes | None: ...


@dataclass
class Rendition:
    """A rendition of a message body, stored like a file."""

    filename: str
    content_type: str
    size: int
    data: bytes | None


def store_message_files(
    session: Session, dedup_key: str, files: Sequence[NewFile], text: str, html: str
) -> bool:
    """Store a message's files and renditions once; False when they were stored before."""
    if _has_rows(session, dedup_key):
        return False
    renditions: list[tuple[int, NewFile]] = [(FULL_TEXT, _rendition("message.txt", text))]
    if html:
        renditions.append((SAFE_HTML, _rendition("message.html", html)))
    # A message delivered before its files were kept is already on its case.
    known = select(InboundMessage.case_number).where(InboundMessage.dedup_key == dedup_key)
    case_number = session.scalar(known)
    try:
        with session.begin_nested():
            for position, file in [*renditions, *enumerate(files)]:
                row = _row(session, dedup_key, position, file)
                row.case_number = case_number
                session.add(row)
    except IntegrityError:
        return False  # another intake stored them first
    return True


def _has_rows(session: Session, dedup_key: str) -> bool:
    query = select(Attachment.id).where(Attachment.dedup_key == dedup_key).limit(1)
    return session.scalar(query) is not None


def _rendition(filename: str, text: str) -> Rendition:
    data = text.encode("utf-8")
    kind = "text/html" if filename.endswith(".html") else "text/plain"
    return Rendition(filename, f"{kind}; charset=utf-8", len(data), data)


def _row(session: Session, dedup_key: str, position: int, file: NewFile) -> Attachment:
    sha = put_blob(session, file.data) if file.data is not None else None
    return Attachment(
        dedup_key=dedup_key,
        position=position,
        filename=file.filename[:255],
        content_type=file.content_type[:255],
        size=file.size,
        sha256=sha,
    )


def put_blob(session: Session, data: bytes) -> str:
    """The SHA-256 of the bytes, stored once however often they arrive."""
    sha = hashlib.sha256(data).hexdigest()
    if session.scalar(select(Blob.sha256).where(Blob.sha256 == sha)) is not None:
        return sha
    try:
        with session.begin_nested():
            session.add(Blob(sha256=sha, size=len(data), data=data))
    except IntegrityError:
        pass  # another intake stored the same bytes first
    return sha


def blob(session: Session, sha256: str) -> bytes | None:
    return session.scalar(select(Blob.data).where(Blob.sha256 == sha256))


def assign_case(session: Session, dedup_key: str, case_number: str) -> None:
    """The message reached its case: its files are listed there from now on."""
    session.execute(
        update(Attachment).where(Attachment.dedup_key == dedup_key).values(case_number=case_number)
    )


def case_files(session: Session, case_number: str) -> list[Attachment]:
    """The files of every message of the case, in the order they arrived."""
    query = select(Attachment).where(
        Attachment.case_number == case_number, Attachment.position >= 0
    )
    return list(session.scalars(query.order_by(Attachment.id)))


def case_file(session: Session, case_number: str, attachment_id: int) -> Attachment | None:
    row = session.get(Attachment, attachment_id)
    if row is None or row.case_number != case_number or row.position < 0:
        return None
    return row


def case_message(session: Session, case_number: str, dedup_key: str) -> InboundMessage | None:
    """The inbound message with this key, if it was delivered to this case."""
    query = select(InboundMessage).where(
        InboundMessage.dedup_key == dedup_key, InboundMessage.case_number == case_number
    )
    return session.scalar(query)


@dataclass
class MessageContent:
    message: InboundMessage
    text: str | None  # None: stored before renditions were kept; the raw message has it
    html: str | None
    files: list[Attachment]


def message_content(session: Session, case_number: str, dedup_key: str) -> MessageContent | None:
    """An inbound message of the case with its full text, safe HTML and files."""
    message = case_message(session, case_number, dedup_key)
    if message is None:
        return None
    rows = session.scalars(
        select(Attachment).where(Attachment.dedup_key == dedup_key).order_by(Attachment.position)
    )
    renditions: dict[int, str] = {}
    files = []
    for row in rows:
        if row.position >= 0:
            files.append(row)
        elif row.sha256 is not None:
            data = blob(session, row.sha256)
            renditions[row.position] = data.decode("utf-8", "replace") if data else ""
    return MessageContent(message, renditions.get(FULL_TEXT), renditions.get(SAFE_HTML), files)
