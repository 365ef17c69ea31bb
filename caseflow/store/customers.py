"""Reads of customers for the API: accounts and contacts with their cases and entitlements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from caseflow.store import directory
from caseflow.store.cases import ACTIVE_STATUSES, RESOLVED_STATUSES, Scope, in_scope
from caseflow.store.models import Account, Case, Contact, Entitlement

CASES_SHOWN = 100  # of each kind, newest first


@dataclass
class EntitlementView:
    entitlement: Entitlement
    remaining: int | None
    remaining_by_channel: dict[str, int]
    active: bool  # valid today


@dataclass
class CustomerCases:
    open: list[Case] = field(default_factory=list)
    resolved: list[Case] = field(default_factory=list)
    open_total: int = 0
    resolved_total: int = 0


def accounts(session: Session, limit: int, offset: int) -> tuple[list[tuple[Account, int]], int]:
    """Accounts by name, each with its number of contacts."""
    contacts = (
        select(func.count(Contact.id)).where(Contact.account_id == Account.id).scalar_subquery()
    )
    total = session.scalar(select(func.count(Account.id))) or 0
    query = select(Account, contacts).order_by(Account.name).limit(limit).offset(offset)
    return [(row[0], int(row[1])) for row in session.execute(query)], total


def account(session: Session, account_id: int) -> Account | None:
    query = select(Account).options(selectinload(Account.contacts))
    return session.scalar(query.where(Account.id == account_id))


def contact(session: Session, contact_id: int) -> Contact | None:
    query = select(Contact).options(selectinload(Contact.account))
    return session.scalar(query.where(Contact.id == contact_id))


def contacts(
    session: Session, email: str | None, limit: int, offset: int
) -> tuple[list[Contact], int]:
    query = select(Contact).options(selectinload(Contact.account))
    if email:
        query = query.where(Contact.email == email.strip().lower())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Contact.email).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def cases_of(
    session: Session, holder: ColumnElement[bool], scope: Scope | None = None
) -> CustomerCases:
    """The customer's open and resolved cases (`holder`: which cases are theirs) that the
    reader sees."""
    found = CustomerCases()
    for statuses, kind in ((ACTIVE_STATUSES, "open"), (RESOLVED_STATUSES, "resolved")):
        query = select(Case).where(holder, in_scope(scope), Case.status.in_(statuses))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Case.created_at.desc()).limit(CASES_SHOWN))
        setattr(found, kind, list(rows))
        setattr(found, f"{kind}_total", total)
    return found


def account_cases(session: Session, account_id: int, scope: Scope | None = None) -> CustomerCases:
    return cases_of(session, Case.account_id == account_id, scope)


def contact_cases(session: Session, contact_id: int, scope: Scope | None = None) -> CustomerCases:
    return cases_of(session, Case.contact_id == contact_id, scope)


def entitlements_of(
    session: Session, today: date, account_id: int | None, contact_id: int | None = None
) -> list[EntitlementView]:
    """The entitlements held by the account or the contact, by name, with what is left."""
    holders = []
    if account_id is not None:
        holders.append(Entitlement.account_id == account_id)
    if contact_id is not None:
        holders.append(Entitlement.contact_id == contact_id)
    if not holders:
        return []
    query = select(Entitlement).where(or_(*holders))
    return [view(session, e, today) for e in session.scalars(query.order_by(Entitlement.name))]


def entitlement(session: Session, name: str) -> Entitlement | None:
    query = select(Entitlement).options(
        selectinload(Entitlement.sla_policy),
        selectinload(Entitlement.account),
        selectinload(Entitlement.contact),
    )
    return session.scalar(query.where(Entitlement.name == name))


def view(session: Session, row: Entitlement, today: date) -> EntitlementView:
    active = (row.starts_on is None or row.starts_on <= today) and (
        row.ends_on is None or row.ends_on >= today
    )
    return EntitlementView(
        entitlement=row,
        remaining=directory.remaining_cases(session, row),
        remaining_by_channel=directory.remaining_by_channel(session, row),
        active=active,
    )
