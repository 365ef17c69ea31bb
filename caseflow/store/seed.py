"""The demo organisation that `make run` and `caseflow seed` load: idempotent, by name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.store import knowledge
from caseflow.store.models import (
    Account,
    Calendar,
    Contact,
    Entitlement,
    Product,
    Queue,
    RoutingRule,
    SlaPolicy,
)

WEEKDAYS = range(5)  # Monday to Friday
BUSINESS_HOURS = [
    {"weekday": day, "start": start, "end": end}
    for day in WEEKDAYS
    for start, end in (("09:00", "13:00"), ("14:00", "18:00"))
]

QUEUES = {
    "gold": "Gold customers, answered within 15 minutes around the clock",
    "standard": "Everyone else, in business hours",
    "escalations": "Cases that need a senior engineer or a manager",
}
CALENDARS: list[dict[str, Any]] = [
    {"name": "24x7", "timezone": "UTC", "always_open": True, "hours": [], "holidays": []},
    {
        "name": "business-hours-paris",
        "timezone": "Europe/Paris",
        "always_open": False,
        "hours": BUSINESS_HOURS,
        # French public holidays of every year, expanded when the calendar is read.
        "country": "FR",
        "holidays": [],
    },
]
PAUSE_STATES = ["awaiting_customer", "on_hold"]
POLICIES: list[dict[str, Any]] = [
    {
        "name": "gold",
        "calendar": "24x7",
        "is_default": False,
        "targets": {
            "first_response": {"warn_after": "PT10M", "fail_after": "PT15M"},
            "next_response": {"warn_after": "PT45M", "fail_after": "PT1H"},
            "resolution": {"warn_after": "PT6H", "fail_after": "PT8H"},
        },
    },
    {
        "name": "standard",
        "calendar": "business-hours-paris",
        "is_default": True,
        "targets": {
            "first_response": {"warn_after": "PT3H", "fail_after": "PT4H"},
            "next_response": {"warn_after": "PT6H", "fail_after": "PT8H"},
            "resolution": {"warn_after": "PT16H", "fail_after": "P1D"},
        },
    },
]
ACCOUNTS = [
    ("Acme Corporation", "acme.example", [("Alice Martin", "alice@acme.example"),
                                           ("Bob Chen", "bob@acme.example")]),
    ("Globex", "globex.example", [("Carol Diaz", "carol@globex.example")]),
]  # fmt: skip
PRODUCTS = ["Caseflow Cloud", "Caseflow On-Premises", "Billing"]
ARTICLES = [
    (
        "Resetting your password",
        "Open the sign-in page, choose 'Forgot password' and follow the link we email you. "
        "The link is valid for one hour.",
        "password reset login sign-in",
    ),
    (
        "Exporting your data",
        "Settings → Data → Export creates a ZIP archive of every record; large accounts receive "
        "an email with a download link when the archive is ready.",
        "export download backup archive",
    ),
    (
        "Understanding your invoice",
        "Invoices are issued on the first day of each month and list every seat and add-on. "
        "Prorated charges appear when seats are added mid-month.",
        "invoice billing charge payment",
    ),
]


def seed_demo(session: Session) -> None:
    """Create whatever of the demo organisation is missing; change nothing that exists."""
    queues = {name: _queue(session, name, text) for name, text in QUEUES.items()}
    calendars = {c["name"]: _calendar(session, c) for c in CALENDARS}
    policies = {p["name"]: _policy(session, p, calendars[p["calendar"]]) for p in POLICIES}
    accounts = {name: _account(session, name, domain, people) for name, domain, people in ACCOUNTS}
    _entitlement(session, "Acme Gold", accounts["Acme Corporation"], policies["gold"])
    _rule(session, "gold customers", 10, queues["gold"], {"entitlements": ["Acme Gold"]})
    for name in PRODUCTS:
        _get_or_add(session, Product, name=name)
    for title, body, keywords in ARTICLES:
        if knowledge.find(session, title) is None:
            knowledge.save_article(session, knowledge.ArticleContent(title, body, keywords), "seed")
    session.flush()


def _get_or_add(session: Session, model: type[Any], **values: Any) -> Any:
    key = "title" if "title" in values else "name"
    row = session.scalar(select(model).where(getattr(model, key) == values[key]))
    if row is None:
        row = model(**values)
        session.add(row)
        session.flush()
    return row


def _queue(session: Session, name: str, description: str) -> Queue:
    queue: Queue = _get_or_add(session, Queue, name=name, description=description)
    return queue


def _calendar(session: Session, spec: dict[str, Any]) -> Calendar:
    calendar: Calendar = _get_or_add(session, Calendar, **spec)
    return calendar


def _policy(session: Session, spec: dict[str, Any], calendar: Calendar) -> SlaPolicy:
    values = {k: v for k, v in spec.items() if k != "calendar"}
    policy: SlaPolicy = _get_or_add(
        session, SlaPolicy, calendar=calendar, pause_states=PAUSE_STATES, **values
    )
    return policy


def _account(session: Session, name: str, domain: str, people: list[tuple[str, str]]) -> Account:
    account: Account = _get_or_add(session, Account, name=name, domain=domain)
    for person, email in people:
        if session.scalar(select(Contact).where(Contact.email == email)) is None:
            session.add(Contact(name=person, email=email, account=account))
    return account


def _entitlement(session: Session, name: str, account: Account, policy: SlaPolicy) -> None:
    _get_or_add(
        session, Entitlement, name=name, account_id=account.id, total_cases=15, sla_policy=policy
    )


def _rule(
    session: Session, name: str, position: int, queue: Queue, conditions: dict[str, Any]
) -> None:
    _get_or_add(
        session, RoutingRule, name=name, position=position, queue_id=queue.id, conditions=conditions
    )
