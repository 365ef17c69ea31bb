"""The customer portal's records: one-time sign-in links, customers' sessions, the cases a
contact sees, and the knowledge articles opened from the new-case form (deflections)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from caseflow.store.models import Case, Contact, PortalArticleView, PortalLink, PortalSession


@dataclass(frozen=True)
class Customer:
    """A signed-in contact, as the portal's pages need them."""

    id: int
    email: str
    name: str
    account_id: int | None
    account_name: str
    account_admin: bool
    language: str = ""  # empty: the browser's, else the organisation's default


def customer_of(contact: Contact) -> Customer:
    return Customer(
        id=contact.id,
        email=contact.email,
        name=contact.name,
        account_id=contact.account_id,
        account_name=contact.account.name if contact.account else "",
        account_admin=contact.account_admin and contact.account_id is not None,
        language=contact.language,
    )


def contact_for_sign_in(session: Session, email: str) -> Contact | None:
    """The contact this address names (either case), or None."""
    address = email.strip().lower()
    if not address:
        return None
    return session.scalar(select(Contact).where(func.lower(Contact.email) == address))


# -- one-time sign-in links -------------------------------------------------------------------


def issue_link(
    session: Session, contact_id: int, token_hash: str, now: datetime, lifetime: timedelta
) -> None:
    """Keep a new link's hash; links that expired are forgotten on the way."""
    session.execute(delete(PortalLink).where(PortalLink.expires_at <= now - lifetime))
    session.add(
        PortalLink(
            token_hash=token_hash, contact_id=contact_id, created_at=now, expires_at=now + lifetime
        )
    )


class Redeemed(StrEnum):
    SIGNED_IN = "signed_in"
    USED = "used"  # it signed in once already
    EXPIRED = "expired"
    UNKNOWN = "unknown"


def redeem_link(session: Session, token_hash: str, now: datetime) -> tuple[Redeemed, int | None]:
    """Use the link once: one conditional UPDATE, so of two clicks at the same moment exactly
    one signs in. Answers what became of it and, when it signs in, whose it is."""
    used = session.execute(
        update(PortalLink)
        .where(
            PortalLink.token_hash == token_hash,
            PortalLink.used_at.is_(None),
            PortalLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row = session.scalar(select(PortalLink).where(PortalLink.token_hash == token_hash))
    if row is None:
        return Redeemed.UNKNOWN, None
    if cast(CursorResult[Any], used).rowcount == 1:
        return Redeemed.SIGNED_IN, row.contact_id
    return (Redeemed.USED if row.used_at is not None else Redeemed.EXPIRED), None


def link_state(session: Session, token_hash: str, now: datetime) -> Redeemed:
    """What using the link now would do, without using it (`SIGNED_IN`: it would sign in)."""
    row = session.scalar(select(PortalLink).where(PortalLink.token_hash == token_hash))
    if row is None:
        return Redeemed.UNKNOWN
    if row.used_at is not None:
        return Redeemed.USED
    return Redeemed.EXPIRED if row.expires_at <= now else Redeemed.SIGNED_IN


# -- sessions ---------------------------------------------------------------------------------


def open_session(
    session: Session, contact_id: int, token_hash: str, now: datetime, lifetime: timedelta
) -> None:
    session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    session.add(
        PortalSession(
            token_hash=token_hash, contact_id=contact_id, created_at=now, expires_at=now + lifetime
        )
    )


def customer_of_session(session: Session, token_hash: str, now: datetime) -> Customer | None:
    """The contact a browser session is for, while it has not expired."""
    query = (
        select(Contact)
        .join(PortalSession, PortalSession.contact_id == Contact.id)
        .options(selectinload(Contact.account))
        .where(PortalSession.token_hash == token_hash, PortalSession.expires_at > now)
    )
    contact = session.scalar(query)
    return customer_of(contact) if contact is not None else None


def close_session(session: Session, token_hash: str) -> None:
    session.execute(delete(PortalSession).where(PortalSession.token_hash == token_hash))


# -- the cases a contact sees -----------------------------------------------------------------


def seen_by(customer: Customer) -> ColumnElement[bool]:
    """A contact's own cases (by contact, or by address for cases opened before they were
    one); an account's administrator's, every case of the account."""
    own = or_(Case.contact_id == customer.id, func.lower(Case.customer_email) == customer.email)
    if customer.account_admin and customer.account_id is not None:
        return or_(own, Case.account_id == customer.account_id)
    return own


def customer_cases(session: Session, customer: Customer, limit: int = 100) -> list[Case]:
    """The cases the contact sees, newest first."""
    query = select(Case).where(seen_by(customer))
    return list(session.scalars(query.order_by(Case.created_at.desc()).limit(limit)))


def customer_case(session: Session, customer: Customer, number: str) -> Case | None:
    """The case if the contact sees it; None as for a case that does not exist."""
    return session.scalar(select(Case).where(and_(Case.number == number, seen_by(customer))))


# -- articles opened from the new-case form ---------------------------------------------------


def article_opened(session: Session, visitor: str, article_id: int, now: datetime) -> None:
    session.add(PortalArticleView(visitor=visitor, article_id=article_id, opened_at=now))


def case_submitted(session: Session, visitor: str, case_number: str, since: datetime) -> None:
    """The browser opened a case: the articles it opened since then did not deflect it."""
    session.execute(
        update(PortalArticleView)
        .where(
            PortalArticleView.visitor == visitor,
            PortalArticleView.case_number.is_(None),
            PortalArticleView.opened_at >= since,
        )
        .values(case_number=case_number)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Deflection:
    """Articles opened from the form in a period, those followed by a case from the same
    browser, and the rest: deflections."""

    articles_opened: int
    followed_by_case: int

    @property
    def deflected(self) -> int:
        return self.articles_opened - self.followed_by_case


def deflection(session: Session, start: datetime, end: datetime) -> Deflection:
    within = and_(PortalArticleView.opened_at >= start, PortalArticleView.opened_at < end)
    opened = session.scalar(select(func.count()).where(within)) or 0
    followed = session.scalar(
        select(func.count()).where(within, PortalArticleView.case_number.is_not(None))
    )
    return Deflection(int(opened), int(followed or 0))
