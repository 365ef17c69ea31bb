"""Noise: automatic mail that concerns no open case (bounces of no email of ours, auto-replies,
list mail, feedback reports, our own mail come back). The intake keeps it, with its class and
the detectors' reasons, instead of opening a case; supervisors list it and may promote a
message to a case, which then runs the intake's normal path as a person's message.

Supervisors and admins only. Like reprocessing, promotion runs the intake's code, which the API
cannot import: the composition root passes it in (`create_app(promote=...)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from caseflow.api import schemas
from caseflow.api.deps import ClientDep, Limit, Offset, SessionsDep, SettingsDep, read
from caseflow.api.errors import ApiError
from caseflow.api.routes.quarantine import (
    Outcome,
    SupervisorDep,
    raw_sizes,
    status_of,
    taken_in_again,
)
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.store.models import InboundMessage
from caseflow.workflows.bounds import Id
from caseflow.workflows.model import MailClass

router = APIRouter(prefix="/intake/noise", tags=["noise"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 422, 503)
}

Promote = Callable[[Settings, sessionmaker[Session], Client, int, str], Awaitable[Outcome]]
Sender = Annotated[str, Query(max_length=320, description="part of the sender's address")]


def get_promote(request: Request) -> Promote:
    promote: Promote | None = getattr(request.app.state, "promote", None)
    if promote is None:
        raise ApiError(503, "promotion_unavailable", "this API runs without the intake")
    return promote


@router.get("", responses=ERRORS)
async def list_noise(
    _: SupervisorDep,
    sessions: SessionsDep,
    mail_class: Annotated[MailClass | None, Query(alias="class")] = None,
    sender: Sender = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> schemas.NoisePage:
    """Automatic mail that opened no case, newest first, with its class and why it was judged
    automatic; `class` (bounce, auto_reply, bulk, feedback, own_loop) and `sender` (part of
    the address) narrow it."""
    wanted = str(mail_class) if mail_class is not None else ""

    def page(session: Session) -> schemas.NoisePage:
        rows, total = messages.noise_messages(session, wanted, sender.strip(), limit, offset)
        sizes = raw_sizes(session, rows)
        items = [_item(row, sizes.get(row.raw_sha256, 0)) for row in rows]
        return schemas.NoisePage(items=items, total=total, limit=limit, offset=offset)

    return await read(sessions, page)


@router.post("/{message_id}/promote", responses=ERRORS)
async def promote(
    message_id: Id,
    supervisor: SupervisorDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    client: ClientDep,
    request: Request,
) -> schemas.Reprocessed:
    """Take a message recorded as noise in again as a person's: it threads to its case or
    opens one (the record creation rules apply), and the case's timeline says who promoted it
    and what the detectors had found. Its sender gets no acknowledgement."""
    run = get_promote(request)  # after the request's own checks: a bad id answers 422 first
    status = await read(sessions, lambda s: status_of(s, message_id))
    if status is None:
        raise ApiError(404, "unknown_message", f"there is no inbound message {message_id}")
    if status != messages.NOISE:
        raise ApiError(409, "not_noise", f"message {message_id} is {status}, not noise")
    try:
        outcome = await run(settings, sessions, client, message_id, supervisor.handle)
    except ValueError as err:  # no longer noise (promoted meanwhile), or its bytes are gone
        raise ApiError(409, "not_promotable", str(err)) from err
    return taken_in_again(message_id, outcome)


def _item(row: InboundMessage, size: int) -> schemas.NoiseMessage:
    return schemas.NoiseMessage(
        id=row.id,
        received_at=row.received_at,
        mailbox=row.mailbox,
        sender=row.sender,
        subject=row.subject,
        mail_class=row.mail_class,
        reason=row.reason,
        size=size,
    )
