"""Every change of a case's status goes through one transition: the SLA clocks follow the
policy's pause states however the case entered a state (rules version 2)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from caseflow.workflows.model import (
    ActionRequest,
    CaseState,
    CaseStatus,
    KpiClock,
    KpiName,
    KpiStatus,
)
from tests.unit.case_factories import STEP, act, agent, case_context, case_in, sla_policy


def resolved_pausing_in_open(rules_version: int) -> tuple[CaseState, datetime]:
    """A resolved case whose policy (oddly, but it may) pauses its clocks while `open`."""
    context = case_context(rules_version=rules_version)
    policy = sla_policy()
    policy.pause_states = [CaseStatus.OPEN, CaseStatus.AWAITING_CUSTOMER]
    context.policies = [policy]
    return case_in(CaseStatus.RESOLVED, context)


def resolution_clock(state: CaseState) -> KpiClock:
    return next(c for c in state.kpis if c.kpi is KpiName.RESOLUTION)


def test_a_reopened_case_pauses_when_its_policy_pauses_in_open() -> None:
    state, now = resolved_pausing_in_open(rules_version=2)

    act(state, "reopen", ActionRequest(agent()), now + STEP)

    clock = resolution_clock(state)
    assert state.status is CaseStatus.OPEN
    assert clock.status is KpiStatus.PAUSED and clock.running_since is None


def test_a_case_created_under_the_earlier_rules_reopens_as_it_always_did() -> None:
    state, now = resolved_pausing_in_open(rules_version=1)

    act(state, "reopen", ActionRequest(agent()), now + STEP)

    clock = resolution_clock(state)
    assert clock.status is KpiStatus.IN_PROGRESS and clock.running_since is not None


def test_no_rule_sets_a_status_but_the_transition() -> None:
    rules = Path(__file__).resolve().parents[2] / "caseflow" / "workflows" / "lifecycle"
    writers = {
        path.name
        for path in rules.glob("*.py")
        if any("state.status =" in line for line in path.read_text().splitlines())
    }
    assert writers == {"transitions.py"}
