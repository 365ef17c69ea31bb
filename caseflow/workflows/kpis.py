"""What starts, meets, reopens and ends each SLA KPI: one table, read by the case's rules
(`lifecycle`) and by `caseflow sla simulate`, so a replayed history counts as the case did.

The clocks' arithmetic (business time, pauses, due instants) is `sla`'s; this module says only
which happening does what to which KPI, and follows the policy's pause states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from caseflow.workflows import sla
from caseflow.workflows.model import CaseStatus, KpiClock, KpiName, KpiStatus, SlaPolicy

WORKING = frozenset({CaseStatus.OPEN, CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD})
# A case is answered only once worked (`reply` needs one of WORKING), so a new case never has a
# next response to count; a simulated history may still reply to one, and counts it.
UNRESOLVED = WORKING | {CaseStatus.NEW}


class Happening(StrEnum):
    CREATED = "created"  # the case opens
    RESPONSE = "response"  # a public reply to the customer (an article, a resolution too)
    CUSTOMER_MESSAGE = "customer_message"  # the customer wrote
    RESOLVED = "resolved"
    REOPENED = "reopened"


@dataclass(frozen=True)
class KpiRule:
    starts_on: Happening
    met_on: Happening
    met_reason: str
    reopened_on: Happening | None = None
    # A new instance each time it starts (while none runs), only once the customer had a first
    # response, and only while the case is in one of these states.
    repeats: bool = False
    after_first_response: bool = False
    while_in: frozenset[CaseStatus] | None = None


RULES: dict[KpiName, KpiRule] = {
    KpiName.FIRST_RESPONSE: KpiRule(
        starts_on=Happening.CREATED, met_on=Happening.RESPONSE, met_reason="first response sent"
    ),
    KpiName.NEXT_RESPONSE: KpiRule(
        starts_on=Happening.CUSTOMER_MESSAGE,
        met_on=Happening.RESPONSE,
        met_reason="response sent",
        repeats=True,
        after_first_response=True,
        while_in=UNRESOLVED,
    ),
    KpiName.RESOLUTION: KpiRule(
        starts_on=Happening.CREATED,
        met_on=Happening.RESOLVED,
        met_reason="resolved",
        reopened_on=Happening.REOPENED,
    ),
}


def opened(policy: SlaPolicy, now: datetime) -> list[KpiClock]:
    """The clocks a new case starts under its policy."""
    return [
        sla.start_clock(target, policy.calendar, now)
        for target in policy.targets
        if RULES[target.kpi].starts_on is Happening.CREATED
    ]


def met(clocks: list[KpiClock], policy: SlaPolicy, happening: Happening, now: datetime) -> None:
    """Each running clock this happening meets succeeds (a response meets the first and the
    next response; a resolution, the resolution)."""
    for kpi, rule in RULES.items():
        clock = sla.find(clocks, kpi)
        if rule.met_on is happening and clock is not None and sla.is_active(clock):
            sla.stop(clock, policy.calendar, now, KpiStatus.SUCCEEDED, rule.met_reason)


def started(
    clocks: list[KpiClock],
    policy: SlaPolicy,
    happening: Happening,
    now: datetime,
    status: CaseStatus,
    responded: bool,
) -> None:
    """Clocks this happening starts again (a customer message, the next-response clock): a new
    instance, paused at once when the case is in a pause state."""
    for target in policy.targets:
        rule = RULES[target.kpi]
        if rule.starts_on is not happening or not rule.repeats:
            continue
        if (rule.after_first_response and not responded) or (
            rule.while_in is not None and status not in rule.while_in
        ):
            continue
        running = sla.find(clocks, target.kpi)
        if running is not None and sla.is_active(running):
            continue
        instance = 1 + sum(1 for c in clocks if c.kpi is target.kpi)
        clock = sla.start_clock(target, policy.calendar, now, instance)
        if status in policy.pause_states:
            sla.pause(clock, policy.calendar, now, f"case is {status}")
        clocks.append(clock)


def reopened(
    clocks: list[KpiClock], policy: SlaPolicy, happening: Happening, now: datetime, reason: str
) -> None:
    """Clocks this happening takes up again where they stopped (a reopened case's resolution)."""
    for kpi, rule in RULES.items():
        clock = sla.find(clocks, kpi)
        if rule.reopened_on is happening and clock is not None:
            sla.reactivate(clock, policy.calendar, now, reason)


def ended(clocks: list[KpiClock], policy: SlaPolicy, now: datetime, reason: str) -> None:
    """The case ended unresolved (cancelled, merged): every clock is cancelled."""
    for clock in clocks:
        sla.stop(clock, policy.calendar, now, KpiStatus.CANCELLED, reason)


def status_changed(
    clocks: list[KpiClock],
    policy: SlaPolicy,
    before: CaseStatus,
    after: CaseStatus,
    now: datetime,
    reason: str,
) -> None:
    """Into a state the policy pauses in, the clocks pause; out of it, they resume."""
    pausing = set(policy.pause_states)
    if after in pausing and before not in pausing:
        for clock in clocks:
            sla.pause(clock, policy.calendar, now, reason)
    elif before in pausing and after not in pausing:
        for clock in clocks:
            sla.resume(clock, policy.calendar, now, reason)
