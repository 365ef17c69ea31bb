"""The files and full content of a case's inbound emails: listed, read, downloaded."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from caseflow.api import schemas
from caseflow.api.deps import Limit, Offset, ScopeDep, SessionDep, visible_case
from caseflow.api.errors import ApiError
from caseflow.store import attachments, messages
from caseflow.workflows.bounds import Id

router = APIRouter(prefix="/cases", tags=["attachments"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 404, 410, 422)
}
# Types a browser may be told; anything else (HTML, SVG, XML, scripts) downloads as bytes.
SAFE_TYPES = re.compile(
    r"^(image/(png|jpeg|gif|webp|bmp|tiff|heic)|application/pdf|text/(plain|csv|calendar)|"
    r"audio/[a-z0-9.+-]+|video/[a-z0-9.+-]+|application/(zip|gzip|x-7z-compressed|msword|"
    r"vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.openxmlformats-officedocument\.[a-z.]+|"
    r"vnd\.oasis\.opendocument\.[a-z.]+|rtf|ms-tnef|vnd\.ms-outlook)|message/rfc822)$"
)
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
KEY = Query(min_length=1, max_length=300, description="the email's key, as in its timeline event")


def safe_content_type(declared: str) -> str:
    """The declared type when it is harmless to name, else `application/octet-stream`."""
    media_type = declared.split(";", 1)[0].strip().lower()
    return media_type if SAFE_TYPES.match(media_type) else "application/octet-stream"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback name, and the exact name as RFC 8187 UTF-8."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return (
        f'attachment; filename="{fallback or "attachment"}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


@router.get("/{number}/attachments", responses=ERRORS)
def list_attachments(
    number: str, scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.AttachmentPage:
    """The files of every email of the case, in the order they arrived."""
    case = visible_case(session, scope, number.upper())
    files = [schemas.AttachmentInfo.of(row) for row in attachments.case_files(session, case.number)]
    return schemas.AttachmentPage.cut(files, limit, offset)


@router.get(
    "/{number}/attachments/{attachment_id}",
    responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
def download_attachment(
    number: str, attachment_id: Id, scope: ScopeDep, session: SessionDep
) -> Response:
    """The file's bytes, always as a download; 410 when it was over a size limit."""
    case = visible_case(session, scope, number.upper())
    row = attachments.case_file(session, case.number, attachment_id)
    if row is None:
        detail = f"case {number} has no attachment {attachment_id}"
        raise ApiError(404, "unknown_attachment", detail)
    data = attachments.blob(session, row.sha256) if row.sha256 is not None else None
    if data is None:
        raise ApiError(410, "not_kept", "the file was over a size limit and was not kept")
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(row.filename)}
    return Response(data, media_type=safe_content_type(row.content_type), headers=headers)


@router.get("/{number}/emails/content", responses=ERRORS)
def email_content(
    number: str, scope: ScopeDep, session: SessionDep, key: Annotated[str, KEY]
) -> schemas.InboundContent:
    """An inbound email in full: the whole text, HTML sanitised for display, and its files."""
    case = visible_case(session, scope, number.upper())
    found = attachments.message_content(session, case.number, key)
    if found is None:
        raise ApiError(404, "unknown_email", f"case {number} has no inbound email {key!r}")
    message = found.message
    return schemas.InboundContent(
        key=message.dedup_key,
        message_id=message.message_id,
        sender=message.sender,
        subject=message.subject,
        received_at=message.received_at,
        text=found.text or "",
        html=found.html,
        attachments=[schemas.AttachmentInfo.of(row) for row in found.files],
    )


@router.get(
    "/{number}/emails/raw",
    responses={**ERRORS, 200: {"content": {"message/rfc822": {}}}},
    response_class=Response,
)
def raw_email(
    number: str, scope: ScopeDep, session: SessionDep, key: Annotated[str, KEY]
) -> Response:
    """The email exactly as it arrived (RFC 822 bytes), as a download."""
    case = visible_case(session, scope, number.upper())
    message = attachments.case_message(session, case.number, key)
    data = messages.raw_message(session, message.raw_sha256) if message else None
    if data is None:
        raise ApiError(404, "unknown_email", f"case {number} has no inbound email {key!r}")
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition("message.eml")}
    return Response(data, media_type="message/rfc822", headers=headers)
