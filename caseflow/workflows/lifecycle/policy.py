"""SLA policies on a running case: escalations, a policy chosen again, migrated, re-timed."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import routing, sla
from caseflow.workflows.lifecycle.base import Effects
from caseflow.workflows.model import (
    CalendarChange,
    CaseState,
    KpiClock,
    KpiStatus,
    KpiTarget,
    PolicyMigration,
    SlaActions,
    SlaPolicy,
)


def sla_escalation(
    state: CaseState, clock: KpiClock, what: str, actions: SlaActions, now: datetime,
    effects: Effects,
) -> None:  # fmt: skip
    """The escalation a policy asks for on a warning or failure: raise the priority (never
    lower it) and/or move the case to a queue."""
    priority = state.priority
    if actions.raise_priority_to is not None:
        priority = min(priority, actions.raise_priority_to)
    queue = actions.move_to_queue or state.queue
    if (priority, queue) == (state.priority, state.queue):
        return
    previous = (state.priority, state.queue)
    state.priority, state.queue = priority, queue
    effects.event(
        "escalated",
        now,
        "system",
        f"Escalated to priority {priority} in queue {queue}",
        f"SLA {what} of {clock.kpi}",
        previous_priority=str(previous[0]),
        previous_queue=previous[1],
    )
    if priority != previous[0]:
        choose_policy_again(state, now, effects)


def choose_policy_again(state: CaseState, now: datetime, effects: Effects) -> None:
    """A new priority may call for another policy: running clocks take its targets and keep
    the business time spent; KPIs the new policy lacks are cancelled."""
    if not state.policies:
        return
    facts = routing.CaseFacts(
        channel=state.channel,
        priority=state.priority,
        subject=state.subject,
        entitlement=state.entitlement.name if state.entitlement else None,
        product=state.product,
        customer=state.customer.email,
        account=state.customer.account_name,
    )
    chosen = routing.choose_policy_among(
        state.policies, state.default_policy, state.entitlement, facts
    )
    if chosen.name == state.policy.name:
        return
    old = state.policy
    _switch_policy(state, chosen, now)
    effects.event(
        "sla_policy_changed",
        now,
        "system",
        f"SLA policy {old.name} → {chosen.name} (priority {state.priority})",
        previous_policy=old.name,
        policy=chosen.name,
    )


def _switch_policy(state: CaseState, chosen: SlaPolicy, now: datetime) -> None:
    old, state.policy = state.policy, chosen
    targets = {t.kpi: t for t in chosen.targets}
    for clock in state.kpis:
        if not sla.is_active(clock):
            continue
        if clock.kpi in targets:
            sla.retarget(clock, targets[clock.kpi], old.calendar, chosen.calendar, now)
        else:
            sla.stop(clock, old.calendar, now, KpiStatus.CANCELLED, f"not in policy {chosen.name}")
    # The new policy may pause in other states than the old one: the clocks follow the new one.
    pausing = state.status in set(chosen.pause_states)
    reason = f"{state.status} under policy {chosen.name}"
    for clock in state.kpis:
        if pausing:
            sla.pause(clock, chosen.calendar, now, reason)
        else:
            sla.resume(clock, chosen.calendar, now, reason)


def migrate_policy(state: CaseState, migration: PolicyMigration, now: datetime) -> Effects | None:
    """An edited version of the case's own policy, applied on purpose: running clocks take the
    new targets and calendar and keep the business time spent. None for another policy."""
    new = migration.policy
    if new.name != state.policy.name or new == state.policy or state.finished:
        return None
    _switch_policy(state, new, now)
    state.policies = [new if p.name == new.name else p for p in state.policies]
    effects = Effects()
    effects.event(
        "sla_policy_migrated",
        now,
        migration.migrated_by,
        f"SLA policy {new.name} migrated to its current version",
        policy=new.name,
    )
    return effects


def calendar_changed(state: CaseState, change: CalendarChange, now: datetime) -> Effects | None:
    """The case's calendar was edited: its running clocks keep the business time spent (in the
    old calendar) and count on in the new one. None when the case uses another calendar."""
    old = state.policy.calendar
    new = change.calendar
    if old.name != new.name or old == new or state.finished:
        return None
    for clock in state.kpis:
        target = KpiTarget(clock.kpi, clock.warn_after, clock.fail_after)
        sla.retarget(clock, target, old, new, now)
    state.policy.calendar = new
    effects = Effects()
    effects.event(
        "calendar_changed",
        now,
        change.changed_by,
        f"Calendar {new.name} edited: SLA clocks re-timed",
        calendar=new.name,
    )
    return effects
