"""The KPI table: which happening starts, meets, reopens and ends which SLA clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caseflow.workflows import kpis
from caseflow.workflows.kpis import Happening
from caseflow.workflows.model import CaseStatus, KpiClock, KpiName, KpiStatus, KpiTarget, SlaPolicy

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = SlaPolicy(
    name="p",
    targets=[
        KpiTarget(KpiName.FIRST_RESPONSE, 15 * MIN, 30 * MIN),
        KpiTarget(KpiName.NEXT_RESPONSE, 30 * MIN, 60 * MIN),
        KpiTarget(KpiName.RESOLUTION, 240 * MIN, 480 * MIN),
    ],
    pause_states=[CaseStatus.AWAITING_CUSTOMER],
)


def statuses(clocks: list[KpiClock]) -> dict[str, KpiStatus]:
    return {f"{c.kpi}#{c.instance}": c.status for c in clocks}


def test_every_kpi_has_a_rule() -> None:
    assert set(kpis.RULES) == set(KpiName)


def test_a_new_case_starts_what_starts_on_creation_only() -> None:
    clocks = kpis.opened(POLICY, T0)
    assert [c.kpi for c in clocks] == [KpiName.FIRST_RESPONSE, KpiName.RESOLUTION]


def test_a_response_meets_the_first_and_the_running_next_response_not_the_resolution() -> None:
    clocks = kpis.opened(POLICY, T0)
    kpis.met(clocks, POLICY, Happening.RESPONSE, T0 + 5 * MIN)
    kpis.started(clocks, POLICY, Happening.CUSTOMER_MESSAGE, T0 + 9 * MIN, CaseStatus.OPEN, True)
    kpis.met(clocks, POLICY, Happening.RESPONSE, T0 + 20 * MIN)
    assert statuses(clocks) == {
        "first_response#1": KpiStatus.SUCCEEDED,
        "resolution#1": KpiStatus.IN_PROGRESS,
        "next_response#1": KpiStatus.SUCCEEDED,
    }


def test_a_customer_message_before_any_response_starts_nothing() -> None:
    clocks = kpis.opened(POLICY, T0)
    kpis.started(clocks, POLICY, Happening.CUSTOMER_MESSAGE, T0, CaseStatus.OPEN, False)
    assert KpiName.NEXT_RESPONSE not in {c.kpi for c in clocks}


def test_a_second_message_while_one_is_owed_starts_no_second_instance() -> None:
    clocks = kpis.opened(POLICY, T0)
    for minute in (1, 2):
        message = Happening.CUSTOMER_MESSAGE
        kpis.started(clocks, POLICY, message, T0 + minute * MIN, CaseStatus.OPEN, True)
    assert sum(1 for c in clocks if c.kpi is KpiName.NEXT_RESPONSE) == 1


def test_a_next_response_started_in_a_pause_state_starts_paused() -> None:
    clocks: list[KpiClock] = []
    status = CaseStatus.AWAITING_CUSTOMER
    kpis.started(clocks, POLICY, Happening.CUSTOMER_MESSAGE, T0, status, True)
    assert clocks[0].running_since is None


def test_resolved_then_reopened_takes_the_resolution_up_again() -> None:
    clocks = kpis.opened(POLICY, T0)
    kpis.met(clocks, POLICY, Happening.RESOLVED, T0 + 60 * MIN)
    assert statuses(clocks)["resolution#1"] is KpiStatus.SUCCEEDED
    kpis.reopened(clocks, POLICY, Happening.REOPENED, T0 + 90 * MIN, "reopened")
    assert statuses(clocks)["resolution#1"] is KpiStatus.IN_PROGRESS
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    assert first.status is KpiStatus.IN_PROGRESS  # reopening touches only what it names


def test_entering_and_leaving_a_pause_state_pauses_and_resumes_every_clock() -> None:
    clocks = kpis.opened(POLICY, T0)
    waiting = CaseStatus.AWAITING_CUSTOMER
    kpis.status_changed(clocks, POLICY, CaseStatus.OPEN, waiting, T0 + MIN, "waiting")
    assert all(c.running_since is None for c in clocks)
    kpis.status_changed(clocks, POLICY, waiting, CaseStatus.OPEN, T0 + 2 * MIN, "back")
    assert all(c.running_since is not None for c in clocks)


def test_an_ended_case_cancels_every_clock() -> None:
    clocks = kpis.opened(POLICY, T0)
    kpis.ended(clocks, POLICY, T0 + MIN, "cancelled")
    assert set(statuses(clocks).values()) == {KpiStatus.CANCELLED}
