"""The admin API and `caseflow import`: every configuration kind saved, listed and deleted through
one path, checked first, all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.configuration import (
    ConfigError,
    ImportRefused,
    export_organisation,
    import_organisation,
    kind_named,
    remove,
)
from caseflow.settings import DEVELOPMENT_SECRET
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Calendar, Product, SlaPolicy
from tests.support.api import bearer

ADMIN_TOKEN, AGENT_TOKEN = "admin-token", "agent-token"
CALENDAR = {
    "name": "lisbon-office",
    "timezone": "Europe/Lisbon",
    "hours": {"monday": ["09:00-13:00", "14:00-18:00"], "friday": ["09:00-17:00"]},
    "holidays": {"dates": ["2026-12-24"]},
}
POLICY = {
    "name": "silver",
    "calendar": "lisbon-office",
    "position": 20,
    "kpis": {
        "first_response": {"warn_after": "PT1H", "fail_after": "PT2H"},
        "resolution": {"warn_after": "PT8H", "fail_after": "PT16H"},
    },
    "conditions": {"priorities": [1, 2]},
}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        directory.create_agent(
            session,
            "ada",
            "ada@caseflow.test",
            "admin",
            [],
            token_hash(DEVELOPMENT_SECRET, ADMIN_TOKEN),
        )
        directory.create_agent(
            session,
            "ann",
            "ann@caseflow.test",
            "agent",
            ["standard"],
            token_hash(DEVELOPMENT_SECRET, AGENT_TOKEN),
        )
    yield factory
    engine.dispose()


def count(sessions: sessionmaker[Session], model: type[Any]) -> int:
    with transaction(sessions, writes=False) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


async def test_an_admin_creates_updates_reads_and_deletes_through_the_api(
    http: httpx.AsyncClient,
) -> None:
    admin = bearer(ADMIN_TOKEN)
    created = await http.put("/admin/calendars/lisbon-office", json=CALENDAR, headers=admin)
    assert created.status_code == 200, created.text
    assert created.json()["outcome"] == "created"
    again = await http.put("/admin/calendars/lisbon-office", json=CALENDAR, headers=admin)
    assert again.json()["outcome"] == "unchanged"
    saved = await http.put("/admin/sla_policies/silver", json=POLICY, headers=admin)
    assert saved.json()["outcome"] == "created", saved.text

    read = await http.get("/admin/sla_policies/silver", headers=admin)
    assert read.json()["kpis"]["first_response"] == {"warn_after": "PT1H", "fail_after": "PT2H"}
    listed = (await http.get("/admin/calendars", headers=admin)).json()
    names = [c["name"] for c in listed["items"]]
    assert listed["total"] == len(names) and (listed["limit"], listed["offset"]) == (100, 0)
    assert "lisbon-office" in names and "24x7" in names

    changed = {**POLICY, "kpis": {"first_response": {"warn_after": "PT30M", "fail_after": "PT1H"}}}
    updated = await http.put("/admin/sla_policies/silver", json=changed, headers=admin)
    assert updated.json()["outcome"] == "updated"

    in_use = await http.delete("/admin/calendars/lisbon-office", headers=admin)
    assert in_use.status_code == 409 and in_use.json()["error"] == "in_use"
    assert "silver" in in_use.json()["detail"]
    assert (await http.delete("/admin/sla_policies/silver", headers=admin)).status_code == 204
    assert (await http.delete("/admin/calendars/lisbon-office", headers=admin)).status_code == 204
    gone = await http.get("/admin/calendars/lisbon-office", headers=admin)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("kind", "body", "status", "code", "words"),
    [
        ("sla_policies", {**POLICY, "calendar": "nowhere"}, 422, "unknown_reference", "nowhere"),
        (
            "sla_policies",
            {**POLICY, "calendar": "24x7",
             "kpis": {"resolution": {"warn_after": "PT9H", "fail_after": "PT8H"}}},
            422, "invalid", "must come before",
        ),
        ("calendars", {**CALENDAR, "timezone": "Mars/Olympus"}, 422, "invalid", "Mars/Olympus"),
        (
            "calendars",
            {**CALENDAR, "hours": {"monday": ["09:00-13:00", "12:00-18:00"]}},
            422, "invalid", "overlap",
        ),
        ("calendars", {**CALENDAR, "colour": "blue"}, 422, "invalid_request", "fields"),
    ],
)  # fmt: skip
async def test_bad_configuration_is_refused_with_a_reason_and_nothing_written(
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    kind: str,
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    before = (count(sessions, Calendar), count(sessions, SlaPolicy))
    answer = await http.put(f"/admin/{kind}/{body['name']}", json=body, headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == code
    assert words in answer.text
    assert (count(sessions, Calendar), count(sessions, SlaPolicy)) == before


async def test_only_admins_change_the_configuration(http: httpx.AsyncClient) -> None:
    agent = await http.put("/admin/products/Widgets", json={"name": "Widgets"},
                           headers=bearer(AGENT_TOKEN))  # fmt: skip
    assert agent.status_code == 403 and agent.json()["error"] == "forbidden"
    nobody = await http.get("/admin/products")
    assert nobody.status_code == 401
    mismatch = await http.put(
        "/admin/products/Widgets", json={"name": "Gadgets"}, headers=bearer(ADMIN_TOKEN)
    )
    assert mismatch.status_code == 422


async def test_import_over_the_api_is_all_or_nothing(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    bad = {"products": [{"name": "Widgets"}], "calendars": [CALENDAR],
           "sla_policies": [{**POLICY, "calendar": "nowhere"}]}  # fmt: skip
    answer = await http.post(
        "/admin/import", content=yaml.safe_dump(bad), headers=bearer(ADMIN_TOKEN)
    )
    assert answer.status_code == 422 and "'silver'" in answer.json()["detail"]
    with transaction(sessions, writes=False) as session:
        assert session.scalar(select(Product).where(Product.name == "Widgets")) is None
        assert session.scalar(select(Calendar).where(Calendar.name == "lisbon-office")) is None

    good = {**bad, "sla_policies": [POLICY]}
    first = await http.post(
        "/admin/import", content=yaml.safe_dump(good), headers=bearer(ADMIN_TOKEN)
    )
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 3
    second = await http.post(
        "/admin/import", content=yaml.safe_dump(good), headers=bearer(ADMIN_TOKEN)
    )
    assert second.json() | {"results": None} == {
        "results": None, "created": 0, "updated": 0, "unchanged": 3,
    }  # fmt: skip


def test_export_imports_back_unchanged(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        import_organisation(session, {"calendars": [CALENDAR], "sla_policies": [POLICY]})
    with transaction(sessions, writes=False) as session:
        exported = export_organisation(session)
    with transaction(sessions) as session:
        report = import_organisation(session, exported)
    assert report.count("created") == report.count("updated") == 0
    assert report.count("unchanged") > 5


def test_an_unknown_section_or_a_name_given_twice_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session, pytest.raises(ConfigError) as unknown:
        import_organisation(session, {"queus": []})
    assert unknown.value.code == "invalid" and "queus" in unknown.value.detail
    with transaction(sessions) as session, pytest.raises(ConfigError) as twice:
        import_organisation(session, {"products": [{"name": "A"}, {"name": "A"}]})
    assert twice.value.code == "duplicate"


# Four mistakes in four sections: one found reading, one saving, one by reference, one twice.
SEVERAL_MISTAKES: dict[str, Any] = {
    "calendars": [{**CALENDAR, "timezone": "Mars/Olympus"}],
    "queues": [{"name": "billing"}],
    "agents": [{"handle": "bo", "email": "not an address", "queues": ["billing"]}],
    "products": [{"name": "Widgets"}, {"name": "Gadgets"}, {"name": "Widgets"}],
    "routing_rules": [{"name": "invoices", "position": 5, "queue": "billing", "agent": "nobody",
                       "conditions": {"subject_words": ["invoice"]}}],
}  # fmt: skip


def test_an_import_with_several_mistakes_names_each_one_and_writes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    before = (count(sessions, Calendar), count(sessions, Product))

    with pytest.raises(ImportRefused) as refused, transaction(sessions) as session:
        import_organisation(session, SEVERAL_MISTAKES)

    found = {p.where: (p.code, p.reason) for p in refused.value.problems}
    assert set(found) == {"calendars 'lisbon-office'", "agents 'bo'", "products",
                          "routing_rules 'invoices'"}  # fmt: skip
    assert found["calendars 'lisbon-office'"][0] == "invalid"
    assert "Mars/Olympus" in found["calendars 'lisbon-office'"][1]
    assert found["agents 'bo'"][0] == "invalid" and "email" in found["agents 'bo'"][1]
    assert found["products"] == ("duplicate", "Widgets given twice")
    assert found["routing_rules 'invoices'"][0] == "unknown_reference"
    assert "nobody" in found["routing_rules 'invoices'"][1]
    assert refused.value.code == "invalid" and refused.value.detail.startswith("4 problems: ")
    assert (count(sessions, Calendar), count(sessions, Product)) == before
    with transaction(sessions, writes=False) as session:
        assert directory.queue_by_name(session, "billing") is None


async def test_an_import_over_the_api_with_several_mistakes_names_them_all(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.post(
        "/admin/import", content=yaml.safe_dump(SEVERAL_MISTAKES), headers=bearer(ADMIN_TOKEN)
    )

    assert answer.status_code == 422 and answer.json()["error"] == "invalid"
    detail = answer.json()["detail"]
    for words in ("Mars/Olympus", "agents 'bo'", "Widgets given twice", "nobody"):
        assert words in detail


def test_what_a_goal_or_a_rule_names_cannot_be_deleted(sessions: sessionmaker[Session]) -> None:
    organisation = {
        "queues": [{"name": "billing"}],
        "agents": [{"handle": "bo", "email": "bo@caseflow.test", "role": "agent",
                    "queues": ["billing"]}],
        "products": [{"name": "Widgets"}],
        "routing_rules": [{"name": "widgets", "position": 5, "queue": "billing",
                           "conditions": {"products": ["Widgets"]}}],
        "goals": [{"name": "billing resolves", "metric": "cases_resolved", "target": 10,
                   "queue": "billing"},
                  {"name": "bo resolves", "metric": "cases_resolved", "target": 5,
                   "agent": "bo"}],
    }  # fmt: skip
    with transaction(sessions) as session:
        import_organisation(session, organisation)
    for kind, key, words in [
        ("products", "Widgets", "widgets"),
        ("queues", "billing", "billing resolves"),
        ("agents", "bo", "bo resolves"),
    ]:
        with transaction(sessions) as session, pytest.raises(ConfigError) as refused:
            remove(session, kind_named(kind), key)
        assert refused.value.code == "in_use" and words in refused.value.detail


def test_an_account_or_product_an_sla_policy_names_cannot_be_deleted(
    sessions: sessionmaker[Session],
) -> None:
    organisation = {
        "products": [{"name": "Widgets"}],
        "accounts": [{"name": "Initech", "domain": "initech.example"}],
        "sla_policies": [{**POLICY, "calendar": "24x7",
                          "conditions": {"customers": ["Initech"], "products": ["Widgets"]}}],
    }  # fmt: skip
    with transaction(sessions) as session:
        import_organisation(session, organisation)
    for kind, key in [("products", "Widgets"), ("accounts", "Initech")]:
        with transaction(sessions) as session, pytest.raises(ConfigError) as refused:
            remove(session, kind_named(kind), key)
        assert refused.value.code == "in_use" and "SLA policy 'silver'" in refused.value.detail
