"""Customers, entitlements, queues, agents and routing rules in the database: the configuration
kinds (admin API and import), per-channel counts from keyed uses, and the read API, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.configuration import ConfigError, export_organisation, import_organisation
from caseflow.settings import DEVELOPMENT_SECRET
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import (
    Account,
    Agent,
    Case,
    Contact,
    Entitlement,
    EntitlementUse,
    Queue,
    RoutingRule,
)
from tests.integration.test_cli import caseflow
from tests.support.api import bearer

ADMIN = bearer("admin-token")
ANN = bearer("ann-token")  # an agent of `standard`
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORGANISATION: dict[str, list[dict[str, Any]]] = {
    "queues": [{"name": "printers", "description": "Printer trouble"}],
    "agents": [{"handle": "pat", "email": "pat@caseflow.test", "queues": ["printers"]}],
    "accounts": [{"name": "Initech", "domain": "initech.example"}],
    "contacts": [{"email": "peter@initech.example", "name": "Peter", "account": "Initech"}],
    "entitlements": [
        {
            "name": "Initech Silver",
            "account": "Initech",
            "total_cases": 10,
            "channels": {"email": 3, "phone": None},
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
            "sla_policy": "standard",
        }
    ],
    "routing_rules": [
        {
            "name": "initech printers",
            "position": 20,
            "queue": "printers",
            "agent": "pat",
            "conditions": {
                "entitlements": ["Initech Silver"],
                "channels": ["email"],
                "customers": ["Initech"],
                "subject_words": ["printer"],
            },
        }
    ],
}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        directory.create_agent(session, "ada", "ada@caseflow.test", "admin", [],
                               token_hash(DEVELOPMENT_SECRET, "admin-token"))  # fmt: skip
        directory.create_agent(session, "ann", "ann@caseflow.test", "agent", ["standard"],
                               token_hash(DEVELOPMENT_SECRET, "ann-token"))  # fmt: skip
    yield factory
    engine.dispose()


def counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    models = (Queue, Agent, Account, Contact, Entitlement, RoutingRule)
    with transaction(sessions, writes=False) as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) or 0 for m in models)


def add_case(session: Session, number: str, **values: Any) -> None:
    row: dict[str, Any] = {
        "subject": "Printer on fire", "channel": "email", "status": "new", "stage": "identify",
        "priority": 3, "queue": "standard", "customer_email": "alice@acme.example",
        "created_at": T0, "updated_at": T0, **values,
    }  # fmt: skip
    session.add(Case(number=number, **row))


# -- the kinds ------------------------------------------------------------------------------------


def test_a_whole_organisation_imports_and_exports_back_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        report = import_organisation(session, ORGANISATION)
    assert report.count("created") == 6
    with transaction(sessions, writes=False) as session:
        exported = export_organisation(session)
        rule = directory.routing_rules(session)[-1]
        assert (rule.name, rule.agent and rule.agent.handle) == ("initech printers", "pat")
        pat = directory.agent_by_handle(session, "pat")
        assert pat is not None and len(pat.token_hash) == 64
    silver = next(e for e in exported["entitlements"] if e["name"] == "Initech Silver")
    assert silver["channels"] == {"email": 3, "phone": None}
    assert all("token_hash" not in agent for agent in exported["agents"])
    with transaction(sessions) as session:
        again = import_organisation(session, exported)
    assert again.count("created") == again.count("updated") == 0


def test_an_agents_display_name_is_configuration_that_exports_back(
    sessions: sessionmaker[Session],
) -> None:
    kim = {"handle": "kim", "name": "Kim Lee", "email": "kim@caseflow.test"}
    with transaction(sessions) as session:
        import_organisation(session, {"agents": [kim]})
    with transaction(sessions, writes=False) as session:
        row = directory.agent_by_handle(session, "kim")
        exported = export_organisation(session)
    assert row is not None and row.display_name == "Kim Lee"
    assert next(a for a in exported["agents"] if a["handle"] == "kim")["name"] == "Kim Lee"
    with transaction(sessions) as session:
        renamed = import_organisation(session, {"agents": [{**kim, "name": "Kim Lee-Park"}]})
    assert renamed.results == {"agents": {"kim": "updated"}}


async def test_the_admin_api_saves_every_customer_and_work_kind(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    for kind, items in ORGANISATION.items():
        for item in items:
            key = item["email"] if kind == "contacts" else item.get("name") or item["handle"]
            answer = await http.put(f"/admin/{kind}/{key}", json=item, headers=ADMIN)
            assert answer.status_code == 200, answer.text
            assert answer.json()["outcome"] == "created"
    listed = (await http.get("/admin/routing_rules", headers=ADMIN)).json()["items"]
    assert [r["name"] for r in listed] == ["gold customers", "initech printers"]
    moved = {**ORGANISATION["contacts"][0], "account": None}
    answer = await http.put("/admin/contacts/peter@initech.example", json=moved, headers=ADMIN)
    assert answer.json()["outcome"] == "updated"


BAD: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("routing_rules", {"name": "x", "position": 1, "queue": "nowhere"}, 422,
     "unknown_reference", "nowhere"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold", "agent": "ann"}, 422,
     "never_matches", "not an active member of queue 'gold'"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold", "agent": "zed"}, 422,
     "unknown_reference", "zed"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold",
                       "conditions": {"entitlements": ["Platinum"]}}, 422,
     "unknown_reference", "Platinum"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold",
                       "conditions": {"products": ["Toasters"]}}, 422,
     "unknown_reference", "Toasters"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold",
                       "conditions": {"customers": ["Umbrella Corp"]}}, 422,
     "unknown_reference", "Umbrella Corp"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold",
                       "conditions": {"channels": ["telex"]}}, 422, "never_matches", "telex"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold"}, 422,
     "never_matches", "gold customers never matching"),
    ("routing_rules", {"name": "x", "position": 1, "queue": "gold",
                       "conditions": {"bogus": [1]}}, 422, "invalid_request", "fields"),
    ("accounts", {"name": "Acme Again", "domain": "acme.example"}, 409, "duplicate",
     "'Acme Corporation' already has the domain"),
    ("agents", {"handle": "annie", "email": "ann@caseflow.test"}, 409, "duplicate", "'ann'"),
    ("agents", {"handle": "bo", "email": "bo@caseflow.test", "queues": ["nope"]}, 422,
     "unknown_reference", "nope"),
    ("contacts", {"email": "zoe@x.example", "account": "Nobody Inc"}, 422,
     "unknown_reference", "Nobody Inc"),
    ("entitlements", {"name": "E", "account": "Globex", "sla_policy": "diamond"}, 422,
     "unknown_reference", "diamond"),
    ("entitlements", {"name": "E", "contact": "nobody@x.example"}, 422,
     "unknown_reference", "nobody@x.example"),
    ("entitlements", {"name": "E", "account": "Globex", "starts_on": "2026-05-01",
                      "ends_on": "2026-04-01"}, 422, "invalid", "before it starts"),
    ("entitlements", {"name": "E", "account": "Globex", "channels": {"pigeon": 2}}, 422,
     "unknown_reference", "pigeon"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "status", "code", "words"), BAD)
async def test_bad_customer_and_work_configuration_is_refused_and_nothing_written(
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    kind: str,
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    before = counts(sessions)
    key = body["email"] if kind == "contacts" else body.get("name") or body["handle"]
    answer = await http.put(f"/admin/{kind}/{key}", json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == code
    assert words in answer.text
    assert counts(sessions) == before


async def test_a_queue_still_needed_is_not_deleted_and_says_by_what(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        import_organisation(session, ORGANISATION)
        add_case(session, "CAS-000001", queue="printers", status="open", owner="pat")
    answer = await http.delete("/admin/queues/printers", headers=ADMIN)
    assert answer.status_code == 409 and answer.json()["error"] == "in_use"
    detail = answer.json()["detail"]
    assert "1 cases in it" in detail and "'initech printers'" in detail and "'pat'" in detail
    default = await http.delete("/admin/queues/standard", headers=ADMIN)
    assert default.status_code == 409 and "by default" in default.json()["detail"]
    assert counts(sessions)[0] == 4


def test_an_agent_named_by_a_rule_keeps_its_queue_and_an_import_is_all_or_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        import_organisation(session, ORGANISATION)
    before = counts(sessions)
    leaving = {**ORGANISATION, "agents": [{**ORGANISATION["agents"][0], "queues": []}],
               "accounts": [{"name": "Hooli", "domain": "hooli.example"}]}  # fmt: skip
    with pytest.raises(ConfigError) as refused, transaction(sessions) as session:
        import_organisation(session, leaving)
    assert refused.value.code == "in_use" and "initech printers" in refused.value.detail
    assert counts(sessions) == before


# -- counting ------------------------------------------------------------------------------------


def test_remaining_cases_per_channel_come_from_the_keyed_uses(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        import_organisation(session, ORGANISATION)
        silver = session.scalar(select(Entitlement).where(Entitlement.name == "Initech Silver"))
        assert silver is not None
        for key, delta, channel in [("A:use:1", -1, "email"), ("A:restore:1", 1, "email"),
                                    ("A:use:2", -1, "email"), ("B:use:1", -1, "email"),
                                    ("C:use:1", -1, "phone")]:  # fmt: skip
            session.add(EntitlementUse(key=key, entitlement_id=silver.id, case_number=key[0],
                                       delta=delta, channel=channel))  # fmt: skip
    with transaction(sessions, writes=False) as session:
        peter = directory.contact_by_email(session, "peter@initech.example")
        assert peter is not None
        today = date(2026, 6, 1)
        by_email = directory.active_entitlement(session, peter, today, "email")
        by_phone = directory.active_entitlement(session, peter, today, "phone")
        assert by_email is not None and by_phone is not None
        assert (by_email.remaining, by_email.channel_remaining, by_email.left) == (7, 1, 1)
        assert (by_phone.channel_remaining, by_phone.left) == (None, 7)
        assert directory.active_entitlement(session, peter, today, "web") is None
        assert directory.active_entitlement(session, peter, date(2027, 1, 1), "email") is None
        assert directory.remaining_by_channel(session, by_email.entitlement) == {"email": 1}


# -- the read API ---------------------------------------------------------------------------------


async def test_an_account_shows_its_contacts_cases_and_entitlements(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        add_case(session, "CAS-000001", status="open")
        add_case(session, "CAS-000002", status="closed")
        add_case(session, "CAS-000003", status="cancelled")
        acme = directory.account_by_name(session, "Acme Corporation")
        alice = directory.contact_by_email(session, "alice@acme.example")
        assert acme is not None and alice is not None
        for row in session.scalars(select(Case)):
            row.account_id, row.contact_id = acme.id, alice.id
    accounts = (await http.get("/accounts", headers=ANN)).json()
    assert [(a["name"], a["contacts"]) for a in accounts["items"]] == [
        ("Acme Corporation", 2), ("Globex", 1),
    ]  # fmt: skip
    account = (await http.get(f"/accounts/{acme.id}", headers=ANN)).json()
    assert [c["email"] for c in account["contacts"]] == ["alice@acme.example", "bob@acme.example"]
    assert [c["number"] for c in account["cases"]["open"]] == ["CAS-000001"]
    assert [c["number"] for c in account["cases"]["resolved"]] == ["CAS-000002"]
    [gold] = account["entitlements"]
    assert (gold["name"], gold["total_cases"], gold["remaining"]) == ("Acme Gold", 15, 15)
    found = await http.get("/contacts", params={"email": "ALICE@acme.example"}, headers=ANN)
    [contact] = found.json()["items"]
    assert contact["account"] == "Acme Corporation"
    detail = (await http.get(f"/contacts/{contact['id']}", headers=ANN)).json()
    assert detail["cases"]["open_total"] == 1 and detail["entitlements"][0]["name"] == "Acme Gold"
    entitlement = (await http.get("/entitlements/Acme Gold", headers=ANN)).json()
    assert (entitlement["account"], entitlement["sla_policy"], entitlement["active"]) == (
        "Acme Corporation", "gold", True,
    )  # fmt: skip
    for path in ("/accounts/999999", "/contacts/999999", "/entitlements/Nope"):
        missing = await http.get(path, headers=ANN)
        assert missing.status_code == 404 and missing.json()["error"].startswith("unknown_")


async def test_agents_see_their_queues_waiting_cases_by_priority_then_sla_then_age(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    due = T0 + timedelta(hours=1)
    with transaction(sessions) as session:
        add_case(session, "CAS-000001", priority=3, created_at=T0)
        add_case(session, "CAS-000002", priority=3, sla_due_at=due + timedelta(hours=1))
        add_case(session, "CAS-000003", priority=3, sla_due_at=due)
        add_case(session, "CAS-000004", priority=1, created_at=T0 + timedelta(hours=2))
        add_case(session, "CAS-000005", priority=1, status="open", owner="ann")
        add_case(session, "CAS-000006", priority=1, queue="gold")
    mine = (await http.get("/me/cases/waiting", headers=ANN)).json()
    assert [c["number"] for c in mine["items"]] == [
        "CAS-000004", "CAS-000003", "CAS-000002", "CAS-000001",
    ]  # fmt: skip
    page = (await http.get("/queues/standard/cases?limit=2&offset=1", headers=ANN)).json()
    assert ([c["number"] for c in page["items"]], page["total"]) == (
        ["CAS-000003", "CAS-000002"], 4,
    )  # fmt: skip
    other = await http.get("/queues/gold/cases", headers=ANN)
    assert other.status_code == 403
    admin = (await http.get("/queues/gold/cases", headers=ADMIN)).json()
    assert [c["number"] for c in admin["items"]] == ["CAS-000006"]
    assert (await http.get("/queues/nope/cases", headers=ADMIN)).status_code == 404


def test_agent_token_issues_a_fresh_token_last_and_the_old_one_stops_working(
    tmp_path: Path,
) -> None:
    assert caseflow(tmp_path, "db", "upgrade").returncode == 0
    added = caseflow(tmp_path, "agent", "add", "ann", "--email", "ann@x.test")
    old = added.stdout.strip().splitlines()[-1]

    issued = caseflow(tmp_path, "agent", "token", "ann")
    unknown = caseflow(tmp_path, "agent", "token", "nobody")

    assert issued.returncode == 0, issued.stderr
    new = issued.stdout.strip().splitlines()[-1]
    assert new.startswith("cf_") and new != old
    assert unknown.returncode == 1 and "no agent 'nobody'" in unknown.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'caseflow.db'}")
    with transaction(session_factory(engine)) as session:
        assert directory.agent_by_token_hash(session, token_hash(DEVELOPMENT_SECRET, old)) is None
        found = directory.agent_by_token_hash(session, token_hash(DEVELOPMENT_SECRET, new))
        assert found is not None and found.handle == "ann"
    engine.dispose()


async def test_customers_still_needed_are_not_deleted_and_unneeded_ones_are(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        import_organisation(session, ORGANISATION)
    refusals = {
        "/admin/accounts/Initech": "1 contacts, 1 entitlements, routing rule 'initech printers'",
        "/admin/entitlements/Initech Silver": "routing rule 'initech printers'",
        "/admin/agents/pat": "initech printers",
        "/admin/contacts/alice@acme.example": "",
    }
    for path, words in refusals.items():
        answer = await http.delete(path, headers=ADMIN)
        if words:
            assert answer.status_code == 409 and answer.json()["error"] == "in_use", path
            assert words in answer.json()["detail"]
        else:
            assert answer.status_code == 204, answer.text
    before = counts(sessions)
    for path in ("/admin/routing_rules/initech printers", "/admin/entitlements/Initech Silver",
                 "/admin/contacts/peter@initech.example", "/admin/accounts/Initech",
                 "/admin/agents/pat", "/admin/queues/printers"):  # fmt: skip
        answer = await http.delete(path, headers=ADMIN)
        assert answer.status_code == 204, (path, answer.text)
    assert counts(sessions) == tuple(n - 1 for n in before)
