"""`/metrics/...` and goals as a configuration kind (admin API and import), over the hand-built
read model of tests/support/read_model.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
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
from caseflow.store.models import Goal
from tests.support.api import bearer
from tests.support.read_model import write_march

ANN, BOB, SAM, ADA = (bearer(h) for h in ("ann", "bob", "sam", "ada"))
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}
GOAL = {"name": "org-compliance", "metric": "sla_compliance", "target": 50}
GOLD_GOAL = {"name": "gold-resolved", "metric": "cases_resolved", "target": 2, "queue": "gold"}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for handle, role, queues in [
            ("ann", "agent", ["gold"]),
            ("bob", "agent", ["standard"]),
            ("sam", "supervisor", ["escalations"]),
            ("ada", "admin", []),
        ]:
            directory.create_agent(session, handle, f"{handle}@x.test", role, queues,
                                   token_hash(DEVELOPMENT_SECRET, handle))  # fmt: skip
        write_march(session)
    yield factory
    engine.dispose()


async def get(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], status: int = 200, /, **params: str
) -> Any:
    response = await http.get(path, params=params, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def goal_count(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions, writes=False) as session:
        return session.scalar(select(func.count()).select_from(Goal)) or 0


# -- /metrics/summary -----------------------------------------------------------------------------


async def test_metrics_need_a_token(http: httpx.AsyncClient) -> None:
    answer = await get(http, "/metrics/summary", {}, 401)
    assert answer["error"] == "unauthenticated"


async def test_the_summary_gives_all_six_metrics_for_the_period(http: httpx.AsyncClient) -> None:
    summary = await get(http, "/metrics/summary", SAM, **MARCH)
    assert summary["start"] == "2026-03-01T00:00:00Z" and summary["end"] == "2026-04-01T00:00:00Z"
    assert (summary["cases_opened"], summary["cases_resolved"], summary["cases_in_progress"]) == (
        5, 3, 2,
    )  # fmt: skip
    assert summary["sla_compliance"]["overall"] == {
        "succeeded": 7, "noncompliant": 6, "percent": 53.85,
    }  # fmt: skip
    assert summary["sla_compliance"]["by_kpi"]["first_response"]["percent"] == 40.0
    assert summary["mean_first_response"]["wall_clock_seconds"] == 49200.0
    assert summary["mean_first_response"]["business_seconds"] == 13200.0
    assert summary["mean_resolution_time"]["wall_clock_seconds"] == 177600.0
    assert summary["csat"] == {"responses": 3, "mean_rating": 3.67, "satisfied_percent": 66.67}


async def test_the_summary_narrows_to_queue_agent_product_and_channel(
    http: httpx.AsyncClient,
) -> None:
    gold_phone = await get(http, "/metrics/summary", SAM, queue="gold", channel="phone", **MARCH)
    assert (gold_phone["cases_opened"], gold_phone["cases_resolved"]) == (1, 1)
    no_product = await get(http, "/metrics/summary", SAM, product="(none)", **MARCH)
    assert no_product["sla_compliance"]["overall"]["percent"] == 80.0
    anns = await get(http, "/metrics/summary", ANN, agent="ann", **MARCH)
    assert anns["cases_resolved"] == 2 and anns["csat"]["mean_rating"] == 5.0


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({"from": "2026-04-01", "to": "2026-03-01"}, 422, "invalid", "must come before"),
        ({"from": "2026-03-01T10:00:00"}, 422, "invalid", "needs a UTC offset"),
        ({"from": "last tuesday"}, 422, "invalid", "not a date"),
        ({"channel": "carrier-pigeon"}, 422, "invalid_request", "fields"),
        ({"queue": "platinum"}, 404, "unknown_queue", "platinum"),
        ({"agent": "zed"}, 404, "unknown_agent", "zed"),
        ({"product": "Toaster"}, 404, "unknown_product", "Toaster"),
    ],
)
async def test_bad_questions_are_answered_with_the_usual_error_body(
    http: httpx.AsyncClient, params: dict[str, str], status: int, code: str, words: str
) -> None:
    answer = await get(http, "/metrics/summary", SAM, status, **params)
    assert answer["error"] == code and words in str(answer)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 403),
        ({"agent": "ann"}, 200),
        ({"queue": "gold"}, 200),
        ({"queue": "standard"}, 403),
        ({"agent": "bob"}, 403),
        ({"agent": "ann", "queue": "standard"}, 200),  # ann's own cases in standard
    ],
)
async def test_an_agent_reads_their_own_and_their_queues_figures(
    http: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    answer = await get(http, "/metrics/summary", ANN, status, **params, **MARCH)
    if status == 403:
        assert answer["error"] == "forbidden" and "agent=<handle>" in answer["detail"]


# -- breakdowns -----------------------------------------------------------------------------------


async def test_per_product_report(http: httpx.AsyncClient) -> None:
    found = await get(http, "/metrics/products", SAM, **MARCH)
    assert found["by"] == "product"
    rows = {r["name"]: r for r in found["rows"]}
    assert list(rows) == ["Billing", "Caseflow Cloud", "Caseflow On-Premises", "(none)"]
    billing = rows["Billing"]
    assert (billing["cases_opened"], billing["cases_resolved"], billing["cases_in_progress"]) == (
        2, 2, 1,
    )  # fmt: skip
    assert billing["sla_compliance"]["percent"] == 25.0
    assert billing["mean_resolution_time"]["wall_clock_seconds"] == 259200.0
    assert billing["csat"]["mean_rating"] == 3.5
    gold_only = await get(http, "/metrics/products", SAM, queue="gold", **MARCH)
    assert {r["name"]: r["cases_opened"] for r in gold_only["rows"]}["(none)"] == 1
    assert (await get(http, "/metrics/products", ANN, 403, **MARCH))["error"] == "forbidden"
    mine = await get(http, "/metrics/products", ANN, agent="ann", **MARCH)
    assert {r["name"]: r["cases_resolved"] for r in mine["rows"]}["Billing"] == 1


async def test_an_agent_sees_only_their_queues_and_their_own_row(http: httpx.AsyncClient) -> None:
    everyone = await get(http, "/metrics/queues", SAM, **MARCH)
    assert [r["name"] for r in everyone["rows"]] == ["escalations", "gold", "standard"]
    anns = await get(http, "/metrics/queues", ANN, **MARCH)
    assert [(r["name"], r["cases_resolved"]) for r in anns["rows"]] == [("gold", 1)]
    agents = await get(http, "/metrics/agents", SAM, **MARCH)
    assert [r["name"] for r in agents["rows"]] == ["ada", "ann", "bob", "sam", "(unassigned)"]
    own = await get(http, "/metrics/agents", BOB, **MARCH)
    assert [(r["name"], r["cases_opened"]) for r in own["rows"]] == [("bob", 2)]
    assert (await get(http, "/metrics/queues", SAM, 404, agent="zed"))["error"] == "unknown_agent"


# -- goals: configuration and progress ------------------------------------------------------------


async def test_goals_are_configured_through_the_admin_api_and_show_progress(
    http: httpx.AsyncClient,
) -> None:
    for goal in (GOAL, GOLD_GOAL):
        saved = await http.put(f"/admin/goals/{goal['name']}", json=goal, headers=ADA)
        assert saved.status_code == 200 and saved.json()["outcome"] == "created", saved.text
    again = await http.put("/admin/goals/org-compliance", json=GOAL, headers=ADA)
    assert again.json()["outcome"] == "unchanged"
    assert (await http.put("/admin/goals/x", json=GOAL, headers=SAM)).status_code == 403

    progress = await get(http, "/metrics/goals/org-compliance", SAM, on="2026-03-15")
    assert progress["start"] == "2026-03-01T00:00:00Z" and progress["end"] == "2026-04-01T00:00:00Z"
    assert (progress["actual"], progress["target"], progress["percent_of_target"]) == (
        53.85, 50.0, 107.7,
    )  # fmt: skip
    assert progress["met"] is True and progress["comparison"] == "at_least"

    all_goals = await get(http, "/metrics/goals", SAM, on="2026-03-15")
    assert [g["name"] for g in all_goals["items"]] == ["gold-resolved", "org-compliance"]
    assert all_goals["total"] == 2
    anns = (await get(http, "/metrics/goals", ANN, on="2026-03-15"))["items"]
    assert [(g["name"], g["actual"], g["met"]) for g in anns] == [("gold-resolved", 1, False)]
    second = await get(http, "/metrics/goals", SAM, on="2026-03-15", limit="1", offset="1")
    assert ([g["name"] for g in second["items"]], second["total"]) == (["org-compliance"], 2)
    refused = await get(http, "/metrics/goals/org-compliance", ANN, 403)
    assert refused["error"] == "forbidden"
    unknown = await get(http, "/metrics/goals/nope", SAM, 404)
    assert unknown["error"] == "unknown_goal"
    assert (await get(http, "/metrics/goals", SAM, 422, on="someday"))["error"] == "invalid_request"

    assert (await http.delete("/admin/goals/org-compliance", headers=ADA)).status_code == 204
    assert (await get(http, "/metrics/goals/org-compliance", SAM, 404))["error"] == "unknown_goal"


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({**GOAL, "target": 101}, 422, "invalid", "at most 100"),
        ({**GOAL, "metric": "csat", "target": 6}, 422, "invalid", "rating from 1 to 5"),
        ({**GOAL, "metric": "cases_resolved", "target": "PT4H"}, 422, "invalid", "is a number"),
        ({**GOAL, "metric": "mean_first_response", "target": "soon"}, 422, "invalid", "PT4H"),
        ({**GOAL, "queue": "platinum"}, 422, "unknown_reference", "unknown queue 'platinum'"),
        ({**GOAL, "agent": "zed"}, 422, "unknown_reference", "unknown agent 'zed'"),
        ({**GOAL, "queue": "gold", "agent": "ann"}, 422, "invalid", "one queue or one agent"),
        ({**GOAL, "period": "custom", "from": "2026-04-01", "to": "2026-03-01"}, 422, "invalid",
         "must come before"),
        ({**GOAL, "timezone": "Mars/Olympus"}, 422, "invalid", "Mars/Olympus"),
        ({**GOAL, "metric": "happiness"}, 422, "invalid_request", "fields"),
        ({**GOAL, "colour": "blue"}, 422, "invalid_request", "fields"),
    ],
)  # fmt: skip
async def test_a_bad_goal_is_refused_with_a_reason_and_nothing_written(
    http: httpx.AsyncClient, sessions: sessionmaker[Session], body: dict[str, Any], status: int,
    code: str, words: str,
) -> None:  # fmt: skip
    answer = await http.put(f"/admin/goals/{body['name']}", json=body, headers=ADA)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == code and words in answer.text
    assert goal_count(sessions) == 0


ORGANISATION = {
    "goals": [
        {**GOAL, "period": "quarter", "anchor": "2026-02-01", "timezone": "Europe/Paris"},
        {"name": "fast-answers", "metric": "mean_first_response", "target": "PT30M",
         "basis": "business", "agent": "ann", "period": "week"},
        {"name": "spring", "metric": "cases_resolved", "target": 400, "period": "custom",
         "from": "2026-03-01", "to": "2026-06-01"},
    ]
}  # fmt: skip


def test_goals_import_export_and_import_again_unchanged(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        assert import_organisation(session, ORGANISATION).count("created") == 3
    with transaction(sessions) as session:
        exported = export_organisation(session)
    assert exported["goals"][0] == {
        "name": "fast-answers", "metric": "mean_first_response", "target": "PT30M",
        "basis": "business", "agent": "ann", "period": "week",
    }  # fmt: skip
    assert exported["goals"][2]["from"] == "2026-03-01" and exported["goals"][2]["target"] == 400
    with transaction(sessions) as session:
        report = import_organisation(session, {"goals": exported["goals"]})
    assert report.count("unchanged") == 3 and report.count("created") == 0


@pytest.mark.parametrize(
    ("goals", "code", "words"),
    [
        ([GOAL, {**GOAL, "target": 60}], "duplicate", "org-compliance given twice"),
        ([GOLD_GOAL, {**GOAL, "target": 150}], "invalid", "org-compliance"),
        ([GOLD_GOAL, {**GOAL, "queue": "nowhere"}], "unknown_reference", "nowhere"),
    ],
)
def test_an_import_with_a_bad_goal_writes_nothing(
    sessions: sessionmaker[Session], goals: list[dict[str, Any]], code: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused, transaction(sessions) as session:
        import_organisation(session, {"goals": goals})
    assert refused.value.code == code and words in refused.value.detail
    assert goal_count(sessions) == 0
