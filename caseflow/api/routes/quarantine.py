"""Quarantined inbound messages: list them, and take one in again after a fix.

Supervisors and admins only. Reprocessing runs the intake's take-in path over the stored raw
message (not IMAP); the API cannot import the intake, so the composition root passes that
function in (`create_app(reprocess=...)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, ClientDep, Limit, Offset, SessionsDep, SettingsDep, read
from caseflow.api.errors import ApiError
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.store.models import InboundMessage, RawMessage
from caseflow.workflows.bounds import Id
from caseflow.workflows.model import Actor, Role

router = APIRouter(prefix="/quarantine", tags=["quarantine"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 503)
}
# Folders the intake answers with (its mailbox folder names).
OUTCOMES = {"Processed": "delivered", "Quarantine": "quarantined"}


class Outcome(Protocol):
    @property
    def folder(self) -> str: ...
    @property
    def case_number(self) -> str | None: ...
    @property
    def detail(self) -> str: ...


Reprocess = Callable[[Settings, sessionmaker[Session], Client, int], Awaitable[Outcome]]


def supervisor(agent: AgentDep) -> Actor:
    if agent.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise ApiError(403, "forbidden", "only supervisors and admins handle quarantined mail")
    return agent


SupervisorDep = Annotated[Actor, Depends(supervisor)]


def get_reprocess(request: Request) -> Reprocess:
    reprocess: Reprocess | None = getattr(request.app.state, "reprocess", None)
    if reprocess is None:
        raise ApiError(503, "reprocessing_unavailable", "this API runs without the intake")
    return reprocess


@router.get("", responses=ERRORS)
async def list_quarantined(
    _: SupervisorDep, sessions: SessionsDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.QuarantinePage:
    """The messages waiting in quarantine, oldest first, with their reasons."""
    found = await read(sessions, _quarantined)
    return schemas.QuarantinePage.cut(found, limit, offset)


@router.post("/{message_id}/reprocess", responses=ERRORS)
async def reprocess(
    message_id: Id,
    _: SupervisorDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    client: ClientDep,
    run: Annotated[Reprocess, Depends(get_reprocess)],
) -> schemas.Reprocessed:
    status = await read(sessions, lambda s: status_of(s, message_id))
    if status is None:
        raise ApiError(404, "unknown_message", f"there is no inbound message {message_id}")
    if status != messages.QUARANTINED:
        raise ApiError(409, "not_quarantined", f"message {message_id} is {status}")
    try:
        outcome = await run(settings, sessions, client, message_id)
    except ValueError as err:  # not (or no longer) reprocessable
        raise ApiError(409, "not_reprocessable", str(err)) from err
    return taken_in_again(message_id, outcome)


def status_of(session: Session, message_id: int) -> str | None:
    """The status of inbound message `message_id`; None when there is none."""
    row = messages.inbound_by_id(session, message_id)
    return row.status if row is not None else None


def raw_sizes(session: Session, rows: list[InboundMessage]) -> dict[str, int]:
    """The size of each row's stored bytes, by their SHA-256."""
    shas = {row.raw_sha256 for row in rows}
    query = select(RawMessage.sha256, RawMessage.size).where(RawMessage.sha256.in_(shas))
    return {str(sha): int(size) for sha, size in session.execute(query).all()}


def taken_in_again(message_id: int, outcome: Outcome) -> schemas.Reprocessed:
    """What taking a message in again did, as the API answers it."""
    return schemas.Reprocessed(
        id=message_id,
        outcome=OUTCOMES.get(outcome.folder, "waiting"),
        case_number=outcome.case_number,
        detail=outcome.detail,
    )


def _quarantined(session: Session) -> list[schemas.QuarantinedMessage]:
    rows = messages.quarantined_messages(session)
    sizes = raw_sizes(session, rows)
    return [_item(row, sizes.get(row.raw_sha256, 0)) for row in rows]


def _item(row: InboundMessage, size: int) -> schemas.QuarantinedMessage:
    return schemas.QuarantinedMessage(
        id=row.id,
        received_at=row.received_at,
        mailbox=row.mailbox,
        sender=row.sender,
        subject=row.subject,
        reason=row.reason,
        attempts=row.attempts,
        size=size,
    )
