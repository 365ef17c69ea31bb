"""A new case (routed, its policy chosen and pinned, clocks started), and every commit."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import kpis, routing
from caseflow.workflows.lifecycle.base import MAX_TEXT, Effects
from caseflow.workflows.lifecycle.entitlements import exhausted_name
from caseflow.workflows.lifecycle.inbound import count_inbound, take_in_email
from caseflow.workflows.lifecycle.outbound import (
    acknowledge,
    customer_address,
    hold_automatic_customer_mail,
)
from caseflow.workflows.lifecycle.transitions import enter
from caseflow.workflows.model import (
    CaseContext,
    CaseRecord,
    CaseState,
    CaseStatus,
    NewCase,
    Priority,
    RoutingRule,
)
from caseflow.workflows.views import changes


def create(
    number: str, new: NewCase, context: CaseContext, now: datetime
) -> tuple[CaseState, Effects]:
    """A new case: routed to a queue, its SLA policy chosen and pinned, clocks started."""
    entitlement = routing.usable_entitlement(context.entitlement)
    priority = new.priority if new.priority in Priority.ALL else Priority.NORMAL
    facts = routing.CaseFacts(
        channel=new.channel,
        priority=priority,
        subject=new.subject,
        entitlement=entitlement.name if entitlement else None,
        product=new.product,
        customer=context.customer.email,
        account=context.customer.account_name,
    )
    matched = routing.first_match(context.rules, facts)
    queue = matched.queue if matched else new.queue or context.default_queue
    rule = matched.name if matched else routing.DEFAULT_RULE
    policy = routing.choose_policy(context, facts)
    state = CaseState(
        number=number,
        subject=new.subject[:500] or "(no subject)",
        description=new.description[:MAX_TEXT],
        channel=new.channel,
        customer=context.customer,
        priority=priority,
        created_at=now,
        queue=queue,
        routed_by=rule,
        product=new.product,
        entitlement=entitlement,
        policy=policy,
        policies=list(context.policies),
        default_policy=context.default_policy,
        timings=context.timings,
        kpis=kpis.opened(policy, now),
        follow_up_of=new.follow_up_of,
        updated_at=now,
        mailbox=new.mailbox,
        stage_fields=context.stage_fields,
        child_requires_parent=context.child_requires_parent,
        rules_version=context.rules_version,
        resolved_reply=context.resolved_reply,
    )
    address = customer_address(state)
    state.participants = [address] if address else []
    effects = Effects()
    effects.event(
        "created",
        now,
        new.created_by,
        f"Case created from {new.channel} in queue {queue} (rule {rule})",
        queue=queue,
        rule=rule,
        sla_policy=policy.name,
        entitlement=entitlement.name if entitlement else "",
        exhausted_entitlement=exhausted_name(context),
        follow_up_of=new.follow_up_of or "",
    )
    if matched is not None and matched.agent:
        _assign_by_rule(state, matched, now, effects)
    if new.email is not None:
        take_in_email(state, new.email, now, effects)
        count_inbound(state, now, effects)
    acknowledge(state, new, context, now, effects)
    return state, effects


def _assign_by_rule(state: CaseState, rule: RoutingRule, now: datetime, effects: Effects) -> None:
    """The rule names the agent who takes every case it routes: owned and open from the start."""
    assert rule.agent is not None
    state.owner = rule.agent
    enter(state, CaseStatus.OPEN, now, "assigned by routing rule")
    effects.event(
        "assigned", now, "system", f"Assigned to {rule.agent} by rule {rule.name}",
        rule=rule.name, previous_owner="",
    )  # fmt: skip


def commit(state: CaseState, effects: Effects, actor: str, action: str, now: datetime) -> int:
    """Queue the effects for the workflow to carry out, in order; returns the event number."""
    if state.loop_suspected:
        hold_automatic_customer_mail(effects, now)
    state.seq += 1
    state.updated_at = now
    state.pending_records.append(
        CaseRecord(
            seq=state.seq,
            snapshot=changes(state),
            events=effects.events,
            actor=actor,
            action=action,
            entitlement_changes=effects.entitlement_changes,
        )
    )
    state.pending_emails.extend(effects.emails)
    state.pending_follow_ups.extend(effects.follow_ups)
    state.pending_child_notices.extend(effects.child_notices)
    return state.seq
