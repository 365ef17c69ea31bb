"""Agents signing in to the pages: who a login names, failed attempts, and browser sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from caseflow.store.models import Agent, AgentSession


def agent_by_login(session: Session, login: str) -> Agent | None:
    """The agent a sign-in form names, by handle or by address (either case)."""
    name = login.strip().lower()
    if not name:
        return None
    query = select(Agent).options(selectinload(Agent.queues))
    return session.scalar(
        query.where(or_(func.lower(Agent.handle) == name, func.lower(Agent.email) == name))
    )


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt as charged before its password is checked."""

    allowed: bool  # False: signing in is locked
    locked_until: datetime | None


def charge_attempt(
    session: Session,
    agent_id: int,
    now: datetime,
    lock_after: Callable[[int, datetime], datetime | None],
) -> Attempt:
    """Count an attempt as failed until its password proves right (`record_success` clears
    the count), with the agent's row locked: attempts at the same moment are each counted,
    so no burst gets more tries than the lock allows. `lock_after(failures, now)` says until
    when a count locks signing in."""
    agent = session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        return Attempt(False, None)
    if agent.locked_until is not None and agent.locked_until > now:
        return Attempt(False, agent.locked_until)
    agent.failed_sign_ins += 1
    agent.locked_until = lock_after(agent.failed_sign_ins, now)
    return Attempt(True, agent.locked_until)


def record_success(session: Session, agent_id: int, password_hash: str | None = None) -> None:
    """Clear the failed attempts; a hash made with stronger parameters replaces the old one."""
    agent = session.get(Agent, agent_id, with_for_update=True)
    if agent is not None:
        agent.failed_sign_ins = 0
        agent.locked_until = None
        if password_hash is not None:
            agent.password_hash = password_hash


def open_session(
    session: Session, agent_id: int, token_hash: str, now: datetime, lifetime: timedelta
) -> None:
    session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))
    session.add(
        AgentSession(
            token_hash=token_hash,
            agent_id=agent_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )


def agent_of_session(session: Session, token_hash: str, now: datetime) -> Agent | None:
    """The agent a browser session is for, while it has not expired."""
    query = (
        select(AgentSession)
        .options(selectinload(AgentSession.agent).selectinload(Agent.queues))
        .where(AgentSession.token_hash == token_hash, AgentSession.expires_at > now)
    )
    found = session.scalar(query)
    return found.agent if found is not None else None


def close_session(session: Session, token_hash: str) -> None:
    session.execute(delete(AgentSession).where(AgentSession.token_hash == token_hash))


def close_sessions_of(session: Session, agent_id: int) -> None:
    """Sign an agent out everywhere (a new password, a disabled agent)."""
    session.execute(delete(AgentSession).where(AgentSession.agent_id == agent_id))
