"""SLA policies written in YAML: what is accepted, and what is refused with a clear sentence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from caseflow.policies import PolicyError, load_policy, policy_from_dict
from caseflow.workflows.model import CaseStatus, KpiName

GOLD = {
    "name": "gold",
    "calendar": "24x7",
    "kpis": {
        "first_response": {"warn_after": "PT10M", "fail_after": "PT15M"},
        "resolution": {"warn_after": "PT6H", "fail_after": "PT8H"},
    },
}


def test_a_policy_reads_its_kpis_calendar_and_pause_states() -> None:
    policy = policy_from_dict({**GOLD, "pause_states": ["on_hold"]})

    assert [(t.kpi, t.warn_after) for t in policy.targets] == [
        (KpiName.FIRST_RESPONSE, timedelta(minutes=10)),
        (KpiName.RESOLUTION, timedelta(hours=6)),
    ]
    assert policy.pause_states == [CaseStatus.ON_HOLD]
    assert policy_from_dict(GOLD).pause_states == [
        CaseStatus.AWAITING_CUSTOMER,
        CaseStatus.ON_HOLD,
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"kpis": {"resolution": {"warn_after": "PT9H", "fail_after": "PT8H"}}},
            "must come before",
        ),
        (
            {"kpis": {"resolution": {"warn_after": "PT8H", "fail_after": "PT8H"}}},
            "must come before",
        ),
        ({"kpis": {"resolution": {"warn_after": "PT0S", "fail_after": "PT8H"}}}, "positive"),
        ({"kpis": {"resolution": {"warn_after": "8 hours", "fail_after": "PT9H"}}}, "ISO 8601"),
        ({"kpis": {"resolution": {"warn_after": "PT1H"}}}, "needs warn_after and fail_after"),
        ({"kpis": {"first_reply": {"warn_after": "PT1H", "fail_after": "PT2H"}}}, "unknown KPI"),
        ({"kpis": {}}, "has no kpis"),
        ({"name": ""}, "needs a name"),
        ({"pause_states": ["closed"]}, "cannot pause"),
    ],
)
def test_a_bad_policy_is_refused_when_it_is_read(change: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_dict({**GOLD, **change})


def test_a_policy_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("- just a list")
    with pytest.raises(PolicyError, match="a policy is a mapping"):
        load_policy(tmp_path / "p.yaml")


def test_conditions_and_actions_are_read() -> None:
    policy = policy_from_dict(
        {
            **GOLD,
            "position": 5,
            "conditions": {"priorities": [1], "customers": ["@acme.example"]},
            "on_failure": {"notify": ["queue", "supervisors"], "move_to_queue": "escalations"},
        }
    )
    assert policy.position == 5 and policy.conditions.customers == ["@acme.example"]
    assert policy.on_failure is not None and policy.on_failure.move_to_queue == "escalations"
    assert policy.on_warning is None  # the default: the owner, or the queue while unassigned


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"conditions": {"priorities": [7]}}, "priorities are"),
        ({"conditions": {"colour": ["blue"]}}, "bad conditions"),
        ({"on_failure": {"notify": ["everyone"]}}, "cannot notify"),
        ({"on_failure": {"raise_priority_to": 0}}, "raise_priority_to"),
        ({"position": "first"}, "whole number"),
    ],
)
def test_bad_conditions_or_actions_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_dict({**GOLD, **change})
