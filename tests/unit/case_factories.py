"""Builders for lifecycle unit tests: contexts, new cases, actors and cases brought to a state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    ActionRequest,
    ActivityDecision,
    ActivityKind,
    ActivityRequest,
    Actor,
    AdvanceRequest,
    AssignRequest,
    CaseActivity,
    CaseContext,
    CaseState,
    CaseStatus,
    CaseTimings,
    Channel,
    Customer,
    EmailDecision,
    Entitlement,
    EscalateRequest,
    InboundEmail,
    KpiName,
    KpiTarget,
    MailClass,
    MergeRequest,
    MessageRequest,
    NewCase,
    ParentRequest,
    ResolutionResponse,
    ResolveRequest,
    Role,
    RoutingRule,
    SlaPolicy,
    WaitRequest,
)

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday morning
STEP = timedelta(minutes=5)
NUMBER = "CAS-000123"
OTHER = "CAS-000999"  # another case: a parent, a survivor
QUEUE = "standard"
CUSTOMER_EMAIL = "ada@example.com"
FIRST_RESPONSE_WARN = timedelta(hours=1)
FIRST_RESPONSE_FAIL = timedelta(hours=2)
RESOLUTION_WARN = timedelta(hours=6)
RESOLUTION_FAIL = timedelta(hours=8)
# The fields every stage before `resolve` requires (the built-in STAGE_FIELDS of a case from
# these factories), as a resolve that completes them passes them.
STAGES_DONE = {"category": "hardware", "diagnosis": "worn fuser"}


# ---------------------------------------------------------------------------------------------
# Configuration and origins


def sla_policy(name: str = "standard") -> SlaPolicy:
    return SlaPolicy(
        name=name,
        targets=[
            KpiTarget(KpiName.FIRST_RESPONSE, FIRST_RESPONSE_WARN, FIRST_RESPONSE_FAIL),
            KpiTarget(KpiName.RESOLUTION, RESOLUTION_WARN, RESOLUTION_FAIL),
        ],
    )


def case_context(
    *,
    entitlement: Entitlement | None = None,
    rules: list[RoutingRule] | None = None,
    timings: CaseTimings | None = None,
    customer: Customer | None = None,
    rules_version: int = lifecycle.RULES_VERSION,
) -> CaseContext:
    return CaseContext(
        customer=customer or Customer(email=CUSTOMER_EMAIL, name="Ada Lovelace", contact_id=7),
        entitlement=entitlement,
        rules=rules or [],
        policies=[sla_policy()],
        default_policy="standard",
        default_queue=QUEUE,
        timings=timings or CaseTimings(),
        rules_version=rules_version,
    )


def inbound_email(
    key: str = "mail-1",
    *,
    at: datetime = T0,
    subject: str = "Printer on fire",
    text: str = "It is on fire again.",
    sender: str = CUSTOMER_EMAIL,
    mail_class: MailClass = MailClass.HUMAN,
) -> InboundEmail:
    return InboundEmail(
        key=key,
        sender=sender,
        subject=subject,
        received_at=at,
        text=text,
        sender_name="Ada Lovelace",
        message_id=f"<{key}@example.com>",
        mail_class=mail_class,
    )


def new_email_case(
    *,
    subject: str = "Printer on fire",
    mail_class: MailClass = MailClass.HUMAN,
    priority: int | None = None,
) -> NewCase:
    email = inbound_email(subject=subject, mail_class=mail_class)
    return NewCase(
        channel=Channel.EMAIL,
        subject=subject,
        description=email.text,
        customer_email=CUSTOMER_EMAIL,
        customer_name="Ada Lovelace",
        priority=priority,
        email=email,
    )


# ---------------------------------------------------------------------------------------------
# People


def agent(handle: str = "alice", *queues: str) -> Actor:
    return Actor(handle=handle, role=Role.AGENT, queues=list(queues or (QUEUE,)))


def supervisor(handle: str = "sam") -> Actor:
    return Actor(handle=handle, role=Role.SUPERVISOR, queues=[QUEUE])


def admin(handle: str = "root") -> Actor:
    return Actor(handle=handle, role=Role.ADMIN)


# ---------------------------------------------------------------------------------------------
# Requests and cases


def valid_request(action: str, actor: Actor) -> Any:
    """A request for `action` that passes the action's own input checks."""
    builders: dict[str, Any] = {
        "pick": lambda: ActionRequest(actor),
        "assign": lambda: AssignRequest(actor, owner="carol"),
        "reply": lambda: MessageRequest(actor, "Have you tried turning it off?"),
        "note": lambda: MessageRequest(actor, "Customer sounds worried."),
        "wait": lambda: WaitRequest(actor, reason="model number"),
        "hold": lambda: WaitRequest(actor, reason="vendor"),
        "resume": lambda: ActionRequest(actor),
        "advance": lambda: AdvanceRequest(actor, {"category": "hardware"}),
        "resolve": lambda: ResolveRequest(actor, "Replaced the fuser.", 30, 20, STAGES_DONE),
        "reopen": lambda: ActionRequest(actor),
        "cancel": lambda: ActionRequest(actor),
        "escalate": lambda: EscalateRequest(actor, reason="VIP"),
        "confirm": lambda: EmailDecision(actor, "mail-stranger"),
        "split": lambda: EmailDecision(actor, "mail-stranger"),
        "add_activity": lambda: ActivityRequest(actor, "task", "Call the vendor", owner="alice"),
        "complete_activity": lambda: ActivityDecision(actor, 1),
        "cancel_activity": lambda: ActivityDecision(actor, 1),
        "link_parent": lambda: ParentRequest(actor, OTHER),
        "merge": lambda: MergeRequest(actor, OTHER),
    }
    return builders[action]()


def new_case(
    new: NewCase | None = None, context: CaseContext | None = None, now: datetime = T0
) -> CaseState:
    """A committed new case, as the workflow holds it right after creation."""
    state, effects = lifecycle.create(
        NUMBER, new or new_email_case(), context or case_context(), now
    )
    lifecycle.commit(state, effects, "customer", "create", now)
    return state


def act(state: CaseState, action: str, request: Any, now: datetime) -> lifecycle.Effects:
    """Perform an agent action and commit it, as the workflow's update handler does."""
    effects = lifecycle.perform(state, action, request, now)
    lifecycle.commit(state, effects, request.actor.handle, action, now)
    return effects


def case_in(status: CaseStatus, context: CaseContext | None = None) -> tuple[CaseState, datetime]:
    """A case brought to `status` by the actions an agent would perform; also the time it is."""
    state = new_case(context=context)
    now = T0
    worker = agent()
    steps: dict[CaseStatus, list[str]] = {
        CaseStatus.NEW: [],
        CaseStatus.OPEN: ["pick"],
        CaseStatus.AWAITING_CUSTOMER: ["pick", "wait"],
        CaseStatus.ON_HOLD: ["pick", "hold"],
        CaseStatus.RESOLVED: ["pick", "reply", "resolve"],
        CaseStatus.CLOSED: ["pick", "reply", "resolve"],
        CaseStatus.CANCELLED: ["cancel"],
        CaseStatus.MERGED: ["pick", "merge"],
    }
    for action in steps[status]:
        now += STEP
        act(state, action, valid_request(action, worker), now)
    if status is CaseStatus.CLOSED:
        now += STEP
        effects = lifecycle.respond_to_resolution(
            state, ResolutionResponse(state.episode, True), now
        )
        lifecycle.commit(state, effects, "customer", "respond_to_resolution", now)
    assert state.status is status
    return state, now


def open_task(activity_id: int, at: datetime, owner: str = "alice") -> CaseActivity:
    """An open task on a case, as `add_activity` leaves it."""
    return CaseActivity(
        id=activity_id,
        kind=ActivityKind.TASK,
        subject="Call the vendor",
        created_by=owner,
        created_at=at,
        owner=owner,
    )
