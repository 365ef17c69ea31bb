"""Agents signing in to the pages: who a login names, failed attempts, and browser sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
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


def count_failure(session: Session, agent_id: int) -> int:
    """One more failed sign-in, counted in the database (concurrent ones each count); the
    count of failures in a row now."""
    counted = session.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(failed_sign_ins=Agent.failed_sign_ins + 1)
        .returning(Agent.failed_sign_ins)
    ).scalar_one()
    return int(counted)


def lock(session: Session, agent_id: int, until: datetime) -> None:
    session.execute(update(Agent).where(Agent.id == agent_id).values(locked_until=until))


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
            last_seen_at=now,
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
