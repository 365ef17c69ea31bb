"""Conversions between database rows and the dataclasses that cross the Temporal boundary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from caseflow import calendars
from caseflow.policies import Policy
from caseflow.store import models
from caseflow.store.cases import CaseWrite
from caseflow.store.directory import ActiveEntitlement
from caseflow.store.knowledge import ArticleUseRecord
from caseflow.workflows.calendar import CalendarSpec
from caseflow.workflows.model import (
    CaseActivity,
    CaseRecord,
    Channel,
    Customer,
    Entitlement,
    KpiClock,
    KpiEvent,
    Resolution,
    RoutingRule,
    SlaPolicy,
    Survey,
    TimelineEvent,
)

_RESOLUTION = TypeAdapter(Resolution)
_SURVEY = TypeAdapter(Survey)
_KPI_HISTORY = TypeAdapter(list[KpiEvent])
# Timeline events that stand for an incoming message, findable by its key.
_EMAIL_EVENTS = frozenset({"email_in", "email_bounced"})


def calendar(row: models.Calendar) -> CalendarSpec:
    return calendars.spec_of(row)


def case_sla_policy(row: models.SlaPolicy) -> SlaPolicy:
    """A policy as a running case pins it: its calendar with the holidays of this year and
    the next only (`calendars.case_spec_of`), not a decade of them in each pinned policy."""
    return sla_policy(row, calendars.case_spec_of)


def sla_policy(
    row: models.SlaPolicy, calendar: Callable[[models.Calendar], CalendarSpec] = calendar
) -> SlaPolicy:
    """A policy as stored, its calendar with the holidays of the years around this one."""
    return Policy.of_row(row).pinned(calendar(row.calendar))


def routing_rule(row: models.RoutingRule) -> RoutingRule:
    conditions = row.conditions
    return RoutingRule(
        name=row.name,
        queue=row.queue.name,
        entitlements=list(conditions.get("entitlements", [])),
        channels=[Channel(c) for c in conditions.get("channels", [])],
        priorities=[int(p) for p in conditions.get("priorities", [])],
        products=list(conditions.get("products", [])),
        subject_words=list(conditions.get("subject_words", [])),
        customers=list(conditions.get("customers", [])),
        agent=_rule_agent(row),
    )


def _rule_agent(row: models.RoutingRule) -> str | None:
    """The rule's agent while active and a member of its queue; else the queue keeps the case."""
    agent = row.agent
    if agent is None or not agent.active or row.queue_id not in {q.id for q in agent.queues}:
        return None
    return agent.handle


def customer(
    contact: models.Contact | None,
    account: models.Account | None = None,
    primary: models.Contact | None = None,
) -> Customer:
    """A contact (with its account), or an account alone, whose emails go to its primary
    contact (`primary`) if it has one."""
    account = contact.account if contact is not None else account
    return Customer(
        email=contact.email if contact else "",
        name=contact.name if contact else account.name if account else "",
        contact_id=contact.id if contact else None,
        account_id=account.id if account else None,
        account_name=account.name if account else "",
        primary_contact_email=primary.email if primary and not contact else "",
        primary_contact_name=primary.name if primary and not contact else "",
    )


def entitlement(active: ActiveEntitlement | None) -> Entitlement | None:
    if active is None:
        return None
    row = active.entitlement
    return Entitlement(
        id=row.id,
        name=row.name,
        remaining=active.left,
        sla_policy=row.sla_policy.name if row.sla_policy else None,
    )


def case_write(record: CaseRecord) -> CaseWrite:
    snap = record.snapshot
    values: dict[str, Any] = {
        "subject": snap.subject,
        "channel": str(snap.channel),
        "status": str(snap.status),
        "stage": str(snap.stage),
        "priority": snap.priority,
        "queue": snap.queue,
        "routed_by": snap.routed_by,
        "owner": snap.owner,
        "customer_email": snap.customer.email,
        "customer_name": snap.customer.name,
        "contact_id": snap.customer.contact_id,
        "account_id": snap.customer.account_id,
        "product": snap.product,
        "fields": dict(snap.fields),
        "entitlement_id": snap.entitlement_id,
        "sla_policy": snap.sla_policy,
        "sla_status": snap.sla_status,
        "sla_due_at": snap.sla_due_at,
        "follow_up_of": snap.follow_up_of,
        "participants": list(snap.participants),
        "mailbox": snap.mailbox,
        "resolution": _RESOLUTION.dump_python(snap.resolution, mode="json")
        if snap.resolution
        else None,
        "survey": _SURVEY.dump_python(snap.survey, mode="json") if snap.survey else None,
        "created_at": snap.created_at,
        "updated_at": snap.updated_at,
        "resolved_at": snap.resolved_at,
        "closed_at": snap.closed_at,
        "parent_number": snap.parent,
        "merged_into": snap.merged_into,
    }
    if snap.description is not None:  # None: unchanged since the last record
        values["description"] = snap.description
    return CaseWrite(
        number=snap.number,
        seq=record.seq,
        values=values,
        actor=record.actor,
        action=record.action,
        at=snap.updated_at,
        events=[_event(e) for e in record.events],
        sla_instances=[_sla_instance(k) for k in snap.kpis],
        entitlement_uses=[
            {
                "key": c.key,
                "entitlement_id": c.entitlement_id,
                "case_number": c.case_number,
                "delta": c.delta,
                "channel": c.channel,
                "at": snap.updated_at,
            }
            for c in record.entitlement_changes
        ],
        article_uses=[_article_use(snap.number, record.seq, e) for e in _articles_sent(record)],
        activities=[_activity(a) for a in snap.activities],
    )


def _articles_sent(record: CaseRecord) -> list[TimelineEvent]:
    return [e for e in record.events if e.kind == "replied" and e.data.get("article_id")]


def _article_use(number: str, seq: int, event: TimelineEvent) -> ArticleUseRecord:
    return ArticleUseRecord(
        article_id=int(event.data["article_id"]),
        version=int(event.data.get("article_version") or 0),
        case_number=number,
        seq=seq,
        actor=event.actor,
        used_at=event.at,
    )


def _activity(activity: CaseActivity) -> dict[str, Any]:
    return {
        "activity_id": activity.id,
        "kind": str(activity.kind),
        "subject": activity.subject[:300],
        "description": activity.description,
        "owner": activity.owner,
        "status": str(activity.status),
        "due_at": activity.due_at,
        "created_by": activity.created_by[:100],
        "created_at": activity.created_at,
        "closed_by": activity.closed_by,
        "closed_at": activity.closed_at,
        "resolution": activity.resolution,
        "time_spent_minutes": activity.time_spent_minutes,
        "billable_minutes": activity.billable_minutes,
    }


def _event(event: TimelineEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": event.at,
        "actor": event.actor[:100],
        "summary": event.summary[:500],
        "body": event.body,
        "data": dict(event.data),
        "email_key": event.data.get("key") if event.kind in _EMAIL_EVENTS else None,
    }


def _sla_instance(clock: KpiClock) -> dict[str, Any]:
    return {
        "kpi": str(clock.kpi),
        "instance": clock.instance,
        "status": str(clock.status),
        "started_at": clock.started_at,
        "warn_at": clock.warn_at,
        "fail_at": clock.fail_at,
        "warned_at": clock.warned_at,
        "failed_at": clock.failed_at,
        "stopped_at": clock.stopped_at,
        "elapsed_seconds": int(clock.elapsed.total_seconds()),
        "met_by_seconds": _seconds(clock.met_by),
        "missed_by_seconds": _seconds(clock.missed_by),
        "warn_after_seconds": int(clock.warn_after.total_seconds()),
        "fail_after_seconds": int(clock.fail_after.total_seconds()),
        "history": _KPI_HISTORY.dump_python(clock.history, mode="json"),
    }


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())
