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
from caseflow.store.signins import close_sessions_of

DEFAULT_QUEUE = "standard"
EMAIL_OK = "ok"
EMAIL_FAILING = "failing"


# ---------------------------------------------------------------------------------------------
# Customers


def find_or_create_contact(session: Session, email: str, name: str = "") -> Contact:
    """The contact with this address; a new one (in the account of its domain) if unknown."""
    address = email.strip().lower()
    contact = contact_by_email(session, address)
    if contact is not None:
        return contact
    return create_contact(session, address, name, account_by_domain(session, address))


def create_contact(session: Session, email: str, name: str, account: Account | None) -> Contact:
    """A new contact; the existing one when another intake created it at the same moment."""
    address = email.strip().lower()
    try:
        with session.begin_nested():
            contact = Contact(email=address, name=name[:200], account=account)
            session.add(contact)
        return contact
    except IntegrityError:
        existing = contact_by_email(session, address)
        assert existing is not None
        return existing


def contact_by_email(session: Session, email: str) -> Contact | None:
    query = select(Contact).options(selectinload(Contact.account))
    return session.scalar(query.where(Contact.email == email.strip().lower()))


def language_of(session: Session, email: str) -> str:
    """The language the contact of this address reads (empty: not said, or no such contact)."""
    address = email.strip().lower()
    if not address:
        return ""
    return session.scalar(select(Contact.language).where(Contact.email == address)) or ""


def account_by_domain(session: Session, email: str) -> Account | None:
    domain = email.strip().lower().rpartition("@")[2]
    return session.scalar(select(Account).where(Account.domain == domain)) if domain else None


def account_by_name(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def primary_contact(session: Session, account_id: int) -> Contact | None:
    """The account's primary contact, whom its own cases (those without a contact) email."""
    query = select(Contact).where(Contact.account_id == account_id, Contact.primary.is_(True))
    return session.scalar(query)


@dataclass
class CustomerRef:
    """Who a new case is for, as far as the directory knows them (nothing is created)."""

    email: str
    contact: Contact | None
    account: Account | None
    problem: str = ""  # why the request does not add up, for the API to refuse

    @property
    def known(self) -> bool:
        """A contact has the address, or an account has its domain (or was named)."""
        return self.contact is not None or self.account is not None


def find_customer(session: Session, email: str, account_name: str = "") -> CustomerRef:
    """The contact of this address and its account; with `account_name`, that account (the
    customer itself when there is no address). A known contact of another account, or an
    unknown account, is a problem the caller refuses."""
    address = email.strip().lower()
    contact = contact_by_email(session, address) if address else None
    if not account_name:
        account = contact.account if contact else account_by_domain(session, address)
        return CustomerRef(address, contact, account)
    account = account_by_name(session, account_name)
    if account is None:
        return CustomerRef(address, contact, None, f"there is no account {account_name!r}")
    if contact is not None and contact.account_id not in (None, account.id):
        theirs = contact.account.name if contact.account else ""
        return CustomerRef(
            address, contact, contact.account, f"{address} is a contact of {theirs!r}"
        )
    return CustomerRef(address, contact, account)


@dataclass
class ActiveEntitlement:
    entitlement: Entitlement
    remaining: int | None  # cases left in total; None: unlimited
    channel_remaining: int | None = None  # cases left for the case's channel; None: no count

    @property
    def left(self) -> int | None:
        """Cases left for this channel: the smaller of the total and the channel's count."""
        counts = [n for n in (self.remaining, self.channel_remaining) if n is not None]
        return min(counts) if counts else None

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0


def active_entitlement(
    session: Session, contact: Contact, today: date, channel: str
) -> ActiveEntitlement | None:
    """The entitlement covering this contact (directly or through its account) today."""
    return covering_entitlement(session, contact.id, contact.account_id, today, channel)


def covering_entitlement(
    session: Session, contact_id: int | None, account_id: int | None, today: date, channel: str
) -> ActiveEntitlement | None:
    """The entitlement of the contact, else of its account, valid today and allowing the
    channel; one with cases left before an exhausted one, the contact's own first."""
    holders = [Entitlement.contact_id == contact_id] if contact_id is not None else []
    if account_id is not None:
        holders.append(Entitlement.account_id == account_id)
    if not holders:
        return None
    query = (
        select(Entitlement)
        .options(selectinload(Entitlement.sla_policy))
        .where(or_(*holders))
        .where(or_(Entitlement.starts_on.is_(None), Entitlement.starts_on <= today))
        .where(or_(Entitlement.ends_on.is_(None), Entitlement.ends_on >= today))
        .order_by(Entitlement.contact_id.is_(None), Entitlement.id)
    )
    found = [
        standing(session, e, channel)
        for e in session.scalars(query)
        if not e.channels or channel in e.channels
    ]
    return next((a for a in found if not a.exhausted), found[0] if found else None)


def exhausted_entitlement(
    session: Session, customer: CustomerRef, today: date, channel: str
) -> str:
    """The name of the entitlement covering this customer when it has no cases left for the
    channel, else "": what the record creation rules judge a new case by."""
    active = covering_entitlement(
        session,
        customer.contact.id if customer.contact else None,
        customer.account.id if customer.account else None,
        today,
        channel,
    )
    return active.entitlement.name if active is not None and active.exhausted else ""


def standing(session: Session, entitlement: Entitlement, channel: str) -> ActiveEntitlement:
    counts = entitlement.channel_counts or {}
    channel_left = None
    if counts.get(channel) is not None:
        channel_left = int(counts[channel]) + _used(session, entitlement, channel)
    return ActiveEntitlement(entitlement, remaining_cases(session, entitlement), channel_left)


def remaining_cases(session: Session, entitlement: Entitlement) -> int | None:
    if entitlement.total_cases is None:
        return None
    return entitlement.total_cases + _used(session, entitlement)


def remaining_by_channel(session: Session, entitlement: Entitlement) -> dict[str, int]:
    """Cases left for each channel that has its own count."""
    counts = entitlement.channel_counts or {}
    return {
        channel: int(count) + _used(session, entitlement, channel)
        for channel, count in sorted(counts.items())
        if count is not None
    }


def _used(session: Session, entitlement: Entitlement, channel: str | None = None) -> int:
    """The sum of the keyed uses (-1 consumed, +1 given back), of one channel or all."""
    query = select(func.coalesce(func.sum(EntitlementUse.delta), 0)).where(
        EntitlementUse.entitlement_id == entitlement.id
    )
    if channel is not None:
        query = query.where(EntitlementUse.channel == channel)
    return int(session.scalar(query) or 0)


# ---------------------------------------------------------------------------------------------
# Routing and SLA configuration


def routing_rules(session: Session) -> list[RoutingRule]:
    """In the order they are tried: by position, then by name (so an export keeps it)."""
    query = select(RoutingRule).options(
        selectinload(RoutingRule.queue), selectinload(RoutingRule.agent)
    )
    return list(session.scalars(query.order_by(RoutingRule.position, RoutingRule.name)))


def sla_policies(session: Session) -> list[SlaPolicy]:
    query = select(SlaPolicy).options(selectinload(SlaPolicy.calendar))
    return list(session.scalars(query.order_by(SlaPolicy.name)))


def default_policy_name(session: Session) -> str:
    name = session.scalar(select(SlaPolicy.name).where(SlaPolicy.is_default.is_(True)))
    return name or ""


# ---------------------------------------------------------------------------------------------
# Agents and queues


def agent_by_token_hash(session: Session, token_hash: str) -> Agent | None:
    """The agent holding this token hash, disabled or not: whether they may sign in is the
    caller's rule."""
    query = select(Agent).options(selectinload(Agent.queues)).where(Agent.token_hash == token_hash)
    return session.scalar(query)


def replace_token_hash(session: Session, old: str, new: str) -> bool:
    """Store a token under a new hash (same token, new scheme); False if no agent has `old`."""
    agent = session.scalar(select(Agent).where(Agent.token_hash == old))
    if agent is None:
        return False
    agent.token_hash = new
    return True


def agent_by_handle(session: Session, handle: str) -> Agent | None:
    query = select(Agent).options(selectinload(Agent.queues)).where(Agent.handle == handle)
    return session.scalar(query)


def agent_with_email(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def queue_by_name(session: Session, name: str) -> Queue | None:
    return session.scalar(select(Queue).where(Queue.name == name))


def agents(session: Session) -> list[Agent]:
    """Every agent, active or not, with their queues, by handle."""
    query = select(Agent).options(selectinload(Agent.queues)).order_by(Agent.handle)
    return list(session.scalars(query))


def create_agent(
    session: Session,
    handle: str,
    email: str,
    role: str,
    queues: list[str],
    token_hash: str,
    *,
    display_name: str = "",
    password_hash: str | None = None,
) -> Agent:
    """A new agent in the named queues; raises LookupError for an unknown queue."""
    agent = Agent(
        handle=handle,
        email=email.lower(),
        role=role,
        token_hash=token_hash,
        display_name=display_name,
        password_hash=password_hash,
    )
    agent.queues = queues_named(session, queues)
    session.add(agent)
    session.flush()
    return agent


def queues_named(session: Session, names: list[str]) -> list[Queue]:
    """The queues of these names, in order; raises LookupError for an unknown one."""
    found = []
    for name in names:
        queue = queue_by_name(session, name)
        if queue is None:
            raise LookupError(f"unknown queue {name!r}")
        found.append(queue)
    return found


def agent_name(session: Session, handle: str) -> str:
    """How emails sign and pages name the agent: the display name, else the handle."""
    name = session.scalar(select(Agent.display_name).where(Agent.handle == handle))
    return name or handle


def set_agent_token(session: Session, handle: str, token_hash: str) -> bool:
    """Replace the agent's token (the old one stops working); False for an unknown agent."""
    agent = session.scalar(select(Agent).where(Agent.handle == handle))
    if agent is None:
        return False
    agent.token_hash = token_hash
    return True


def set_agent_password(session: Session, handle: str, password_hash: str) -> bool:
    """Replace the agent's password hash, lift any sign-in lock-out and end the agent's
    browser sessions (whoever had the old password is signed out); False if unknown."""
    agent = session.scalar(select(Agent).where(Agent.handle == handle))
    if agent is None:
        return False
    agent.password_hash = password_hash
    agent.failed_sign_ins, agent.locked_until = 0, None
    close_sessions_of(session, agent.id)
    return True


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
