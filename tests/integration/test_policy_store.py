"""SLA policies saved in the database (SQLite and PostgreSQL) are what new cases are given."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.activities.convert import sla_policy
from caseflow.policies import PolicyError, policy_from_dict, save_policy
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import SlaPolicy

PLATINUM = {
    "name": "platinum",
    "calendar": "24x7",
    "default": True,
    "kpis": {
        "first_response": {"warn_after": "PT5M", "fail_after": "PT10M"},
        "next_response": {"warn_after": "PT20M", "fail_after": "PT30M"},
    },
}


def test_a_saved_policy_reads_back_and_becomes_the_only_default(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        save_policy(session, policy_from_dict(PLATINUM))
    with transaction(sessions) as session:
        defaults = list(session.scalars(select(SlaPolicy).where(SlaPolicy.is_default)))
        assert [p.name for p in defaults] == ["platinum"]
        policy = sla_policy(defaults[0])
        assert [t.kpi for t in policy.targets] == ["first_response", "next_response"]
        assert policy.calendar.name == "24x7"
    engine.dispose()


def test_a_policy_on_an_unknown_calendar_is_refused_and_nothing_written(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with (
        pytest.raises(PolicyError, match="unknown calendar"),
        transaction(sessions) as session,
    ):
        save_policy(session, policy_from_dict({**PLATINUM, "calendar": "mars-office"}))
    with transaction(sessions) as session:
        assert session.scalar(select(SlaPolicy).where(SlaPolicy.name == "platinum")) is None
        assert session.scalar(select(SlaPolicy).where(SlaPolicy.is_default)) is not None
    engine.dispose()


def test_conditions_and_actions_reach_new_cases_from_the_database(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    data = {
        **PLATINUM,
        "default": False,
        "position": 1,
        "conditions": {"priorities": [1]},
        "on_failure": {"notify": ["supervisors"], "move_to_queue": "escalations"},
    }
    with transaction(sessions) as session:
        save_policy(session, policy_from_dict(data))
    with transaction(sessions) as session:
        row = session.scalar(select(SlaPolicy).where(SlaPolicy.name == "platinum"))
        assert row is not None
        policy = sla_policy(row)
        assert (policy.position, policy.conditions.priorities) == (1, [1])
        assert policy.on_failure.notify == ["supervisors"]
        assert policy.on_warning.notify == ["owner"]  # not set: the default
    bad = {**data, "on_failure": {"move_to_queue": "nowhere"}}
    with pytest.raises(PolicyError, match="unknown queue"), transaction(sessions) as session:
        save_policy(session, policy_from_dict(bad))
    engine.dispose()
