"""The data that crosses the Temporal boundary: case state, signals, updates and activity inputs.

Every workflow, signal, update and activity takes one dataclass so fields with defaults can be added
without breaking running cases. All case state is `CaseState`, which is also what continue-as-new
carries.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from caseflow.workflows.calendar import TWENTY_FOUR_SEVEN, CalendarSpec

TASK_QUEUE = "caseflow"


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    AWAITING_CUSTOMER = "awaiting_customer"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"


class Stage(StrEnum):
    IDENTIFY = "identify"
    RESEARCH = "research"
    RESOLVE = "resolve"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WEB = "web"
    FACEBOOK = "facebook"
    TWITTER = "twitter"
    IOT = "iot"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class KpiName(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"  # from each customer message (once answered) to our reply
    RESOLUTION = "resolution"


class KpiStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    NEARING_NONCOMPLIANCE = "nearing_noncompliance"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    NONCOMPLIANT = "noncompliant"
    CANCELLED = "cancelled"


class SurveyStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    REMINDED = "reminded"
    ANSWERED = "answered"
    EXPIRED = "expired"


class MailClass(StrEnum):
    """What kind of sender wrote an incoming message; only `human` mail is ever acknowledged."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    FEEDBACK = "feedback"
    OWN_LOOP = "own_loop"


class ResolvedReply(StrEnum):
    """What a customer's reply does to a resolved case (`CASEFLOW_RESOLVED_REPLY`, pinned on
    the case when it is created)."""

    JUDGE = "judge"  # reopens it when the reply says it still fails or asks something new
    REOPEN = "reopen"  # reopens it whatever it says, as before rules version 3


class Priority:
    """Priorities as numbers, 1 most urgent, as in ServiceNow."""

    CRITICAL = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4
    ALL = (1, 2, 3, 4)


# A priority as configuration names it (an SLA policy's conditions and escalations): 1 to 4.
Level = Annotated[int, Field(ge=Priority.CRITICAL, le=Priority.LOW)]


# ---------------------------------------------------------------------------------------------
# People


@dataclass
class Actor:
    """Who asks for an action: an agent (with role and queues), the customer, or the system."""

    handle: str
    role: Role | None = None
    queues: list[str] = field(default_factory=list)
    # The version of the case (`CaseState.seq`) the agent's page showed when they acted: the
    # case refuses the action if it has changed since (None: not said, as the API and CLI).
    saw: int | None = None

    @property
    def is_agent(self) -> bool:
        return self.role is not None


SYSTEM = Actor(handle="system")
CUSTOMER = Actor(handle="customer")


@dataclass
class Customer:
    email: str
    name: str = ""
    contact_id: int | None = None
    account_id: int | None = None
    account_name: str = ""
    # An account alone (no contact): its primary contact when the case was created, whom the
    # customer's emails go to.
    primary_contact_email: str = ""
    primary_contact_name: str = ""


# ---------------------------------------------------------------------------------------------
# Configuration pinned to a case when it is created


@dataclass
class KpiTarget:
    kpi: KpiName
    warn_after: timedelta
    fail_after: timedelta


@dataclass
class SlaPolicy:
    name: str
    calendar: CalendarSpec = field(default_factory=lambda: TWENTY_FOUR_SEVEN)
    targets: list[KpiTarget] = field(default_factory=list)
    pause_states: list[CaseStatus] = field(
        default_factory=lambda: [CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD]
    )
    # Chosen for a new case (when no entitlement brings a policy) by the first policy, in
    # position order, whose conditions all hold; no conditions: only as the default.
    position: int = 100
    conditions: PolicyConditions = field(default_factory=lambda: PolicyConditions())
    on_warning: SlaActions = field(default_factory=lambda: SlaActions(notify=[NOTIFY_OWNER]))
    on_failure: SlaActions = field(
        default_factory=lambda: SlaActions(notify=[NOTIFY_OWNER, NOTIFY_SUPERVISORS])
    )


NOTIFY_OWNER = "owner"  # the owner, or the queue's members while the case has none
NOTIFY_QUEUE = "queue"
NOTIFY_SUPERVISORS = "supervisors"


@dataclass
class PolicyConditions:
    """Each list left empty holds; customers are addresses, @domains or account names."""

    entitlements: list[str] = field(default_factory=list)
    priorities: list[Level] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.entitlements or self.priorities or self.channels or self.customers
            or self.products
        )  # fmt: skip


@dataclass
class SlaActions:
    """What a KPI's warning or failure does: whom it emails, and an optional escalation."""

    notify: list[str] = field(default_factory=list)
    raise_priority_to: Level | None = None
    move_to_queue: str | None = None


@dataclass
class CaseTimings:
    """Durations from settings, pinned at creation so a running case keeps its own."""

    auto_close_after: timedelta = timedelta(days=7)
    survey_delay: timedelta = timedelta(hours=1)
    survey_reminder_after: timedelta = timedelta(days=3)
    survey_expires_after: timedelta = timedelta(days=7)
    late_threshold: timedelta = timedelta(minutes=1)
    # More inbound emails than this within an hour stop automatic email to the customer.
    loop_breaker_per_hour: int = 10


@dataclass
class Entitlement:
    id: int
    name: str
    remaining: int | None  # None: unlimited
    sla_policy: str | None = None


@dataclass
class RoutingRule:
    """Ordered conditions on a new case; empty conditions match everything. Customers are
    addresses, @domains or account names; `agent` (a member of the queue) gets the case."""

    name: str
    queue: str
    entitlements: list[str] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    subject_words: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    agent: str | None = None


@dataclass
class CaseContext:
    """What the database knows that creating a case needs; the workflow decides with it."""

    customer: Customer
    entitlement: Entitlement | None
    rules: list[RoutingRule]
    policies: list[SlaPolicy]
    default_policy: str
    default_queue: str
    timings: CaseTimings
    # Acknowledgements sent to this customer's address in the last 24 hours, and the limit.
    acks_sent_today: int = 0
    ack_limit_per_day: int = 5
    # The fields each stage requires before `advance` (None: the built-in STAGE_FIELDS), and
    # whether a child case may be resolved only once its parent is.
    stage_fields: dict[str, list[str]] | None = None
    child_requires_parent: bool = False
    # The version of the lifecycle rules the case follows (lifecycle.RULES_VERSION when it was
    # created): rules that changed what an event does apply only to cases created under them,
    # so running cases replay their recorded histories exactly.
    rules_version: int = 0
    # What a customer's reply to the case once resolved does (since rules version 3); the
    # activity gives the setting, a context without it (recorded before) the old behaviour.
    resolved_reply: ResolvedReply = ResolvedReply.REOPEN


# ---------------------------------------------------------------------------------------------
# Case state


@dataclass
class KpiEvent:
    at: datetime
    event: str  # started, paused, resumed, warned, failed, succeeded, cancelled
    reason: str = ""


@dataclass
class KpiClock:
    """One SLA KPI instance. Elapsed business time is `elapsed` plus the running segment."""

    kpi: KpiName
    warn_after: timedelta
    fail_after: timedelta
    started_at: datetime
    status: KpiStatus = KpiStatus.IN_PROGRESS
    instance: int = 1
    elapsed: timedelta = timedelta(0)
    running_since: datetime | None = None
    warn_at: datetime | None = None
    fail_at: datetime | None = None
    warned_at: datetime | None = None
    failed_at: datetime | None = None
    stopped_at: datetime | None = None
    met_by: timedelta | None = None
    missed_by: timedelta | None = None
    history: list[KpiEvent] = field(default_factory=list)


@dataclass
class Resolution:
    text: str
    time_spent_minutes: int
    billable_minutes: int
    resolved_by: str
    resolved_at: datetime
    episode: int


@dataclass
class Survey:
    episode: int
    status: SurveyStatus
    send_at: datetime
    sent_at: datetime | None = None
    reminded_at: datetime | None = None
    expires_at: datetime | None = None
    answered_at: datetime | None = None
    rating: int | None = None
    comment: str = ""


@dataclass
class Recipients:
    """Who an email goes to; agent handles, queues and supervisors are resolved by the activity."""

    addresses: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    supervisors: bool = False


@dataclass
class EmailRequest:
    """One outgoing email; `key` is its business key, so it is sent once however often retried."""

    key: str
    case_number: str
    template: str
    to: Recipients
    subject: str
    context: dict[str, str] = field(default_factory=dict)
    auto_submitted: str = "auto-generated"  # "no" for an agent's own reply
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    link_purposes: list[str] = field(
        default_factory=list
    )  # signed links to build: survey, resolution
    link_episode: int = 0
    # At most this many emails of its template to its address in 24 h (None: no limit), decided
    # when it is sent: of emails to one address at the same moment, only so many go out.
    daily_limit: int | None = None


@dataclass
class EmailOutcome:
    """What came of an email: sent (now or before), or `withheld` because its address had
    `sent` emails of its kind in 24 h, its `daily_limit` being `limit`."""

    withheld: bool = False
    sent: int = 0
    limit: int = 0


@dataclass
class TimelineEvent:
    kind: str
    at: datetime
    actor: str
    summary: str
    body: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class EntitlementChange:
    key: str
    entitlement_id: int
    case_number: str
    delta: int  # -1 consumes one case, +1 gives it back
    channel: str = ""  # the case's channel, for per-channel counts


@dataclass
class FollowUpRequest:
    """A customer wrote to a closed case: open a new case linked to it."""

    origin_key: str
    follow_up_of: str
    email: InboundEmail


@dataclass
class AttachmentNote:
    """A file that came with an email, as its timeline event shows it (the bytes stay stored)."""

    filename: str
    size: int
    content_type: str = ""
    stored: bool = True  # False: over a size limit, listed but not kept


# An email's text travels in workflow payloads (signals, state, activity inputs) as its first
# characters only; the whole text stays with the stored message (`inbound_messages.text`) and
# the timeline shows it from there. 200 long emails would otherwise be megabytes of history.
EXCERPT = 2_000


def excerpt(text: str) -> tuple[str, int]:
    """The start of `text` that travels, and the whole length when it was cut (else 0)."""
    if len(text) <= EXCERPT:
        return text, 0
    return text[:EXCERPT], len(text)


@dataclass
class InboundEmail:
    """An email the intake has stored and threaded to a case (the `email_received` signal)."""

    key: str
    sender: str
    subject: str
    received_at: datetime
    text: str = ""  # at most EXCERPT characters; `text_length` > 0 when there was more
    sender_name: str = ""
    message_id: str = ""
    references: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    mail_class: MailClass = MailClass.HUMAN
    raw_sha256: str = ""
    verified: bool = True
    # For a bounce: the addresses that could not be reached, and whether for good.
    failed_recipients: list[str] = field(default_factory=list)
    permanent_failure: bool = True
    # The files that came with it, as the timeline shows them (at most 20), and how many more.
    attachments: list[AttachmentNote] = field(default_factory=list)
    attachments_omitted: int = 0
    text_length: int = 0
    # Why it is no person's to acknowledge (the intake's detectors' findings; who promoted it
    # from noise), empty for a person's: shown on the timeline, and no acknowledgement goes.
    reason: str = ""


@dataclass
class NewCase:
    """How a case begins: from an email, or from an agent through the API."""

    channel: Channel
    subject: str
    description: str
    customer_email: str
    customer_name: str = ""
    priority: int | None = None
    product: str | None = None
    follow_up_of: str | None = None
    email: InboundEmail | None = None
    created_by: str = "customer"
    # The support address it came to, and that mailbox's default queue (a routing rule wins).
    mailbox: str = ""
    queue: str = ""
    # The customer's account by name: the customer itself when there is no address, else the
    # account the contact belongs to (or joins, when new).
    account: str = ""


# The update ids of agent actions begin so (`client.action_update_id`); a case remembers the
# latest few it carried out, so that a retry reaching a later run (after continue-as-new, where
# Temporal no longer knows the id) answers as the first attempt did instead of acting twice.
ACTION_UPDATE_PREFIX = "action:"
REMEMBERED_ACTIONS = 100


@dataclass
class ActedOn:
    """An agent action this case carried out, by its update id, and what it answered."""

    update_id: str
    activity_id: int | None = None  # add_activity: the activity it added


@dataclass
class CaseState:
    number: str
    subject: str
    description: str
    channel: Channel
    customer: Customer
    priority: int
    created_at: datetime
    status: CaseStatus = CaseStatus.NEW
    stage: Stage = Stage.IDENTIFY
    queue: str = ""
    routed_by: str = ""
    owner: str | None = None
    product: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    entitlement: Entitlement | None = None
    policy: SlaPolicy = field(default_factory=lambda: SlaPolicy(name="none"))
    # The policies as they were when the case was created: a priority change chooses again
    # among these (pinned: later edits reach a running case only through a migration).
    policies: list[SlaPolicy] = field(default_factory=list)
    default_policy: str = ""
    timings: CaseTimings = field(default_factory=CaseTimings)
    kpis: list[KpiClock] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    thread: list[str] = field(default_factory=list)  # Message-IDs of the conversation
    seen_keys: list[str] = field(default_factory=list)
    seq: int = 0
    episode: int = 0
    responded: bool = False
    resolution: Resolution | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    survey: Survey | None = None
    follow_up_of: str | None = None
    follow_ups: list[str] = field(default_factory=list)
    # Effects decided but not yet carried out, in order; carried across continue-as-new.
    pending_records: list[CaseRecord] = field(default_factory=list)
    pending_emails: list[EmailRequest] = field(default_factory=list)
    pending_follow_ups: list[FollowUpRequest] = field(default_factory=list)
    recorded_seq: int = 0
    finished: bool = False
    mailbox: str = ""
    # The loop breaker: when inbound emails arrived in the last hour, and whether it tripped.
    recent_inbound: list[datetime] = field(default_factory=list)
    # Replies tagged for this case by someone not taking part: an agent confirms or splits them.
    unverified: list[InboundEmail] = field(default_factory=list)
    loop_suspected: bool = False
    # Activities (calls, tasks, notes, appointments, resolutions); emails are in the timeline.
    activities: list[CaseActivity] = field(default_factory=list)
    stage_fields: dict[str, list[str]] | None = None
    # Related cases: a parent (major) case and its children; merged duplicates and survivor.
    parent: str | None = None
    parent_open: bool = False
    child_requires_parent: bool = False
    children: list[str] = field(default_factory=list)
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    pending_child_notices: list[ParentNotice] = field(default_factory=list)
    rules_version: int = 0
    # Pinned from the context; a case from before it was pinned reopens as it always did.
    resolved_reply: ResolvedReply = ResolvedReply.REOPEN
    # What the read model last got of each clock, activity and the description (a digest by
    # key), so each record sends only what changed (`views.changes`), not every clock again.
    recorded: dict[str, str] = field(default_factory=dict)
    # The latest agent actions carried out (at most REMEMBERED_ACTIONS), oldest first.
    acted: list[ActedOn] = field(default_factory=list)


@dataclass
class CaseSnapshot:
    """The read-model row of a case: what `record_case` writes to the database. The clocks and
    activities are those that changed since the last record, the description None when it
    did not (the read model keeps what it has)."""

    number: str
    subject: str
    description: str | None
    channel: Channel
    status: CaseStatus
    stage: Stage
    priority: int
    queue: str
    routed_by: str
    owner: str | None
    customer: Customer
    product: str | None
    fields: dict[str, str]
    entitlement_id: int | None
    sla_policy: str
    sla_status: str
    sla_due_at: datetime | None
    follow_up_of: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: Resolution | None
    survey: Survey | None
    kpis: list[KpiClock]
    participants: list[str]
    mailbox: str = ""
    activities: list[CaseActivity] = field(default_factory=list)
    parent: str | None = None
    merged_into: str | None = None


@dataclass
class CaseRecord:
    """Input of the `record_case` activity: the snapshot after event `seq` and what happened."""

    seq: int
    snapshot: CaseSnapshot
    events: list[TimelineEvent]
    actor: str
    action: str
    entitlement_changes: list[EntitlementChange] = field(default_factory=list)


@dataclass
class CaseInput:
    number: str
    new: NewCase | None = None
    state: CaseState | None = None  # set when continuing as new


@dataclass
class CaseResult:
    number: str
    status: CaseStatus
    survey_rating: int | None


@dataclass
class SurveyInput:
    """The final state of a closed case whose survey runs in a workflow of its own."""

    state: CaseState


# ---------------------------------------------------------------------------------------------
# Updates (agent actions and the customer's links)

MAX_TEXT = 100_000  # the longest comment, message, resolution or description a case keeps
MAX_REASON = 1000
MAX_FIELD_NAME = 64  # a stage field's name and value, and how many one request may set
MAX_FIELD_VALUE = 1000
MAX_FIELDS = 50


@dataclass(frozen=True)
class Given:
    """How an agent gives one field of an action's request, in an HTTP body and as a CLI
    option alike (`caseflow.surfaces` derives both): its bounds (of a dict's values, with
    `key_length` and `max_items`), its name there when not the field's, what it names (`agent`,
    `queue`, `product`: one that must exist; of a dict of stage fields, the value of that key),
    and a word of help. A field without one (the actor, what a route fills in) is not the
    agent's to give."""

    max_length: int | None = None
    min_length: int | None = None
    ge: int | None = None
    le: int | None = None
    key_length: int | None = None
    max_items: int | None = None
    called: str = ""
    names: str = ""
    help: str = ""


def given(default: Any = MISSING, *, factory: Any = MISSING, **how: Any) -> Any:
    """A request field an agent gives, with how (`Given`); without a default it is required."""
    metadata = {"given": Given(**how)}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def given_fields() -> Any:
    """The stage fields an action may set (`advance`, `resolve`), the product among them."""
    return given(
        factory=dict,
        max_length=MAX_FIELD_VALUE,
        key_length=MAX_FIELD_NAME,
        max_items=MAX_FIELDS,
        names="product",
        help="stage fields, e.g. product, category, diagnosis",
    )


@dataclass
class ActionRequest:
    """pick, resume, reopen, cancel and other actions that carry only a comment."""

    actor: Actor
    comment: str = given("", max_length=MAX_TEXT)


@dataclass
class AssignRequest:
    actor: Actor
    owner: str = given(called="agent", min_length=1, max_length=100, names="agent")
    comment: str = given("", max_length=MAX_TEXT)


@dataclass
class MessageRequest:
    """reply (public, emailed to the customer) and note (internal). A reply that sends a
    knowledge article names it: the body is then the article's text."""

    actor: Actor
    body: str = given(min_length=1, max_length=MAX_TEXT)
    article_id: int | None = None
    article_title: str = ""
    article_version: int = 0


@dataclass
class WaitRequest:
    """wait (on the customer) or hold (on a third party); an optional public message with it."""

    actor: Actor
    reason: str = given("", max_length=MAX_REASON)
    body: str = given("", max_length=MAX_TEXT, help="optional message to the customer")


@dataclass
class EmailDecision:
    """confirm (an unverified reply is the customer's) or split (it becomes a new case)."""

    actor: Actor
    key: str = given(
        called="email", min_length=1, max_length=300, help="the email's key in the timeline"
    )
    comment: str = given("", max_length=MAX_TEXT)


@dataclass
class AdvanceRequest:
    actor: Actor
    fields: dict[str, str] = given_fields()


@dataclass
class ResolveRequest:
    """resolve; `fields` sets stage fields still missing (as `advance` would) on the way."""

    actor: Actor
    resolution: str = given(min_length=1, max_length=MAX_TEXT)
    time_spent_minutes: int = given(0, ge=0, le=1_000_000)
    billable_minutes: int = given(0, ge=0, le=1_000_000)
    fields: dict[str, str] = given_fields()


@dataclass
class EscalateRequest:
    actor: Actor
    reason: str = given("", max_length=MAX_REASON)
    priority: int | None = given(None, ge=1, le=4, help="1 critical … 4 low")
    queue: str | None = given(None, max_length=100, names="queue")


@dataclass
class ResolutionResponse:
    """The customer accepts or rejects a proposed resolution through the signed link."""

    episode: int
    accept: bool
    comment: str = ""


@dataclass
class SurveyAnswer:
    episode: int
    rating: int
    comment: str = ""


@dataclass
class KpiView:
    kpi: KpiName
    status: KpiStatus
    warn_at: datetime | None
    fail_at: datetime | None
    elapsed_seconds: int
    met_by_seconds: int | None
    missed_by_seconds: int | None


@dataclass
class CaseView:
    """What an update answers: the case as it is after the action."""

    number: str
    subject: str
    status: CaseStatus
    stage: Stage
    priority: int
    queue: str
    owner: str | None
    channel: Channel
    customer_email: str
    product: str | None
    sla_status: str
    sla_due_at: datetime | None
    kpis: list[KpiView]
    episode: int
    survey_status: SurveyStatus | None
    follow_up_of: str | None
    updated_at: datetime | None


# ---------------------------------------------------------------------------------------------
# Activities, by name: workflows do not import the activities package.


class ActivityName:
    LOAD_CASE_CONTEXT = "load_case_context"
    RECORD_CASE = "record_case"
    SEND_EMAIL = "send_email"
    OPEN_FOLLOW_UP = "open_follow_up"
    ADOPT_CHILD = "adopt_child"
    NOTIFY_CHILDREN = "notify_children"
    MERGE_CASE = "merge_case"


@dataclass
class CalendarChange:
    """A calendar was edited: running cases counting in it re-time their clocks."""

    calendar: CalendarSpec
    changed_by: str = "admin"


@dataclass
class PolicyMigration:
    """An edited SLA policy, moved onto a running case by an explicit, audited migration."""

    policy: SlaPolicy
    migrated_by: str = "admin"


@dataclass
class ContextRequest:
    customer_email: str
    customer_name: str = ""
    channel: Channel = Channel.EMAIL
    account: str = ""


@dataclass
class FollowUpResult:
    number: str


# ---------------------------------------------------------------------------------------------
# Activities on a case, and related cases (parent / child, merge)


# What each stage requires before `advance` where an organisation has not configured it.
DEFAULT_STAGE_FIELDS: dict[str, list[str]] = {
    "identify": ["product", "category"],
    "research": ["diagnosis"],
    "resolve": [],
}


class ActivityKind(StrEnum):
    PHONE_CALL = "phone_call"
    TASK = "task"
    NOTE = "note"
    APPOINTMENT = "appointment"
    EMAIL = "email"  # derived from the timeline: every email in and out, closed
    RESOLUTION = "resolution"  # recorded by `resolve`


class ActivityStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass
class CaseActivity:
    """An interaction tracked on a case; the resolution activity also carries the times."""

    id: int
    kind: ActivityKind
    subject: str
    created_by: str
    created_at: datetime
    description: str = ""
    owner: str | None = None
    due_at: datetime | None = None
    status: ActivityStatus = ActivityStatus.OPEN
    closed_by: str | None = None
    closed_at: datetime | None = None
    resolution: str = ""
    time_spent_minutes: int = 0
    billable_minutes: int = 0


@dataclass
class ActivityRequest:
    """add_activity: a call, task, note or appointment; `completed` records one already done."""

    actor: Actor
    kind: str
    subject: str
    description: str = ""
    owner: str | None = None
    due_at: datetime | None = None
    completed: bool = False


@dataclass
class ActivityDecision:
    """complete_activity and cancel_activity."""

    actor: Actor
    activity_id: int
    comment: str = ""


@dataclass
class ActivityAdded:
    activity_id: int
    case: CaseView


@dataclass
class ParentRequest:
    """link_parent: this case becomes a child of `parent`."""

    actor: Actor
    parent: str
    comment: str = ""


@dataclass
class ChildRequest:
    """add_child: what the parent is told (and may refuse) when a case links to it."""

    actor: Actor
    parent: str
    child: str
    customer_email: str = ""


@dataclass
class ParentNotice:
    """The parent was resolved (children resolve with its resolution), reopened (children
    waiting for it wait again) or ended otherwise."""

    key: str
    parent: str
    children: list[str]
    resolved: bool
    resolution: str = ""
    time_spent_minutes: int = 0
    resolved_by: str = ""
    reopened: bool = False


@dataclass
class ChildrenNotified:
    notified: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


@dataclass
class MergeRequest:
    """merge: this case is a duplicate of `into`, which survives."""

    actor: Actor
    into: str
    comment: str = ""


@dataclass
class CopiedMessage:
    """A customer message of a merged duplicate, shown on the survivor's timeline."""

    key: str
    at: datetime
    actor: str
    summary: str
    body: str
    message_id: str = ""


@dataclass
class MergeTransfer:
    """What the survivor takes from a duplicate: its people and its customer's messages."""

    actor: Actor
    survivor: str
    duplicate: str
    subject: str
    participants: list[str] = field(default_factory=list)
    messages: list[CopiedMessage] = field(default_factory=list)
    messages_omitted: int = 0
