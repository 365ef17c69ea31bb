"""Customers, entitlements, agents, queues, routing rules, calendars and SLA policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from caseflow.store.models import (
    Account,
    Agent,
    Contact,
    Entitlement,
    EntitlementUse,
    Queue,
    QueueMember,
    RoutingRule,
    SlaPolicy,
)

DEFAULT_QUEUE = "standard"
EMAIL_OK = "ok"
EMAIL_FAILING = "failing"


# ---------------------------------------------------------------------------------------------
# Customers


def find_or_create_contact(session: Session, email: str, name: str = "") -> Contact:
    """The contact with this address; a new one (in the account of its domain) if unknown."""
    address = email.strip().lower()
    contact = session.scalar(select(Contact).where(Contact.email == address))
    if contact is not None:
        return contact
    domain = address.rpartition("@")[2]
    account = session.scalar(select(Account).where(Account.domain == domain))
    try:
        with session.begin_nested():
            contact = Contact(email=address, name=name[:200], account=account)
            session.add(contact)
        return contact
    except IntegrityError:
        existing = session.scalar(select(Contact).where(Contact.email == address))
        assert existing is not None
        return existing


@dataclass
class ActiveEntitlement:
    entitlement: Entitlement
    remaining: int | None


def active_entitlement(
    session: Session, contact: Contact, today: date, channel: str
) -> ActiveEntitlement | None:
    """The entitlement covering this contact (directly or through its account) today."""
    holders = [Entitlement.contact_id == contact.id]
    if contact.account_id is not None:
        holders.append(Entitlement.account_id == contact.account_id)
    query = (
        select(Entitlement)
        .options(selectinload(Entitlement.sla_policy))
        .where(or_(*holders))
        .where(or_(Entitlement.starts_on.is_(None), Entitlement.starts_on <= today))
        .where(or_(Entitlement.ends_on.is_(None), Entitlement.ends_on >= today))
        .order_by(Entitlement.contact_id.is_(None), Entitlement.id)
    )
    for entitlement in session.scalars(query):
        if entitlement.channels and channel not in entitlement.channels:
            continue
        return ActiveEntitlement(entitlement, remaining_cases(session, entitlement))
    return None


def remaining_cases(session: Session, entitlement: Entitlement) -> int | None:
    if entitlement.total_cases is None:
        return None
    used = session.scalar(
        select(func.coalesce(func.sum(EntitlementUse.delta), 0)).where(
            EntitlementUse.entitlement_id == entitlement.id
        )
    )
    return entitlement.total_cases + int(used or 0)


# ---------------------------------------------------------------------------------------------
# Routing and SLA configuration


def routing_rules(session: Session) -> list[RoutingRule]:
    query = select(RoutingRule).options(selectinload(RoutingRule.queue))
    return list(session.scalars(query.order_by(RoutingRule.position, RoutingRule.id)))


def sla_policies(session: Session) -> list[SlaPolicy]:
    query = select(SlaPolicy).options(selectinload(SlaPolicy.calendar))
    return list(session.scalars(query.order_by(SlaPolicy.name)))


def default_policy_name(session: Session) -> str:
    name = session.scalar(select(SlaPolicy.name).where(SlaPolicy.is_default.is_(True)))
    return name or ""


# ---------------------------------------------------------------------------------------------
# Agents and queues


def agent_by_token_hash(session: Session, token_hash: str) -> Agent | None:
    query = select(Agent).options(selectinload(Agent.queues)).where(Agent.token_hash == token_hash)
    agent = session.scalar(query)
    return agent if agent is not None and agent.active else None


def agent_by_handle(session: Session, handle: str) -> Agent | None:
    query = select(Agent).options(selectinload(Agent.queues)).where(Agent.handle == handle)
    return session.scalar(query)


def queue_by_name(session: Session, name: str) -> Queue | None:
    return session.scalar(select(Queue).where(Queue.name == name))


def create_agent(
    session: Session, handle: str, email: str, role: str, queues: list[str], token_hash: str
) -> Agent:
    """A new agent in the named queues; raises LookupError for an unknown queue."""
    members = []
    for name in queues:
        queue = queue_by_name(session, name)
        if queue is None:
            raise LookupError(f"unknown queue {name!r}")
        members.append(queue)
    agent = Agent(handle=handle, email=email.lower(), role=role, token_hash=token_hash)
    agent.queues = members
    session.add(agent)
    session.flush()
    return agent


def agent_emails(session: Session, handles: list[str]) -> list[str]:
    if not handles:
        return []
    query = select(Agent.email).where(Agent.handle.in_(handles), Agent.active.is_(True))
    return list(session.scalars(query))


def queue_member_emails(session: Session, queues: list[str]) -> list[str]:
    if not queues:
        return []
    query = (
        select(Agent.email)
        .join(QueueMember, QueueMember.agent_id == Agent.id)
        .join(Queue, Queue.id == QueueMember.queue_id)
        .where(Queue.name.in_(queues), Agent.active.is_(True))
    )
    return list(session.scalars(query))


def supervisor_emails(session: Session) -> list[str]:
    query = select(Agent.email).where(
        Agent.role.in_(("supervisor", "admin")), Agent.active.is_(True)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------------------------------------
# Addresses that bounce


def mark_email_failing(session: Session, address: str, reason: str, at: datetime) -> bool:
    """Mail to this address bounced for good: stop mailing it until it writes to us again.

    Only a known contact is marked (agents and strangers have no contact row); True if one was.
    """
    contact = session.scalar(select(Contact).where(Contact.email == address.strip().lower()))
    if contact is None:
        return False
    contact.email_status = EMAIL_FAILING
    contact.email_failed_at = at
    contact.email_failure = reason[:2000]
    return True


def mark_email_ok(session: Session, address: str) -> bool:
    """Mail came from this address: it works again. True if it had been failing."""
    query = select(Contact).where(
        Contact.email == address.strip().lower(), Contact.email_status == EMAIL_FAILING
    )
    contact = session.scalar(query)
    if contact is None:
        return False
    contact.email_status = EMAIL_OK
    contact.email_failure = ""
    return True


def failing_addresses(session: Session, addresses: list[str]) -> list[str]:
    """Those of these addresses whose mail bounced and that have not written since."""
    wanted = [a.strip().lower() for a in addresses if a.strip()]
    if not wanted:
        return []
    query = select(Contact.email).where(
        Contact.email.in_(wanted), Contact.email_status == EMAIL_FAILING
    )
    return list(session.scalars(query))
