"""Case numbers and the read model of cases: written at each transition, read by the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.store.knowledge import ArticleUseRecord, record_uses
from caseflow.store.models import (
    AuditEntry,
    Calendar,
    Case,
    CaseActivity,
    CaseEvent,
    CaseNumber,
    EntitlementUse,
    InboundMessage,
    SlaInstance,
    SlaPolicy,
)

NUMBER_PREFIX = "CAS-"
# Cases whose workflow still runs clocks (not closed, cancelled or merged).
ACTIVE_STATUSES = ("new", "open", "awaiting_customer", "on_hold")  # being worked
RESOLVED_STATUSES = ("resolved", "closed")  # a resolution stands
RUNNING_STATUSES = (*ACTIVE_STATUSES, "resolved")  # the workflow still keeps clocks
AUDITED = (
    "status",
    "stage",
    "priority",
    "queue",
    "owner",
    "product",
    "fields",
    "sla_status",
    "resolution",
)


def format_case_number(sequence: int) -> str:
    return f"{NUMBER_PREFIX}{sequence:06d}"


def allocate_case_number(session: Session, origin_key: str) -> str:
    """The case number for this origin; the same one however often asked, even concurrently."""
    existing = session.scalar(select(CaseNumber.id).where(CaseNumber.origin_key == origin_key))
    if existing is not None:
        return format_case_number(existing)
    try:
        with session.begin_nested():
            row = CaseNumber(origin_key=origin_key)
            session.add(row)
        return format_case_number(row.id)
    except IntegrityError:
        winner = session.scalar(select(CaseNumber.id).where(CaseNumber.origin_key == origin_key))
        assert winner is not None
        return format_case_number(winner)


def origin_of(session: Session, number: str) -> str | None:
    """The origin key a case number was allocated for, e.g. `email:<message key>`."""
    if not number.startswith(NUMBER_PREFIX) or not number[len(NUMBER_PREFIX) :].isdigit():
        return None
    sequence = int(number[len(NUMBER_PREFIX) :])
    return session.scalar(select(CaseNumber.origin_key).where(CaseNumber.id == sequence))


@dataclass
class CaseWrite:
    """One transition of one case, as rows: applied once, whatever the retries."""

    number: str
    seq: int
    values: dict[str, Any]
    actor: str
    action: str
    at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    sla_instances: list[dict[str, Any]] = field(default_factory=list)
    entitlement_uses: list[dict[str, Any]] = field(default_factory=list)
    article_uses: list[ArticleUseRecord] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


def _whole_text(session: Session, event: CaseEvent) -> str:
    """An incoming email's event carries the start of its text (workflow payloads stay small)
    and how long it is whole: the timeline keeps the whole text, from the stored message, when
    that is the text the event began with."""
    length = (event.data or {}).get("text_length", "")
    if not event.email_key or not length.isdigit():
        return event.body
    whole = session.scalar(
        select(InboundMessage.text).where(InboundMessage.dedup_key == event.email_key)
    )
    if whole is None or len(whole) != int(length) or not whole.startswith(event.body):
        return event.body
    return whole


def apply_case_write(session: Session, write: CaseWrite) -> bool:
    """Write the transition unless it is already there; False when it was."""
    case = session.get(Case, write.number, with_for_update=True)
    if case is not None and case.last_seq >= write.seq:
        return False
    changes = _changes(case, write.values)
    if case is None:
        case = Case(number=write.number, **write.values)
        session.add(case)
    else:
        for name, value in write.values.items():
            setattr(case, name, value)
    case.last_seq = write.seq
    for position, event in enumerate(write.events):
        row = CaseEvent(case_number=write.number, seq=write.seq, position=position, **event)
        row.body = _whole_text(session, row)
        session.add(row)
    session.add(
        AuditEntry(
            case_number=write.number,
            seq=write.seq,
            actor=write.actor,
            action=write.action,
            at=write.at,
            changes=changes,
        )
    )
    _upsert_sla_instances(session, write.number, write.sla_instances)
    _add_entitlement_uses(session, write.entitlement_uses)
    record_uses(session, write.article_uses)
    _upsert_activities(session, write.number, write.activities)
    return True


def _changes(case: Case | None, values: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in AUDITED:
        before = getattr(case, name) if case is not None else None
        after = values.get(name)
        if before != after:
            changes[name] = {"from": before, "to": after}
    return changes


def _upsert_sla_instances(session: Session, number: str, rows: list[dict[str, Any]]) -> None:
    existing = {
        (row.kpi, row.instance): row
        for row in session.scalars(select(SlaInstance).where(SlaInstance.case_number == number))
    }
    for values in rows:
        row = existing.get((values["kpi"], values["instance"]))
        if row is None:
            session.add(SlaInstance(case_number=number, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


def _upsert_activities(session: Session, number: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    existing = {
        row.activity_id: row
        for row in session.scalars(select(CaseActivity).where(CaseActivity.case_number == number))
    }
    for values in rows:
        row = existing.get(values["activity_id"])
        if row is None:
            session.add(CaseActivity(case_number=number, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


def _add_entitlement_uses(session: Session, uses: list[dict[str, Any]]) -> None:
    for use in uses:
        known = session.scalar(select(EntitlementUse.id).where(EntitlementUse.key == use["key"]))
        if known is None:
            session.add(EntitlementUse(**use))


# ---------------------------------------------------------------------------------------------
# Reads


class Scope(Protocol):
    """The cases a reader sees, as the visibility rule (`workflows.visibility`) gives them."""

    @property
    def everything(self) -> bool: ...
    @property
    def queues(self) -> frozenset[str]: ...
    @property
    def owner(self) -> str | None: ...


def in_scope(scope: Scope | None) -> ColumnElement[bool]:
    """The scope as a condition on cases, the SQL of `CaseScope.admits`; None: every case (the
    CLI, reports). The API always passes its caller's scope."""
    if scope is None or scope.everything:
        return true()
    seen: list[ColumnElement[bool]] = [Case.queue.in_(sorted(scope.queues))] if scope.queues else []
    if scope.owner is not None:
        seen.append(Case.owner == scope.owner)
    return or_(*seen) if seen else false()


@dataclass
class CaseFilter:
    status: list[str] = field(default_factory=list)
    queue: str | None = None
    owner: str | None = None
    customer: str | None = None
    priority: int | None = None
    sla_status: str | None = None
    search: str | None = None  # words of the number, the subject or the customer


def get_case(session: Session, number: str) -> Case | None:
    return session.get(Case, number)


def list_cases(
    session: Session, filters: CaseFilter, limit: int, offset: int, scope: Scope | None = None
) -> tuple[list[Case], int]:
    query = select(Case).where(in_scope(scope))
    if filters.status:
        query = query.where(Case.status.in_(filters.status))
    if filters.queue:
        query = query.where(Case.queue == filters.queue)
    if filters.owner:
        query = query.where(Case.owner == filters.owner)
    if filters.customer:
        query = query.where(Case.customer_email == filters.customer.lower())
    if filters.priority is not None:
        query = query.where(Case.priority == filters.priority)
    if filters.sla_status:
        query = query.where(Case.sla_status == filters.sla_status)
    if filters.search and filters.search.strip():
        query = query.where(_found_by(filters.search.strip()))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(*MOST_URGENT).limit(limit).offset(offset)
    return list(session.scalars(page)), total


# Most urgent first: priority, then the next SLA due time (none last), then age.
MOST_URGENT = (
    Case.priority,
    Case.sla_due_at.is_(None),
    Case.sla_due_at,
    Case.created_at,
    Case.number,
)


def _found_by(text: str) -> ColumnElement[bool]:
    """Cases whose number, subject, customer address or name contains the text (any case)."""
    return or_(
        Case.number.icontains(text, autoescape=True),
        Case.subject.icontains(text, autoescape=True),
        Case.customer_email.icontains(text, autoescape=True),
        Case.customer_name.icontains(text, autoescape=True),
    )


def case_events(session: Session, number: str) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_number == number)
    return list(session.scalars(query.order_by(CaseEvent.seq, CaseEvent.position)))


def last_event(session: Session, number: str, kinds: tuple[str, ...]) -> CaseEvent | None:
    """The case's latest event of one of these kinds."""
    query = select(CaseEvent).where(CaseEvent.case_number == number, CaseEvent.kind.in_(kinds))
    return session.scalar(query.order_by(CaseEvent.seq.desc(), CaseEvent.position.desc()))


def case_sla_instances(session: Session, number: str) -> list[SlaInstance]:
    query = select(SlaInstance).where(SlaInstance.case_number == number)
    return list(session.scalars(query.order_by(SlaInstance.kpi, SlaInstance.instance)))


def case_audit(session: Session, number: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.case_number == number)
    return list(session.scalars(query.order_by(AuditEntry.seq)))


def counting_in(calendar_name: str, statuses: tuple[str, ...] = RUNNING_STATUSES) -> Select[Any]:
    """The numbers of the cases in these states whose SLA policy counts in this calendar."""
    return (
        select(Case.number)
        .join(SlaPolicy, SlaPolicy.name == Case.sla_policy)
        .join(Calendar, Calendar.id == SlaPolicy.calendar_id)
        .where(Calendar.name == calendar_name, Case.status.in_(statuses))
    )


def under_policy(policy_name: str, statuses: tuple[str, ...] = RUNNING_STATUSES) -> Select[Any]:
    """The numbers of the cases in these states that were given this SLA policy."""
    return select(Case.number).where(Case.sla_policy == policy_name, Case.status.in_(statuses))


def cases_counting_in(
    session: Session, calendar_name: str, statuses: tuple[str, ...] = RUNNING_STATUSES
) -> list[str]:
    """Numbers of the cases in these states whose SLA policy counts in this calendar."""
    return list(session.scalars(counting_in(calendar_name, statuses).order_by(Case.number)))


def cases_under_policy(
    session: Session, policy_name: str, statuses: tuple[str, ...] = RUNNING_STATUSES
) -> list[str]:
    """Numbers of the cases in these states that were given this SLA policy."""
    return list(session.scalars(under_policy(policy_name, statuses).order_by(Case.number)))


def numbers_after(
    session: Session, numbers: Select[Any], after: str, limit: int
) -> tuple[list[str], int]:
    """A page of these case numbers: the first `limit` after `after`, in order (a cursor that
    stays right while cases come and go), and how many there are after `after` in all."""
    later = numbers.where(Case.number > after)
    page = list(session.scalars(later.order_by(Case.number).limit(limit)))
    remaining = session.scalar(select(func.count()).select_from(later.subquery())) or 0
    return page, int(remaining)


def unfinished_cases_owned_by(session: Session, handle: str) -> int:
    """How many cases this agent owns whose workflow still runs (not closed or ended)."""
    query = select(func.count()).select_from(Case).where(Case.owner == handle)
    return int(session.scalar(query.where(Case.status.in_(RUNNING_STATUSES))) or 0)


def case_activities(session: Session, number: str) -> list[CaseActivity]:
    query = select(CaseActivity).where(CaseActivity.case_number == number)
    return list(session.scalars(query.order_by(CaseActivity.activity_id)))


def case_messages(session: Session, number: str) -> list[CaseEvent]:
    """The emails that came in on the case (copied ones included), in order."""
    query = select(CaseEvent).where(CaseEvent.case_number == number, CaseEvent.kind == "email_in")
    return list(session.scalars(query.order_by(CaseEvent.seq, CaseEvent.position)))


MAX_MERGE_HOPS = 20


def survivor_of(session: Session, number: str) -> str:
    """The case that carries on for this one: itself, or the end of its chain of merges."""
    seen = {number}
    for _ in range(MAX_MERGE_HOPS):
        into = session.scalar(select(Case.merged_into).where(Case.number == number))
        if into is None or into in seen:
            return number
        seen.add(into)
        number = into
    return number


def children_of(session: Session, number: str, scope: Scope | None = None) -> list[str]:
    query = select(Case.number).where(Case.parent_number == number, in_scope(scope))
    return list(session.scalars(query.order_by(Case.number)))


def merged_into_it(session: Session, number: str, scope: Scope | None = None) -> list[str]:
    """The duplicates merged into this case."""
    query = select(Case.number).where(Case.merged_into == number, in_scope(scope))
    return list(session.scalars(query.order_by(Case.number)))


def open_by_status(session: Session) -> dict[str, int]:
    """How many cases are in each state whose workflow still runs (new to resolved)."""
    query = (
        select(Case.status, func.count())
        .where(Case.status.in_(RUNNING_STATUSES))
        .group_by(Case.status)
    )
    counts = dict.fromkeys(RUNNING_STATUSES, 0)
    counts.update(dict(session.execute(query).all()))
    return counts
