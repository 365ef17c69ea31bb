"""Accounts, contacts and entitlements as configuration kinds.

```yaml
accounts:
  - {name: Acme Corporation, domain: acme.example}   # mail from @acme.example is Acme's
contacts:
  - {email: alice@acme.example, name: Alice Martin, account: Acme Corporation, primary: true,
     account_admin: true,           # sees every case of Acme in the customer portal
     language: it}                  # reads the portal and our emails in Italian (en, it, pt)
entitlements:
  - name: Acme Gold
    account: Acme Corporation        # or contact: an address (exactly one of the two)
    total_cases: 15                  # null: unlimited
    channels: {email: 10, phone: 5, web: null}   # allowed channels, some counted; {}: every one
    starts_on: 2026-01-01
    ends_on: 2026-12-31
    sla_policy: gold
```
A primary contact (at most one per account; marking another moves it) receives the emails of
the account's own cases, those opened for the account without a contact. An account's
entitlement covers its contacts. A case consumes one case of it when resolved (of
the total and of its channel's count) and gets it back when reopened or cancelled after that.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.configuration.work import conditions_naming
from caseflow.store.customers import entitlement
from caseflow.store.directory import account_by_name, contact_by_email, primary_contact
from caseflow.store.models import Account, Case, Contact, Entitlement, EntitlementUse, SlaPolicy
from caseflow.workflows.bounds import Count
from caseflow.workflows.model import Channel

STRICT = ConfigDict(extra="forbid")
EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


# -- accounts -------------------------------------------------------------------------------------


class AccountConfig(BaseModel):
    """A company or organisation; mail from its domain is identified as its contacts'."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=200, pattern=DOMAIN)

    _normalise = field_validator("domain", mode="before")(_lower)


def _save_account(session: Session, spec: AccountConfig) -> None:
    if spec.domain is not None:
        other = session.scalar(select(Account.name).where(Account.domain == spec.domain))
        if other is not None and other != spec.name:
            raise ConfigError(
                "duplicate", f"account {other!r} already has the domain {spec.domain}"
            )
    row = account_by_name(session, spec.name) or Account(name=spec.name)
    row.domain = spec.domain
    session.add(row)


def _dump_accounts(session: Session) -> list[AccountConfig]:
    rows = session.scalars(select(Account).order_by(Account.name))
    return [AccountConfig(name=r.name, domain=r.domain) for r in rows]


def _delete_account(session: Session, name: str) -> None:
    row = account_by_name(session, name)
    assert row is not None
    needs = [
        f"{n} {what}"
        for what, n in (
            ("contacts", _count(session, select(Contact.id).where(Contact.account_id == row.id))),
            ("cases", _count(session, select(Case.number).where(Case.account_id == row.id))),
            (
                "entitlements",
                _count(session, select(Entitlement.id).where(Entitlement.account_id == row.id)),
            ),
        )
        if n
    ]
    needs += conditions_naming(session, "customers", name)
    if needs:
        raise ConfigError("in_use", f"account {name!r} still has {', '.join(needs)}")
    session.delete(row)


accounts = register(
    Kind(
        name="accounts",
        spec=AccountConfig,
        key=lambda s: s.name,
        save=_save_account,
        dump=_dump_accounts,
        delete=_delete_account,
        describe="Customer accounts; an email domain identifies an account's senders.",
    )
)


# -- contacts -------------------------------------------------------------------------------------


class ContactConfig(BaseModel):
    """A person, usually of an account; identified by address (kept in lower case)."""

    model_config = STRICT
    email: str = Field(max_length=320, pattern=EMAIL)
    name: str = Field(default="", max_length=200)
    account: str | None = None
    primary: bool = Field(default=False, description="the account's primary contact")
    account_admin: bool = Field(
        default=False, description="sees all the account's cases in the customer portal"
    )
    language: Literal["", "en", "it", "pt"] = Field(
        default="",
        description="the language of their portal pages and emails; empty: their browser's, "
        "else the organisation's default",
    )

    _normalise = field_validator("email", mode="before")(_lower)


def _save_contact(session: Session, spec: ContactConfig) -> None:
    account = None
    if spec.account is not None:
        account = account_by_name(session, spec.account)
        if account is None:
            raise ConfigError("unknown_reference", f"unknown account {spec.account!r}")
    if spec.primary and account is None:
        raise ConfigError("invalid", "only a contact of an account can be its primary contact")
    if spec.account_admin and account is None:
        raise ConfigError("invalid", "only a contact of an account can be its administrator")
    row = contact_by_email(session, spec.email) or Contact(email=spec.email)
    if spec.primary and account is not None and not (row.primary and row.account_id == account.id):
        previous = primary_contact(session, account.id)
        if previous is not None:
            previous.primary = False
            session.flush()  # one primary per account at any moment (a unique index)
    row.name = spec.name
    row.account_id = account.id if account else None
    row.primary = spec.primary
    row.account_admin = spec.account_admin
    row.language = spec.language
    session.add(row)


def _dump_contacts(session: Session) -> list[ContactConfig]:
    rows = session.scalars(
        select(Contact).options(selectinload(Contact.account)).order_by(Contact.email)
    )
    return [
        ContactConfig(
            email=r.email,
            name=r.name,
            account=r.account.name if r.account else None,
            primary=r.primary,
            account_admin=r.account_admin,
            language=r.language,  # checked when saved
        )
        for r in rows
    ]


def _delete_contact(session: Session, email: str) -> None:
    row = contact_by_email(session, email)
    assert row is not None
    cases = _count(session, select(Case.number).where(Case.contact_id == row.id))
    held = list(session.scalars(select(Entitlement.name).where(Entitlement.contact_id == row.id)))
    if cases or held:
        what = [f"{cases} cases"] if cases else []
        what += [f"entitlement {name!r}" for name in held]
        raise ConfigError("in_use", f"contact {email} still has {', '.join(what)}")
    session.delete(row)


contacts = register(
    Kind(
        name="contacts",
        spec=ContactConfig,
        key=lambda s: s.email,
        save=_save_contact,
        dump=_dump_contacts,
        delete=_delete_contact,
        describe="People who write to support, usually of an account.",
    )
)


# -- entitlements ---------------------------------------------------------------------------------


class EntitlementConfig(BaseModel):
    """What an account or a contact is entitled to: cases in total (null: unlimited), the
    channels allowed with optional counts of their own, a validity window, an SLA policy."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)
    account: str | None = None
    contact: str | None = None
    total_cases: Count | None = None
    channels: dict[str, Count | None] = Field(default_factory=dict)
    starts_on: date | None = None
    ends_on: date | None = None
    sla_policy: str | None = None

    _normalise = field_validator("contact", mode="before")(_lower)

    @field_validator("channels", mode="before")
    @classmethod
    def _listed_channels(cls, value: Any) -> Any:
        """`[email, phone]` is short for `{email: null, phone: null}`."""
        return dict.fromkeys(value) if isinstance(value, list) else value


def check_entitlement(spec: EntitlementConfig) -> None:
    """What is wrong with the entitlement itself, before any reference is looked up."""
    if (spec.account is None) == (spec.contact is None):
        raise ConfigError("invalid", "an entitlement covers either an account or a contact")
    known = {str(c) for c in Channel}
    unknown = sorted(set(spec.channels) - known)
    if unknown:
        raise ConfigError(
            "unknown_reference",
            f"unknown channels {', '.join(unknown)} (channels: {', '.join(sorted(known))})",
        )
    if spec.starts_on and spec.ends_on and spec.ends_on < spec.starts_on:
        raise ConfigError(
            "invalid", f"the window ends ({spec.ends_on}) before it starts ({spec.starts_on})"
        )


def _save_entitlement(session: Session, spec: EntitlementConfig) -> None:
    check_entitlement(spec)
    account = account_by_name(session, spec.account) if spec.account else None
    if spec.account and account is None:
        raise ConfigError("unknown_reference", f"unknown account {spec.account!r}")
    contact = contact_by_email(session, spec.contact) if spec.contact else None
    if spec.contact and contact is None:
        raise ConfigError("unknown_reference", f"unknown contact {spec.contact!r}")
    policy = None
    if spec.sla_policy is not None:
        policy = session.scalar(select(SlaPolicy).where(SlaPolicy.name == spec.sla_policy))
        if policy is None:
            raise ConfigError("unknown_reference", f"unknown SLA policy {spec.sla_policy!r}")
    row = entitlement(session, spec.name) or Entitlement(name=spec.name)
    row.account_id = account.id if account else None
    row.contact_id = contact.id if contact else None
    row.total_cases = spec.total_cases
    row.channels = sorted(spec.channels)
    row.channel_counts = {c: n for c, n in sorted(spec.channels.items()) if n is not None}
    row.starts_on, row.ends_on = spec.starts_on, spec.ends_on
    row.sla_policy_id = policy.id if policy else None
    session.add(row)


def _dump_entitlements(session: Session) -> list[EntitlementConfig]:
    query = select(Entitlement).options(
        selectinload(Entitlement.account),
        selectinload(Entitlement.contact),
        selectinload(Entitlement.sla_policy),
    )
    return [
        EntitlementConfig(
            name=r.name,
            account=r.account.name if r.account else None,
            contact=r.contact.email if r.contact else None,
            total_cases=r.total_cases,
            channels={c: (r.channel_counts or {}).get(c) for c in r.channels},
            starts_on=r.starts_on,
            ends_on=r.ends_on,
            sla_policy=r.sla_policy.name if r.sla_policy else None,
        )
        for r in session.scalars(query.order_by(Entitlement.name))
    ]


def _delete_entitlement(session: Session, name: str) -> None:
    row = entitlement(session, name)
    assert row is not None
    used = _count(
        session,
        select(Case.number)
        .where(Case.entitlement_id == row.id)
        .union(select(EntitlementUse.case_number).where(EntitlementUse.entitlement_id == row.id)),
    )
    needs = [f"{used} cases"] if used else []
    needs += conditions_naming(session, "entitlements", name)
    if needs:
        raise ConfigError("in_use", f"entitlement {name!r} is still used by {', '.join(needs)}")
    session.delete(row)


entitlements = register(
    Kind(
        name="entitlements",
        spec=EntitlementConfig,
        key=lambda s: s.name,
        save=_save_entitlement,
        dump=_dump_entitlements,
        delete=_delete_entitlement,
        describe="What customers are entitled to: cases, channels, a window, an SLA policy.",
    )
)
