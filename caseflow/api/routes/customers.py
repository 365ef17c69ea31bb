"""Customers: accounts and contacts with their open and resolved cases, and entitlements with
what is left of them. Reads of the database only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, Limit, Offset, ScopeDep, SessionDep
from caseflow.api.errors import ApiError
from caseflow.store import customers
from caseflow.store.models import Account, Contact
from caseflow.workflows.bounds import Id
from caseflow.workflows.visibility import CaseScope

router = APIRouter(tags=["customers"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 404, 422)
}


class EntitlementOut(BaseModel):
    """What a customer is entitled to, and what is left: `remaining` in total (None:
    unlimited) and per counted channel."""

    name: str
    account: str | None
    contact: str | None
    total_cases: int | None
    remaining: int | None
    channels: list[str]  # empty: every channel
    channel_counts: dict[str, int]
    remaining_by_channel: dict[str, int]
    starts_on: date | None
    ends_on: date | None
    active: bool  # valid today
    sla_policy: str | None

    @classmethod
    def of(cls, found: customers.EntitlementView) -> EntitlementOut:
        row = found.entitlement
        return cls(
            name=row.name,
            account=row.account.name if row.account else None,
            contact=row.contact.email if row.contact else None,
            total_cases=row.total_cases,
            remaining=found.remaining,
            channels=list(row.channels),
            channel_counts={k: int(v) for k, v in (row.channel_counts or {}).items()},
            remaining_by_channel=found.remaining_by_channel,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            active=found.active,
            sla_policy=row.sla_policy.name if row.sla_policy else None,
        )


class CasesOut(BaseModel):
    """Open (new, open, waiting, on hold) and resolved (resolved, closed) cases that the caller
    sees, newest first; at most 100 of each are listed, the totals count them all."""

    open: list[schemas.CaseSummary]
    resolved: list[schemas.CaseSummary]
    open_total: int
    resolved_total: int

    @classmethod
    def of(cls, found: customers.CustomerCases) -> CasesOut:
        return cls(
            open=[schemas.CaseSummary.of(c) for c in found.open],
            resolved=[schemas.CaseSummary.of(c) for c in found.resolved],
            open_total=found.open_total,
            resolved_total=found.resolved_total,
        )


class AccountSummary(BaseModel):
    id: int
    name: str
    domain: str | None
    contacts: int


class ContactSummary(BaseModel):
    id: int
    email: str
    name: str
    account_id: int | None
    account: str | None
    email_status: str
    language: str  # empty: the browser's, else the organisation's default

    @classmethod
    def of(cls, row: Contact) -> ContactSummary:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            account_id=row.account_id,
            account=row.account.name if row.account else None,
            email_status=row.email_status,
            language=row.language,
        )


class AccountDetail(BaseModel):
    id: int
    name: str
    domain: str | None
    contacts: list[ContactSummary]
    cases: CasesOut
    entitlements: list[EntitlementOut]


class ContactDetail(ContactSummary):
    cases: CasesOut
    entitlements: list[EntitlementOut]  # its own and its account's


class AccountPage(schemas.Page[AccountSummary]):
    pass


class ContactPage(schemas.Page[ContactSummary]):
    pass


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/accounts", responses=ERRORS)
def list_accounts(
    _: AgentDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> AccountPage:
    """Accounts by name, with their number of contacts."""
    rows, total = customers.accounts(session, limit, offset)
    items = [AccountSummary(id=a.id, name=a.name, domain=a.domain, contacts=n) for a, n in rows]
    return AccountPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/accounts/{account_id}", responses=ERRORS)
def get_account(account_id: Id, scope: ScopeDep, session: SessionDep) -> AccountDetail:
    """The account, its contacts, its open and resolved cases, and its entitlements."""
    row = customers.account(session, account_id)
    if row is None:
        raise ApiError(404, "unknown_account", f"there is no account {account_id}")
    return _account_detail(session, row, scope)


def _account_detail(session: SessionDep, row: Account, scope: CaseScope) -> AccountDetail:
    held = customers.entitlements_of(session, _today(), row.id)
    return AccountDetail(
        id=row.id,
        name=row.name,
        domain=row.domain,
        contacts=[ContactSummary.of(c) for c in sorted(row.contacts, key=lambda c: c.email)],
        cases=CasesOut.of(customers.account_cases(session, row.id, scope)),
        entitlements=[EntitlementOut.of(e) for e in held],
    )


@router.get("/contacts", responses=ERRORS)
def list_contacts(
    _: AgentDep,
    session: SessionDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ContactPage:
    """Contacts by address; `email` finds the one with that address (any case)."""
    rows, total = customers.contacts(session, email, limit, offset)
    items = [ContactSummary.of(c) for c in rows]
    return ContactPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/contacts/{contact_id}", responses=ERRORS)
def get_contact(contact_id: Id, scope: ScopeDep, session: SessionDep) -> ContactDetail:
    """The contact, its open and resolved cases, and the entitlements that cover it."""
    row = customers.contact(session, contact_id)
    if row is None:
        raise ApiError(404, "unknown_contact", f"there is no contact {contact_id}")
    held = customers.entitlements_of(session, _today(), row.account_id, row.id)
    return ContactDetail(
        **ContactSummary.of(row).model_dump(),
        cases=CasesOut.of(customers.contact_cases(session, row.id, scope)),
        entitlements=[EntitlementOut.of(e) for e in held],
    )


@router.get("/entitlements/{name}", responses=ERRORS)
def get_entitlement(name: str, _: AgentDep, session: SessionDep) -> EntitlementOut:
    """What is left of an entitlement, in total and per channel; its window and policy."""
    row = customers.entitlement(session, name)
    if row is None:
        raise ApiError(404, "unknown_entitlement", f"there is no entitlement {name!r}")
    return EntitlementOut.of(customers.view(session, row, _today()))
