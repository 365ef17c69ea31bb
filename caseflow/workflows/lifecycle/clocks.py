"""What responding and customer messages do to the SLA clocks of a case."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import sla
from caseflow.workflows.lifecycle.base import WORKING
from caseflow.workflows.model import (
    CaseState,
    KpiName,
    KpiStatus,
)


def respond(state: CaseState, now: datetime) -> None:
    """A public response meets the next-response clock; the first one, first response too."""
    clock = sla.find(state.kpis, KpiName.NEXT_RESPONSE)
    if clock is not None and sla.is_active(clock):
        sla.stop(clock, state.policy.calendar, now, KpiStatus.SUCCEEDED, "response sent")
    if state.responded:
        return
    state.responded = True
    stop_clock(state, KpiName.FIRST_RESPONSE, now, KpiStatus.SUCCEEDED, "first response sent")


def await_next_response(state: CaseState, now: datetime) -> None:
    """A customer message on a worked case starts a next-response clock, unless one runs (or
    the first response is still owed: its own clock covers it)."""
    target = next((t for t in state.policy.targets if t.kpi is KpiName.NEXT_RESPONSE), None)
    if target is None or not state.responded or state.status not in WORKING:
        return
    running = sla.find(state.kpis, KpiName.NEXT_RESPONSE)
    if running is not None and sla.is_active(running):
        return
    instance = 1 + sum(1 for c in state.kpis if c.kpi is KpiName.NEXT_RESPONSE)
    clock = sla.start_clock(target, state.policy.calendar, now, instance)
    if state.status in state.policy.pause_states:
        sla.pause(clock, state.policy.calendar, now, f"case is {state.status}")
    state.kpis.append(clock)


def stop_clock(
    state: CaseState, kpi: KpiName, now: datetime, outcome: KpiStatus, reason: str
) -> None:
    clock = sla.find(state.kpis, kpi)
    if clock is not None:
        sla.stop(clock, state.policy.calendar, now, outcome, reason)
