"""Tables of the system of record: configuration, customers, agents, and the read model of cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) and PG."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


# ---------------------------------------------------------------------------------------------
# Customers and what they are entitled to


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    domain: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(back_populates="account")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index(
            "uq_contacts_primary_account",
            "account_id",
            unique=True,
            sqlite_where=text('"primary"'),
            postgresql_where=text('"primary"'),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "ok", or "failing" once mail to the address bounced (until mail from it arrives again).
    email_status: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    email_failed_at: Mapped[datetime | None] = mapped_column()
    email_failure: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))

    # The account's primary contact (at most one per account): the account's own cases, those
    # with no contact, email them.
    primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # An administrator of the account sees all the account's cases in the portal, not only theirs.
    account_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The language the customer reads (caseflow.i18n.LANGUAGES); empty: their browser's, else
    # the organisation's default.
    language: Mapped[str] = mapped_column(String(10), default="", server_default=text("''"))

    account: Mapped[Account | None] = relationship(back_populates="contacts")


class Calendar(Base):
    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)
    hours: Mapped[list[Any]] = mapped_column(default=list)  # [{"weekday", "start", "end"}]
    holidays: Mapped[list[Any]] = mapped_column(default=list)  # ["2026-12-25", ...]
    # Public holidays of a country (and subdivision) from the `holidays` package, expanded into
    # `holidays` when the calendar is saved; closures: [{"start", "end", "reason"}] ISO instants.
    country: Mapped[str | None] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    closures: Mapped[list[Any] | None] = mapped_column(JSON, default=list)


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    # {"first_response": {"warn_after": "PT10M", "fail_after": "PT15M"}, ...}
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pause_states: Mapped[list[Any]] = mapped_column(default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Chosen in position order by its conditions ({"priorities": [1], "customers": [...], ...});
    # on_warning / on_failure: {"notify": ["owner", "queue", "supervisors"],
    # "raise_priority_to": 2, "move_to_queue": "escalations"}.
    position: Mapped[int] = mapped_column(Integer, default=100, server_default=text("100"))
    conditions: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    on_warning: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    on_failure: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    calendar: Mapped[Calendar] = relationship()


class Entitlement(Base):
    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    total_cases: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    channels: Mapped[list[Any]] = mapped_column(default=list)  # empty: every channel
    # Cases per channel, within the total (or alone): {"email": 10, "phone": 5}; a channel
    # allowed but not counted here is limited by the total only.
    channel_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)

    sla_policy: Mapped[SlaPolicy | None] = relationship()
    account: Mapped[Account | None] = relationship()
    contact: Mapped[Contact | None] = relationship()


class EntitlementUse(Base):
    """One case consumed (-1) or given back (+1); keyed so a retried activity counts once."""

    __tablename__ = "entitlement_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlements.id"), index=True)
    case_number: Mapped[str] = mapped_column(String(32))
    delta: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The case's channel, for per-channel counts ("" for uses recorded before they existed).
    channel: Mapped[str] = mapped_column(String(20), default="", server_default=text("''"))


# ---------------------------------------------------------------------------------------------
# Work organisation


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How emails sign and pages name the agent; the handle when empty.
    display_name: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    # Created by `caseflow dev` for the demo: refused outside development.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Signing in to the pages: an argon2 hash (None: no password, API token only), and the
    # lock-out after repeated failures.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()

    queues: Mapped[list[Queue]] = relationship(secondary="queue_members")


class AgentSession(Base):
    """A signed-in browser: the cookie holds a random token, only its hash is kept here."""

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    agent: Mapped[Agent] = relationship()


class QueueMember(Base):
    __tablename__ = "queue_members"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), primary_key=True)


class RoutingRule(Base):
    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    # {"entitlements": [...], "channels": [...], "priorities": [...], "products": [...],
    #  "customers": [address, "@domain" or account name], "subject_words": [...]}
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The agent the matched case is assigned to at creation (a member of the queue), if any.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))

    queue: Mapped[Queue] = relationship()
    agent: Mapped[Agent | None] = relationship()


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class StageRequirement(Base):
    """The fields a stage requires before a case advances; a stage without a row has the
    built-in default."""

    __tablename__ = "stage_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), unique=True)
    fields: Mapped[list[Any]] = mapped_column(default=list)


class KnowledgeArticle(Base):
    """An article of the knowledge base, at its latest version. Its full-text index (an FTS5
    table on SQLite, a GIN index on PostgreSQL) is made by migration 0005 over `search_terms`."""

    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), unique=True)
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(500), default="")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    product: Mapped[str | None] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    use_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="", server_default=text("''"))
    # The distinct terms of title, keywords and body (caseflow.store.textsearch), space-separated.
    search_terms: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))


class ArticleVersion(Base):
    """Every saved content of an article, kept: what was sent to a customer stays readable."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(500), default="")
    product: Mapped[str | None] = mapped_column(String(100))
    published: Mapped[bool] = mapped_column(Boolean)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_by: Mapped[str] = mapped_column(String(100), default="")


class ArticleUse(Base):
    """An article sent to a customer, once per case event: a retried activity counts it once."""

    __tablename__ = "article_uses"
    __table_args__ = (UniqueConstraint("case_number", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    case_number: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[datetime] = mapped_column()


# ---------------------------------------------------------------------------------------------
# Cases: numbers, the read model, timeline, audit, SLA instances


class CaseNumber(Base):
    """Case numbers handed out once per origin (a message, an API request): CAS-<id>."""

    __tablename__ = "case_numbers"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    origin_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    __tablename__ = "cases"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(32), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, index=True)
    queue: Mapped[str] = mapped_column(String(100), index=True)
    routed_by: Mapped[str] = mapped_column(String(100), default="")
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    customer_email: Mapped[str] = mapped_column(String(320), index=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    product: Mapped[str | None] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    entitlement_id: Mapped[int | None] = mapped_column(ForeignKey("entitlements.id"))
    sla_policy: Mapped[str] = mapped_column(String(100), default="")
    sla_status: Mapped[str] = mapped_column(String(32), default="none", index=True)
    sla_due_at: Mapped[datetime | None] = mapped_column()
    follow_up_of: Mapped[str | None] = mapped_column(String(32))
    mailbox: Mapped[str] = mapped_column(String(320), default="", server_default=text("''"))
    participants: Mapped[list[Any]] = mapped_column(default=list)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    survey: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)  # reports count by it
    closed_at: Mapped[datetime | None] = mapped_column()
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Related cases: the parent (major) case of a child, the survivor of a merged duplicate.
    parent_number: Mapped[str | None] = mapped_column(String(32), index=True)
    merged_into: Mapped[str | None] = mapped_column(String(32), index=True)


class CaseEvent(Base):
    """The timeline: every transition and every email in and out, in order."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_number", "seq", "position"),
        Index("ix_case_events_kind_at", "kind", "at"),  # reports: e.g. surveys answered in May
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email_key: Mapped[str | None] = mapped_column(String(300), index=True)


class CaseActivity(Base):
    """Calls, tasks, notes, appointments and resolutions of a case, as its workflow has them."""

    __tablename__ = "case_activities"
    __table_args__ = (UniqueConstraint("case_number", "activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    activity_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str] = mapped_column(Text, default="")
    time_spent_minutes: Mapped[int] = mapped_column(Integer, default=0)
    billable_minutes: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who did what when, and which fields of the case it changed."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("case_number", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SlaInstance(Base):
    __tablename__ = "sla_instances"
    __table_args__ = (UniqueConstraint("case_number", "kpi", "instance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    kpi: Mapped[str] = mapped_column(String(32))
    instance: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column()
    warn_at: Mapped[datetime | None] = mapped_column()
    fail_at: Mapped[datetime | None] = mapped_column()
    warned_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()
    elapsed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    met_by_seconds: Mapped[int | None] = mapped_column(Integer)
    missed_by_seconds: Mapped[int | None] = mapped_column(Integer)
    warn_after_seconds: Mapped[int] = mapped_column(Integer)
    fail_after_seconds: Mapped[int] = mapped_column(Integer)
    history: Mapped[list[Any]] = mapped_column(default=list)


# ---------------------------------------------------------------------------------------------
# Goals


class Goal(Base):
    """A target for one metric over a recurring (or one explicit) period, for the whole
    organisation, a queue or an agent; its progress is computed from the read model."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    metric: Mapped[str] = mapped_column(String(40))
    target: Mapped[float] = mapped_column(Float)  # count, percent, rating or seconds
    queue: Mapped[str | None] = mapped_column(String(100))  # neither: the organisation
    agent: Mapped[str | None] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20))  # day ... year, or custom (starts/ends)
    anchor: Mapped[date | None] = mapped_column(Date)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # exclusive
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    basis: Mapped[str] = mapped_column(String(20), default="wall_clock")  # or business


# ---------------------------------------------------------------------------------------------
# Email in and out


class RawMessage(Base):
    """Every message as it arrived, stored by the SHA-256 of its bytes."""

    __tablename__ = "raw_messages"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class Blob(Base):
    """Attachment content, stored once by the SHA-256 of its bytes."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A file that came with an inbound message, listed on its case."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("dedup_key", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), index=True)  # the inbound message
    position: Mapped[int] = mapped_column(Integer)
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))  # None: over the size limit, not kept
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """One incoming message, keyed by its normalised Message-ID (or a digest), and its fate."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(998), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(998), default="")
    mail_class: Mapped[str] = mapped_column(String(20), default="human")
    # What the timeline shows of it, whole: workflow payloads carry only its start (EXCERPT).
    text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    status: Mapped[str] = mapped_column(String(20), index=True)  # received, delivered, quarantined
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    threaded_by: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()  # retry of a failed hand-off
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class OutboundEmail(Base):
    """The outbox: one row per business key, so an email is sent once however often retried."""

    __tablename__ = "outbound_emails"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    template: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(20), default="customer")  # or "agents"
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    # The first recipient, for per-sender limits on automatic replies.
    to_address: Mapped[str] = mapped_column(
        String(320), default="", server_default=text("''"), index=True
    )
    subject: Mapped[str] = mapped_column(String(998))
    # pending → sending (claimed by one attempt) → sent | failed; see `messages.send_once`.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str] = mapped_column(Text, default="")
    # While `sending`: the attempt that holds the row, and until when it may (a crashed
    # attempt's claim expires, and the email can be tried again).
    claim: Mapped[str] = mapped_column(String(32), default="", server_default=text("''"))
    claimed_until: Mapped[datetime | None] = mapped_column()
    # The indexes (in `recipients`) of those it was handed over to: each recipient has an SMTP
    # transaction of their own (VERP), and a retry sends only to those not reached yet. NULL
    # (rows from before it) is none.
    handed_over: Mapped[list[Any] | None] = mapped_column(default=list)


# ---------------------------------------------------------------------------------------------
# The customer portal


class PortalLink(Base):
    """A one-time sign-in link emailed to a contact: only the keyed hash of its secret is kept,
    and it signs in once (`used_at`), before `expires_at`."""

    __tablename__ = "portal_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class PortalSession(Base):
    """A customer's signed-in browser: the cookie holds a random token, only its hash is here."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class PortalArticleView(Base):
    """A knowledge article opened from the new-case form's suggestions, by one browser
    (`visitor`: a keyed hash of its CSRF value); `case_number` once that browser opened a case
    afterwards. Opened without a case: a deflection."""

    __tablename__ = "portal_article_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor: Mapped[str] = mapped_column(String(64), index=True)
    article_id: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    case_number: Mapped[str | None] = mapped_column(String(32))
