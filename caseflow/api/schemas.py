"""What the API accepts and answers: its own models, apart from tables and workflow types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from caseflow import surfaces
from caseflow.store.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseActivity,
    CaseEvent,
    OutboundEmail,
    SlaInstance,
)
from caseflow.workflows.model import MAX_TEXT, Channel, KpiStatus

TEXT = MAX_TEXT
EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
CASE_NUMBER = r"^[Cc][Aa][Ss]-\d{6,12}$"
Priority = Field(default=None, ge=1, le=4, description="1 critical … 4 low")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaStatus(StrEnum):
    """A case's overall SLA word (`sla.overall_status`): its KPIs' worst, or none."""

    NONE = "none"
    IN_PROGRESS = KpiStatus.IN_PROGRESS.value
    NEARING_NONCOMPLIANCE = KpiStatus.NEARING_NONCOMPLIANCE.value
    PAUSED = KpiStatus.PAUSED.value
    SUCCEEDED = KpiStatus.SUCCEEDED.value
    NONCOMPLIANT = KpiStatus.NONCOMPLIANT.value
    CANCELLED = KpiStatus.CANCELLED.value


# -- requests --------------------------------------------------------------------------------


class CreateCase(Strict):
    """The customer is a contact (`customer_email`; with `account`, a contact of that account,
    created in it when new) or an account alone (`account` without an address: nobody is
    emailed about the case)."""

    customer_email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=320)
    account: str | None = Field(default=None, min_length=1, max_length=200)
    customer_name: str = Field(default="", max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=TEXT)
    channel: Channel = Channel.WEB
    priority: int | None = Priority
    product: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _names_a_customer(self) -> CreateCase:
        if not self.customer_email and not self.account:
            raise ValueError("a case needs a customer_email or an account")
        return self


class Comment(Strict):
    comment: str = Field(default="", max_length=TEXT)


# The agent actions' bodies are derived from their requests (`caseflow.surfaces`).
Assign = surfaces.Assign


# -- answers ---------------------------------------------------------------------------------


class CaseSummary(BaseModel):
    number: str
    subject: str
    status: str
    stage: str
    priority: int
    queue: str
    owner: str | None
    customer_email: str
    channel: str
    product: str | None
    sla_status: str
    sla_due_at: datetime | None
    follow_up_of: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        return cls.model_validate(case, from_attributes=True)


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list, the shape of every list the API answers: `items`, how many there
    are in all (`total`), and the `limit` and `offset` asked for."""

    items: list[Item]
    total: int
    limit: int
    offset: int

    @classmethod
    def cut(cls, every: Sequence[Item], limit: int, offset: int, **extra: Any) -> Self:
        """The page of a list read whole (a case's activities, an article's versions);
        `extra`: the fields of a page with more to say (the words an article search used)."""
        page = list(every[offset : offset + limit])
        return cls(items=page, total=len(every), limit=limit, offset=offset, **extra)


class CasePage(Page[CaseSummary]):
    pass


class Kpi(BaseModel):
    kpi: str
    instance: int
    status: str
    started_at: datetime
    warn_at: datetime | None
    fail_at: datetime | None
    warned_at: datetime | None
    failed_at: datetime | None
    stopped_at: datetime | None
    elapsed_seconds: int
    met_by_seconds: int | None
    missed_by_seconds: int | None
    history: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def of(cls, row: SlaInstance) -> Kpi:
        return cls.model_validate(row, from_attributes=True)


class TimelineEntry(BaseModel):
    """An event of the case, or an email we sent about it (kind `email_out`, no seq)."""

    seq: int | None
    at: datetime
    kind: str
    actor: str
    summary: str
    body: str
    data: dict[str, Any]

    @classmethod
    def of(cls, row: CaseEvent) -> TimelineEntry:
        return cls.model_validate(row, from_attributes=True)

    @classmethod
    def sent(cls, row: OutboundEmail) -> TimelineEntry:
        return cls(
            seq=None,
            at=row.sent_at or row.created_at,
            kind="email_out",
            actor="system",
            summary=row.subject,
            body="",
            data={"template": row.template, "audience": row.audience, "status": row.status},
        )


class Email(BaseModel):
    key: str
    template: str
    audience: str
    subject: str
    recipients: list[str]
    status: str
    message_id: str
    created_at: datetime
    sent_at: datetime | None
    error: str

    @classmethod
    def of(cls, row: OutboundEmail) -> Email:
        return cls.model_validate(row, from_attributes=True)


class Audit(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]

    @classmethod
    def of(cls, row: AuditEntry) -> Audit:
        return cls.model_validate(row, from_attributes=True)


class CaseDetail(CaseSummary):
    description: str
    customer_name: str
    routed_by: str
    fields: dict[str, Any]
    sla_policy: str
    resolution: dict[str, Any] | None
    survey: dict[str, Any] | None
    resolved_at: datetime | None
    closed_at: datetime | None
    kpis: list[Kpi]
    timeline: list[TimelineEntry]
    emails: list[Email]
    audit: list[Audit]
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)


class Health(BaseModel):
    status: str
    database: str
    temporal: str


class Problem(BaseModel):
    error: str
    detail: str


class QuarantinedMessage(BaseModel):
    """A message the intake could not take in, kept with its reason."""

    id: int
    received_at: datetime
    mailbox: str
    sender: str
    subject: str
    reason: str
    attempts: int
    size: int


class QuarantinePage(Page[QuarantinedMessage]):
    pass


class NoiseMessage(BaseModel):
    """Automatic mail that opened no case, kept with its class and the detectors' reasons."""

    id: int
    received_at: datetime
    mailbox: str
    sender: str
    subject: str
    mail_class: str
    reason: str
    size: int


class NoisePage(Page[NoiseMessage]):
    pass


class Reprocessed(BaseModel):
    """What taking a quarantined message in again did."""

    id: int
    outcome: str  # delivered, quarantined, ignored
    case_number: str | None
    detail: str


class AttachmentInfo(BaseModel):
    """A file that came with an email of the case; `stored` false: over a size limit."""

    id: int
    email_key: str
    filename: str
    content_type: str
    size: int
    stored: bool
    note: str
    created_at: datetime

    @classmethod
    def of(cls, row: Attachment) -> AttachmentInfo:
        kept = row.sha256 is not None
        return cls(
            id=row.id,
            email_key=row.dedup_key,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            stored=kept,
            note="" if kept else "over a size limit: listed, not kept (the raw message has it)",
            created_at=row.created_at,
        )


class AttachmentPage(Page[AttachmentInfo]):
    pass


class InboundContent(BaseModel):
    """An email of the case in full: its whole text (quoted history included), its HTML
    sanitised for display (null when it had none), and its files."""

    key: str
    message_id: str
    sender: str
    subject: str
    received_at: datetime
    text: str
    html: str | None
    attachments: list[AttachmentInfo]


# -- activities and related cases ------------------------------------------------------------


class NewActivity(Strict):
    """A phone call, task, note or appointment; `completed` records one already done (a note
    is always recorded done)."""

    kind: Literal["phone_call", "task", "note", "appointment"]
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=TEXT)
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: AwareDatetime | None = None
    completed: bool = False


class Parent(Strict):
    parent: str = Field(pattern=CASE_NUMBER, description="the parent (major) case, CAS-…")
    comment: str = Field(default="", max_length=TEXT)


class Merge(Strict):
    into: str = Field(pattern=CASE_NUMBER, description="the case that survives, CAS-…")
    comment: str = Field(default="", max_length=TEXT)


class Activity(BaseModel):
    """An activity of the case; emails in and out are listed too, closed, with no `id`."""

    id: int | None
    kind: str
    subject: str
    description: str
    owner: str | None
    status: str
    due_at: datetime | None
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    resolution: str = ""
    time_spent_minutes: int = 0
    billable_minutes: int = 0
    email_key: str | None = None

    @classmethod
    def of(cls, row: CaseActivity) -> Activity:
        return cls(
            id=row.activity_id, kind=row.kind, subject=row.subject, description=row.description,
            owner=row.owner, status=row.status, due_at=row.due_at, created_by=row.created_by,
            created_at=row.created_at, closed_by=row.closed_by, closed_at=row.closed_at,
            resolution=row.resolution, time_spent_minutes=row.time_spent_minutes,
            billable_minutes=row.billable_minutes,
        )  # fmt: skip

    @classmethod
    def received(cls, event: CaseEvent) -> Activity:
        return cls(
            id=None, kind="email", subject=event.summary, description=event.body, owner=None,
            status="completed", due_at=None, created_by=event.actor, created_at=event.at,
            closed_by=event.actor, closed_at=event.at, email_key=event.email_key,
        )  # fmt: skip

    @classmethod
    def sent(cls, row: OutboundEmail) -> Activity:
        at = row.sent_at or row.created_at
        return cls(
            id=None, kind="email", subject=row.subject, description="", owner=None,
            status="completed", due_at=None, created_by="system", created_at=at,
            closed_by="system", closed_at=at, email_key=row.key,
        )  # fmt: skip


class ActivityPage(Page[Activity]):
    pass
