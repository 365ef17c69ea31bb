"""The agent's pages (`/agent`): signing in and out, and what every page shares (who the
browser is signed in as, rendering, CSRF). The lists and the case page are `workspace_cases`.

Agents' emails link to a case's page, so a person who follows one sees the case once signed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from caseflow import passwords
from caseflow.api import auth
from caseflow.api.deps import (
    RateLimitsDep,
    SessionsDep,
    SettingsDep,
    agent_refusal,
    client_address,
    read,
    write,
)
from caseflow.api.ratelimits import SIGN_IN, retry_sentence
from caseflow.settings import Settings
from caseflow.signing import session_hash
from caseflow.store import signins
from caseflow.store.models import Agent
from caseflow.workflows.model import Actor, Role

router = APIRouter(prefix="/agent", tags=["agent pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# Checked against when the login names nobody, so a wrong handle takes as long as a wrong
# password and the answer does not tell which it was.
_DUMMY_HASH = passwords.hash_password("caseflow: nobody signs in with this")
HOME_CASES = 25


@dataclass(frozen=True)
class Browser:
    """Who this browser is signed in as (if anyone), and its CSRF value."""

    agent: Actor | None
    name: str
    session_token: str | None
    csrf_nonce: str
    new_nonce: bool


def _actor(agent: Agent) -> Actor:
    return Actor(handle=agent.handle, role=Role(agent.role), queues=[q.name for q in agent.queues])


async def browser(request: Request, settings: SettingsDep, sessions: SessionsDep) -> Browser:
    token = request.cookies.get(auth.SESSION_COOKIE)
    nonce = request.cookies.get(auth.CSRF_COOKIE)
    agent: Actor | None = None
    name = ""
    if token:
        key = session_hash(settings.secret_key.get_secret_value(), token)

        def find(session: Session) -> tuple[Actor, str] | None:
            row = signins.agent_of_session(session, key, datetime.now(UTC))
            if row is None or agent_refusal(row, settings) is not None:
                return None
            return _actor(row), row.display_name or row.handle

        found = await read(sessions, find)
        if found is not None:
            agent, name = found
    return Browser(agent, name, token if agent else None, nonce or auth.new_token(), not nonce)


BrowserDep = Annotated[Browser, Depends(browser)]


def render(
    request: Request,
    settings: Settings,
    seen: Browser,
    template: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    secret = settings.secret_key.get_secret_value()
    response = templates.TemplateResponse(
        request,
        template,
        {
            "support_name": settings.support_name,
            "agent": seen.agent,
            "agent_name": seen.name,
            "csrf": auth.csrf_token(secret, seen.csrf_nonce),
            **context,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    if seen.new_nonce:
        _set_cookie(response, settings, auth.CSRF_COOKIE, seen.csrf_nonce, "strict")
    return response


def _set_cookie(response: Response, settings: Settings, name: str, value: str, same: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite=same,  # type: ignore[arg-type]
    )


def to_sign_in(target: str) -> RedirectResponse:
    return RedirectResponse(f"/agent/sign-in?next={quote(auth.safe_next(target))}", 303)


def csrf_ok(settings: Settings, seen: Browser, token: str) -> bool:
    nonce = None if seen.new_nonce else seen.csrf_nonce
    return auth.csrf_valid(settings.secret_key.get_secret_value(), nonce, token)


# -- signing in and out ----------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    request: Request, settings: SettingsDep, seen: BrowserDep, next: str = auth.HOME
) -> Response:
    if seen.agent is not None:
        return RedirectResponse(auth.safe_next(next), 303)
    return render(request, settings, seen, "agent/sign_in.html", next=auth.safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    limits: RateLimitsDep,
    login: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    csrf: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = auth.HOME,
) -> Response:
    """Sign in with a handle (or address) and password; a wrong one counts towards the lock."""
    target = auth.safe_next(next)

    def again(status: int, error: str) -> HTMLResponse:
        return render(
            request, settings, seen, "agent/sign_in.html", status, next=target,
            login=login, error=error,
        )  # fmt: skip

    if (wait := limits.wait_for(SIGN_IN, client_address(request))) is not None:
        refused = again(429, retry_sentence(wait))
        refused.headers["Retry-After"] = str(wait)
        return refused
    if not csrf_ok(settings, seen, csrf):
        return again(403, "This form had expired; please sign in again.")
    outcome = await _signed_in(settings, sessions, login, password)
    if isinstance(outcome, SignInRefused):
        return again(outcome.status, outcome.message)
    response = RedirectResponse(target, 303)
    _set_cookie(response, settings, auth.SESSION_COOKIE, outcome, "lax")
    # A CSRF value of its own for the signed-in browser: none chosen before sign-in carries over.
    _set_cookie(response, settings, auth.CSRF_COOKIE, auth.new_token(), "strict")
    return response


@dataclass(frozen=True)
class SignInRefused:
    status: int
    message: str


@dataclass(frozen=True)
class Candidate:
    """The agent a login names, as read before the (slow) password check."""

    id: int
    password_hash: str | None
    refusal: str | None


async def _signed_in(
    settings: Settings, sessions: sessionmaker[Session], login: str, password: str
) -> str | SignInRefused:
    """The new session's token, or why signing in is refused. A login that names nobody gets
    the wrong password's answer, after as long a check. An attempt is counted before its
    password is checked (in the thread pool, outside any transaction), so a burst of
    attempts at the same moment gets no more tries than the lock allows."""
    now = datetime.now(UTC)
    found = await read(sessions, lambda s: _candidate(s, settings, login))
    if found is None or found.password_hash is None:
        await run_in_threadpool(passwords.check_password, _DUMMY_HASH, password)
        return SignInRefused(401, auth.WRONG)
    attempt = await write(
        sessions, lambda s: signins.charge_attempt(s, found.id, now, auth.lock_after)
    )
    if not attempt.allowed:
        return SignInRefused(429, auth.locked_message(_left(attempt.locked_until, now)))
    if not await run_in_threadpool(passwords.check_password, found.password_hash, password):
        if attempt.locked_until is not None:
            return SignInRefused(429, auth.locked_message(_left(attempt.locked_until, now)))
        return SignInRefused(401, auth.WRONG)
    if found.refusal is not None:
        return SignInRefused(403, f"{found.refusal[:1].upper()}{found.refusal[1:]}.")
    rehashed = None
    if passwords.needs_rehash(found.password_hash):
        rehashed = await run_in_threadpool(passwords.hash_password, password)
    token = auth.new_token()
    key = session_hash(settings.secret_key.get_secret_value(), token)

    def open_session(session: Session) -> None:
        signins.record_success(session, found.id, rehashed)
        signins.open_session(session, found.id, key, now, auth.SESSION_LIFETIME)

    await write(sessions, open_session)
    return token


def _left(until: datetime | None, now: datetime) -> timedelta:
    return auth.lock_left(until, now) or timedelta(0)


def _candidate(session: Session, settings: Settings, login: str) -> Candidate | None:
    agent = signins.agent_by_login(session, login)
    if agent is None:
        return None
    refusal = agent_refusal(agent, settings)
    return Candidate(agent.id, agent.password_hash, refusal)


@router.post("/sign-out")
async def sign_out(
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """End this browser's session (the cookie is cleared, the session row deleted)."""
    token = seen.session_token
    if not csrf_ok(settings, seen, csrf):  # another site's form: change nothing
        return RedirectResponse(auth.HOME, 303)
    if token is not None:
        key = session_hash(settings.secret_key.get_secret_value(), token)
        await write(sessions, lambda s: signins.close_session(s, key))
    response = RedirectResponse("/agent/sign-in", 303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
