"""The metric definitions over a hand-built read model (tests/support/read_model.py), with
figures computed by hand, identical on SQLite and PostgreSQL; goal progress; `caseflow report`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from caseflow.configuration import apply, kind_named
from caseflow.reporting import ReportError, check_scope, goal_named, goal_progress
from caseflow.store import metrics
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.metrics import NO_PRODUCT, Compliance, Csat, MeanTime, Scope, Tally, Window
from caseflow.store.models import Agent
from tests.support.cli import run_caseflow
from tests.support.read_model import at, write_march

MARCH = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
EVERYTHING = Scope()
AGENTS = [("ann", "agent"), ("bob", "agent"), ("sam", "supervisor")]


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for handle, role in AGENTS:
            session.add(
                Agent(handle=handle, email=f"{handle}@x.test", role=role, token_hash=handle)
            )
        write_march(session)
    yield factory
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with transaction(sessions, writes=False) as session:
        yield session


# -- the six metrics, organisation-wide -----------------------------------------------------------


def test_cases_opened_and_resolved_count_each_standing_resolution_once(session: Session) -> None:
    assert metrics.cases_opened(session, MARCH, EVERYTHING) == {"*": 5}
    # C1 and C2 once each; C3 (resolved, reopened, resolved) once; C4 (reopened, open) not.
    assert metrics.cases_resolved(session, MARCH, EVERYTHING) == {"*": 3}
    february = Window(at("02-01 00:00"), MARCH.start)
    assert metrics.cases_resolved(session, february, EVERYTHING) == {"*": 1}  # C8


def test_cases_in_progress_are_counted_as_they_were_at_the_end_of_the_period(
    session: Session,
) -> None:
    # C4 is open; C5 was new until cancelled on 04-02; C2 was resolved (closed 04-05).
    # Earlier: C4 open on the 12th, resolved on the 13th, reopened on the 14th; C6 open on the 15th.
    assert metrics.cases_in_progress(session, MARCH.end, EVERYTHING) == {"*": 2}
    assert metrics.cases_in_progress(session, at("03-12 12:00"), EVERYTHING) == {"*": 1}  # C4
    assert metrics.cases_in_progress(session, at("03-13 12:00"), EVERYTHING) == {"*": 0}
    assert metrics.cases_in_progress(session, at("03-15 12:00"), EVERYTHING) == {"*": 2}
    assert metrics.cases_in_progress(session, NOW, EVERYTHING) == {"*": 2}  # C4, C7


def test_sla_compliance_counts_instances_where_they_were_decided(session: Session) -> None:
    found = metrics.sla_compliance(session, MARCH, EVERYTHING)["*"]
    assert found == Compliance(
        overall=Tally(7, 6, 53.85),
        by_kpi={
            "first_response": Tally(2, 3, 40.0),  # C2, C4 met; C3, C5, C6 breached in March
            "next_response": Tally(3, 1, 75.0),
            "resolution": Tally(2, 2, 50.0),  # C1, C2 met; C3 breached, C4 breached and open
        },
    )


def test_mean_first_response_is_over_responses_given_in_the_period(session: Session) -> None:
    # C1 (answered 03-01 after 2 days, 8 business hours), C2, C3, C4; not C6 (cancelled).
    found = metrics.mean_first_response(session, MARCH, EVERYTHING)["*"]
    assert found == MeanTime(
        count=4, wall_clock_seconds=49200.0, business_count=4, business_seconds=13200.0
    )


def test_mean_resolution_time_runs_from_creation_to_the_standing_resolution(
    session: Session,
) -> None:
    # C1: 3 days (10 business hours); C2: 4 hours; C3: 3 days to its second resolution (25 h).
    found = metrics.mean_resolution_time(session, MARCH, EVERYTHING)["*"]
    assert found == MeanTime(
        count=3, wall_clock_seconds=177600.0, business_count=3, business_seconds=46800.0
    )


def test_csat_is_over_surveys_answered_in_the_period(session: Session) -> None:
    # C8's answer at 03-01 00:00 counts; C2's on 04-06 does not.
    assert metrics.csat(session, MARCH, EVERYTHING)["*"] == Csat(3, 3.67, 66.67)


def test_an_empty_period_has_zeros_and_no_rates(session: Session) -> None:
    empty = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    summary = metrics.summary(session, empty, EVERYTHING, NOW)
    assert (summary.cases_opened, summary.cases_resolved, summary.cases_in_progress) == (0, 0, 0)
    assert summary.sla_compliance == Compliance()
    assert summary.mean_first_response == MeanTime() and summary.csat == Csat()


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "opened", "resolved", "in_progress", "compliance", "first", "resolution", "csat"),
    [
        (Scope(queue="gold"), 2, 1, 1, Tally(6, 2, 75.0), MeanTime(2, 1200.0, 2, 1200.0),
         MeanTime(1, 14400.0, 1, 14400.0), Csat(1, 4.0, 100.0)),
        (Scope(agent="ann"), 2, 2, 1, Tally(7, 2, 77.78), MeanTime(3, 58400.0, 3, 10400.0),
         MeanTime(2, 136800.0, 2, 25200.0), Csat(1, 5.0, 100.0)),
        (Scope(product="Billing"), 2, 2, 1, Tally(1, 3, 25.0), MeanTime(2, 97200.0, 2, 25200.0),
         MeanTime(2, 259200.0, 2, 63000.0), Csat(2, 3.5, 50.0)),
        (Scope(product=NO_PRODUCT), 1, 1, 0, Tally(4, 1, 80.0), MeanTime(1, 1800.0, 1, 1800.0),
         MeanTime(1, 14400.0, 1, 14400.0), Csat(1, 4.0, 100.0)),
        (Scope(channel="phone"), 1, 1, 0, Tally(4, 1, 80.0), MeanTime(1, 1800.0, 1, 1800.0),
         MeanTime(1, 14400.0, 1, 14400.0), Csat()),
        (Scope(queue="standard", agent="bob"), 2, 1, 0, Tally(0, 3, 0.0),
         MeanTime(1, 21600.0, 1, 21600.0), MeanTime(1, 259200.0, 1, 90000.0), Csat(1, 2.0, 0.0)),
    ],
)  # fmt: skip
def test_every_metric_narrows_to_a_queue_agent_product_or_channel(
    session: Session, scope: Scope, opened: int, resolved: int, in_progress: int,
    compliance: Tally, first: MeanTime, resolution: MeanTime, csat: Csat,
) -> None:  # fmt: skip
    summary = metrics.summary(session, MARCH, scope, NOW)
    assert summary.cases_opened == opened
    assert summary.cases_resolved == resolved
    assert summary.cases_in_progress == in_progress
    assert summary.in_progress_at == MARCH.end
    assert summary.sla_compliance.overall == compliance
    assert summary.mean_first_response == first
    assert summary.mean_resolution_time == resolution
    assert summary.csat == csat


def test_unknown_queues_agents_and_products_are_refused(session: Session) -> None:
    for scope, code in [
        (Scope(queue="platinum"), "unknown_queue"),
        (Scope(agent="zed"), "unknown_agent"),
        (Scope(product="Toaster"), "unknown_product"),
    ]:
        with pytest.raises(ReportError) as refused:
            check_scope(session, scope)
        assert refused.value.code == code
    check_scope(session, Scope(queue="gold", agent="ann", product=NO_PRODUCT, channel="web"))


# -- breakdowns -----------------------------------------------------------------------------------


def row_figures(row: metrics.GroupFigures) -> tuple[Any, ...]:
    return (
        row.name, row.cases_opened, row.cases_resolved, row.cases_in_progress,
        row.sla_compliance.percent, row.mean_resolution_time.wall_clock_seconds,
        row.csat.mean_rating,
    )  # fmt: skip


def test_per_product_every_product_has_a_row_and_cases_without_one_come_last(
    session: Session,
) -> None:
    found = metrics.breakdown(session, MARCH, EVERYTHING, "product", NOW)
    assert [row_figures(r) for r in found.rows] == [
        ("Billing", 2, 2, 1, 25.0, 259200.0, 3.5),
        ("Caseflow Cloud", 2, 0, 1, 50.0, None, None),
        ("Caseflow On-Premises", 0, 0, 0, None, None, None),
        ("(none)", 1, 1, 0, 80.0, 14400.0, 4.0),
    ]
    assert found.rows[1].mean_first_response.wall_clock_seconds == 600.0  # C4, not C6


def test_per_queue_and_per_agent(session: Session) -> None:
    queues = metrics.breakdown(session, MARCH, EVERYTHING, "queue", NOW)
    assert [row_figures(r) for r in queues.rows] == [
        ("escalations", 0, 0, 0, None, None, None),
        ("gold", 2, 1, 1, 75.0, 14400.0, 4.0),
        ("standard", 3, 2, 1, 20.0, 259200.0, 3.5),
    ]
    agents = metrics.breakdown(session, MARCH, Scope(queue="standard"), "agent", NOW)
    assert [row_figures(r) for r in agents.rows] == [
        ("ann", 0, 1, 0, 100.0, 259200.0, 5.0),
        ("bob", 2, 1, 0, 0.0, 259200.0, 2.0),
        ("sam", 0, 0, 0, None, None, None),
        ("(unassigned)", 1, 0, 1, 0.0, None, None),
    ]


# -- goals ----------------------------------------------------------------------------------------

GOALS: list[dict[str, Any]] = [
    {"name": "gold-resolved", "metric": "cases_resolved", "target": 2, "queue": "gold"},
    {"name": "org-compliance", "metric": "sla_compliance", "target": 50},
    {"name": "first-response", "metric": "mean_first_response", "target": "PT4H"},
    {"name": "first-response-business", "metric": "mean_first_response", "target": "PT4H",
     "basis": "business"},
    {"name": "ann-csat", "metric": "csat", "target": 4, "agent": "ann"},
    {"name": "backlog", "metric": "cases_in_progress", "target": 1},
    {"name": "spring", "metric": "cases_resolved", "target": 3, "period": "custom",
     "from": "2026-03-01", "to": "2026-04-01"},
    {"name": "weekly", "metric": "cases_resolved", "target": 1, "period": "week"},
    {"name": "paris-day", "metric": "cases_resolved", "target": 1, "period": "day",
     "timezone": "Europe/Paris"},
]  # fmt: skip


@pytest.fixture
def with_goals(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    kind = kind_named("goals")
    with transaction(sessions) as session:
        for goal in GOALS:
            assert apply(session, kind, kind.parse(goal)) == "created"
    return sessions


@pytest.mark.parametrize(
    ("name", "on", "actual", "percent", "met"),
    [
        ("gold-resolved", "2026-03-15", 1, 50.0, False),
        ("org-compliance", "2026-03-15", 53.85, 107.7, True),
        ("first-response", "2026-03-15", 49200.0, 341.67, False),
        ("first-response-business", "2026-03-15", 13200.0, 91.67, True),
        ("ann-csat", "2026-03-15", 5.0, 125.0, True),
        ("backlog", "2026-03-15", 2, 200.0, False),
        ("spring", "2030-01-01", 3, 100.0, True),
        ("weekly", "2026-03-08", 2, 200.0, True),  # Monday 03-02 to 03-09: C1 and C3
        ("paris-day", "2026-03-10", 1, 100.0, True),  # C2 at 14:00 in Paris
        ("paris-day", "2026-03-11", 0, 0.0, False),
        ("ann-csat", "2026-05-15", None, None, None),  # no survey answered in May
    ],
)
def test_goal_progress_compares_the_periods_figure_with_the_target(
    with_goals: sessionmaker[Session], name: str, on: str, actual: float | None,
    percent: float | None, met: bool | None,
) -> None:  # fmt: skip
    with transaction(with_goals, writes=False) as session:
        progress = goal_progress(session, goal_named(session, name), date.fromisoformat(on), NOW)
    assert (progress.actual, progress.percent_of_target, progress.met) == (actual, percent, met)
    assert progress.final is True and progress.period_elapsed_percent == 100.0


def test_a_goal_in_its_current_period_says_how_far_the_period_has_run(
    with_goals: sessionmaker[Session],
) -> None:
    with transaction(with_goals, writes=False) as session:
        progress = goal_progress(session, goal_named(session, "gold-resolved"), None, NOW)
    assert progress.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert progress.end == datetime(2026, 12, 1, tzinfo=UTC)
    assert progress.final is False
    assert progress.period_elapsed_percent == 85.0  # 25.5 days of 30
    assert (progress.scope, progress.scope_name, progress.comparison) == (
        "queue",
        "gold",
        "at_least",
    )


# -- caseflow report ------------------------------------------------------------------------------


def report(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASEFLOW_DATABASE_URL": database_url}
    return run_caseflow("report", *args, env=env)


def test_caseflow_report_prints_the_summary_as_an_aligned_table(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    result = report(database_url, "--from", "2026-03-01", "--to", "2026-04-01")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2026-03-01 00:00 to 2026-04-01 00:00 UTC"
    table = lines[2:]
    assert table[0].split() == ["metric", "value"]
    assert "cases resolved" in table[3] and table[3].endswith(" 3")
    assert any(line.startswith("SLA compliance") and "53.9 % (7 of 13)" in line for line in table)
    assert any(line.startswith("mean first response") and "13h 40m" in line for line in table)
    assert any(line.startswith("CSAT") and "3.67 (3)" in line for line in table)
    assert len({len(line) for line in table[:2]}) == 1  # header and rule alike


def test_caseflow_report_by_product_in_json_is_the_apis_shape(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    result = report(
        database_url, "--from", "2026-03-01", "--to", "2026-04-01", "--by", "product",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["by"] == "product"
    assert [(r["name"], r["cases_resolved"]) for r in data["rows"]] == [
        ("Billing", 2), ("Caseflow Cloud", 0), ("Caseflow On-Premises", 0), ("(none)", 1)
    ]  # fmt: skip
    table = report(database_url, "--from", "2026-03-01", "--to", "2026-04-01", "--by", "queue")
    header, rule, *rows = table.stdout.splitlines()[2:]
    assert header.split()[:3] == ["queue", "opened", "resolved"]
    assert [r.split()[0] for r in rows] == ["escalations", "gold", "standard"]
    assert len({len(header), len(rule)} | {len(r) for r in rows}) <= 2  # right-aligned figures


def test_caseflow_report_goals(database_url: str, with_goals: sessionmaker[Session]) -> None:
    result = report(database_url, "--goals", "--on", "2026-03-15")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "≥ 50.0 %" in lines["org-compliance"] and lines["org-compliance"].endswith("yes")
    assert "≤ 4h 00m" in lines["first-response"] and lines["first-response"].endswith("no")
    data = json.loads(report(database_url, "--goals", "--format", "json").stdout)
    assert {g["name"] for g in data} == {g["name"] for g in GOALS}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--queue", "platinum"], "there is no queue 'platinum'"),
        (["--from", "2026-04-01", "--to", "2026-03-01"], "must come before"),
        (["--from", "soon"], "not a date"),
        (["--by", "colour"], "invalid choice"),
    ],
)
def test_caseflow_report_refuses_bad_input_without_a_traceback(
    database_url: str, sessions: sessionmaker[Session], args: list[str], words: str, tmp_path: Path
) -> None:
    result = report(database_url, *args)
    assert result.returncode != 0
    assert words in result.stderr and "Traceback" not in result.stderr
