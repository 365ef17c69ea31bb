"""Dependencies of the routes: settings, database sessions, the Temporal client, the agent and
the cases they see, paging, the Idempotency-Key, and the JSON body's media type.

No request holds a database connection while it waits on Temporal: authentication and every read
or write is a short transaction of its own, run off the event loop (`read`, `write`). Only `def`
routes take a session (`SessionDep`), for as long as their function runs, in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Query, Request, params
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from caseflow.api.errors import ApiError
from caseflow.api.ratelimits import RateLimits
from caseflow.settings import Settings
from caseflow.signing import legacy_token_hash, token_hash
from caseflow.store import cases, directory
from caseflow.store.db import transaction
from caseflow.store.models import Agent, Case
from caseflow.workflows import visibility
from caseflow.workflows.bounds import Count
from caseflow.workflows.model import Actor, Role

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="A token from `caseflow agent add`.")
MAX_PAGE = 500
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="at most this many items")]
Offset = Annotated[Count, Query(description="skip this many items first")]
# What a client may send as its Idempotency-Key: a UUID, a ULID, base64 and the like.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:~+/=-]+$"
MAX_IDEMPOTENCY_KEY = 200
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="A value of yours (a UUID), the same on every retry of one request: the "
        "request is carried out once, and a retry answers as the first attempt did.",
    ),
]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


def get_session(
    sessions: Annotated[sessionmaker[Session], Depends(get_sessions)],
) -> Iterator[Session]:
    with transaction(sessions, writes=False) as session:
        yield session


async def get_client(request: Request) -> Client:
    client: Client = await request.app.state.temporal.client()
    return client


def agent_refusal(agent: Agent, settings: Settings) -> str | None:
    """Why this agent may not authenticate (a sentence), or None when they may."""
    if not agent.active:
        return f"the agent {agent.handle} is disabled; an admin can enable them again"
    if agent.is_demo and settings.environment == "production":
        return f"{agent.handle} is a demo agent of `caseflow dev`, refused in production"
    return None


@dataclass(frozen=True)
class TokenHolder:
    """The agent an API token belongs to, as read, and why they may not authenticate."""

    actor: Actor
    refusal: str | None
    legacy_hash: str | None  # the token's unkeyed hash, still on the agent's row


def token_holder(session: Session, settings: Settings, token: str) -> TokenHolder | None:
    """The agent whose API token this is, by its keyed hash or else its legacy (unkeyed) one."""
    agent = directory.agent_by_token_hash(session, token_hash(_secret(settings), token))
    legacy = None
    if agent is None:
        legacy = legacy_token_hash(token)
        agent = directory.agent_by_token_hash(session, legacy)
    if agent is None:
        return None
    actor = Actor(handle=agent.handle, role=Role(agent.role), queues=[q.name for q in agent.queues])
    return TokenHolder(actor, agent_refusal(agent, settings), legacy)


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


async def current_agent(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    sessions: Annotated[sessionmaker[Session], Depends(get_sessions)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Actor:
    """The agent whose token this is; 401 for no token, one we do not know, or an agent who
    may not authenticate (disabled, or a demo agent in production). One short read: the
    request holds no connection afterwards. A row still holding the token's legacy hash is
    rewritten to the keyed one, so no agent has to be issued a new token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
    token = credentials.credentials
    holder = await read(sessions, lambda s: token_holder(s, settings, token))
    if holder is None:
        raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
    if (legacy := holder.legacy_hash) is not None:
        keyed = token_hash(_secret(settings), token)
        await write(sessions, lambda s: directory.replace_token_hash(s, legacy, keyed))
    if holder.refusal is not None:
        raise ApiError(401, "unauthenticated", holder.refusal)
    return holder.actor


def case_scope(agent: Annotated[Actor, Depends(current_agent)]) -> visibility.CaseScope:
    """The cases the caller sees (`workflows.visibility`)."""
    return visibility.scope_of(agent)


def visible_case(session: Session, scope: visibility.CaseScope, number: str) -> Case:
    """The case if the caller sees it; otherwise 404, the answer for a case that does not exist,
    so that nobody learns of cases outside their sight."""
    case = cases.get_case(session, number)
    if case is None or not scope.admits(case.queue, case.owner):
        raise ApiError(404, "unknown_case", f"there is no case {number}")
    return case


async def json_body(request: Request) -> None:
    """A body sent to a route that reads JSON must say it is JSON (415 otherwise), rather than
    fail as a puzzling 422. Form pages and the YAML import read their bodies themselves."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not _reads_json(route) or not await request.body():
        return
    declared = request.headers.get("content-type", "")
    if not _is_json(declared):
        came = f"it came as {declared!r}" if declared else "it came without one"
        detail = f"send the body as JSON, with Content-Type: application/json ({came})"
        raise ApiError(415, "unsupported_media_type", detail)


def _reads_json(route: APIRoute) -> bool:
    field = route.body_field
    return field is not None and not isinstance(field.field_info, params.Form)


def _is_json(content_type: str) -> bool:
    """application/json, or any application/…+json."""
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def read(sessions: sessionmaker[Session], query: Callable[[Session], T]) -> T:
    """Run a database read off the event loop."""

    def run() -> T:
        with transaction(sessions, writes=False) as session:
            return query(session)

    return await run_in_threadpool(run)


async def write(sessions: sessionmaker[Session], change: Callable[[Session], T]) -> T:
    """Run a database write off the event loop."""

    def run() -> T:
        with transaction(sessions) as session:
            return change(session)

    return await run_in_threadpool(run)


def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def client_address(request: Request) -> str:
    """Who is asking, as far as limits go: the client's address (uvicorn takes it from a
    trusted proxy's X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
# Closed as soon as the route's function returns, before its answer is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClientDep = Annotated[Client, Depends(get_client)]
AgentDep = Annotated[Actor, Depends(current_agent)]
ScopeDep = Annotated[visibility.CaseScope, Depends(case_scope)]
