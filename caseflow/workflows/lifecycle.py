"""The case lifecycle as pure functions: who may do what in which state, and what follows.

Each function takes the case state, a request and the current time, refuses with `Refusal` before
changing anything, or changes the state and returns the `Effects` the workflow must carry out:
timeline events to record, emails to send, entitlement changes, follow-up cases to open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caseflow.workflows import routing, sla, visibility
from caseflow.workflows.model import (
    NOTIFY_OWNER,
    NOTIFY_QUEUE,
    NOTIFY_SUPERVISORS,
    ActionRequest,
    ActivityDecision,
    ActivityKind,
    ActivityRequest,
    ActivityStatus,
    Actor,
    AdvanceRequest,
    AssignRequest,
    CalendarChange,
    CaseActivity,
    CaseContext,
    CaseRecord,
    CaseState,
    CaseStatus,
    ChildrenNotified,
    ChildRequest,
    EmailDecision,
    EmailRequest,
    EntitlementChange,
    EscalateRequest,
    FollowUpRequest,
    InboundEmail,
    KpiClock,
    KpiName,
    KpiStatus,
    KpiTarget,
    MailClass,
    MergeRequest,
    MergeTransfer,
    MessageRequest,
    NewCase,
    ParentNotice,
    ParentRequest,
    PolicyMigration,
    Priority,
    Recipients,
    Resolution,
    ResolutionResponse,
    ResolveRequest,
    Role,
    RoutingRule,
    SlaActions,
    SlaPolicy,
    Stage,
    Survey,
    SurveyAnswer,
    SurveyStatus,
    TimelineEvent,
    WaitRequest,
)
from caseflow.workflows.views import snapshot

ACTIVE = frozenset(
    {CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD}
)
WORKING = frozenset({CaseStatus.OPEN, CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD})
PAUSED_BY_WAITING = frozenset({CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD})
FINAL = frozenset({CaseStatus.CLOSED, CaseStatus.CANCELLED, CaseStatus.MERGED})
STAGE_ORDER = (Stage.IDENTIFY, Stage.RESEARCH, Stage.RESOLVE)
STAGE_FIELDS: dict[Stage, tuple[str, ...]] = {
    Stage.IDENTIFY: ("category",),
    Stage.RESEARCH: ("diagnosis",),
    Stage.RESOLVE: (),
}
PRODUCT_FIELD = "product"  # a stage may require the case's product, which advance can set
ESCALATIONS_QUEUE = "escalations"
MAX_TEXT = 100_000
MAX_COPIED = 20  # copied addresses taken from one email, at most
UNVERIFIED_KEPT = 20  # unverified replies kept for an agent's decision, newest last
MAX_FIELD_NAME = 64
MAX_FIELD_VALUE = 1000
# The lifecycle rules a new case is created under (pinned in its state, see CaseContext). Rules
# that change what an event does are gated by the version, so running cases, created under an
# older one, replay their histories exactly. Version 1: resolving needs the fields of every
# stage before `resolve` (and moves the case to that stage); the customer's emails of a case
# without an address go to the account's primary contact, or are skipped with a timeline
# entry (an agent's reply is refused), never failed.
RULES_VERSION = 1


class Refusal(Exception):
    """An action the case refuses; `code` is machine-readable, `detail` says why to a person."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class Effects:
    events: list[TimelineEvent] = field(default_factory=list)
    emails: list[EmailRequest] = field(default_factory=list)
    entitlement_changes: list[EntitlementChange] = field(default_factory=list)
    follow_ups: list[FollowUpRequest] = field(default_factory=list)
    child_notices: list[ParentNotice] = field(default_factory=list)

    def event(
        self, kind: str, at: datetime, actor: str, summary: str, body: str = "", **data: str
    ) -> None:
        self.events.append(TimelineEvent(kind, at, actor, summary, body, dict(data)))


# ---------------------------------------------------------------------------------------------
# Creation and commit


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
        kpis=[
            sla.start_clock(t, policy.calendar, now)
            for t in policy.targets
            if t.kpi is not KpiName.NEXT_RESPONSE  # starts with the customer's next message
        ],
        follow_up_of=new.follow_up_of,
        updated_at=now,
        mailbox=new.mailbox,
        stage_fields=context.stage_fields,
        child_requires_parent=context.child_requires_parent,
        rules_version=context.rules_version,
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
        exhausted_entitlement=_exhausted_name(context),
        follow_up_of=new.follow_up_of or "",
    )
    if matched is not None and matched.agent:
        _assign_by_rule(state, matched, now, effects)
    if new.email is not None:
        _take_in_email(state, new.email, now, effects)
        _count_inbound(state, now, effects)
    _acknowledge(state, new, context, now, effects)
    return state, effects


def _assign_by_rule(state: CaseState, rule: RoutingRule, now: datetime, effects: Effects) -> None:
    """The rule names the agent who takes every case it routes: owned and open from the start."""
    assert rule.agent is not None
    state.owner = rule.agent
    _enter(state, CaseStatus.OPEN, now, "assigned by routing rule")
    effects.event(
        "assigned", now, "system", f"Assigned to {rule.agent} by rule {rule.name}",
        rule=rule.name, previous_owner="",
    )  # fmt: skip


def commit(state: CaseState, effects: Effects, actor: str, action: str, now: datetime) -> int:
    """Queue the effects for the workflow to carry out, in order; returns the event number."""
    if state.loop_suspected:
        _hold_automatic_customer_mail(effects, now)
    state.seq += 1
    state.updated_at = now
    state.pending_records.append(
        CaseRecord(
            seq=state.seq,
            snapshot=snapshot(state),
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


# ---------------------------------------------------------------------------------------------
# Agent actions


@dataclass(frozen=True)
class Action:
    states: frozenset[CaseStatus]
    apply: Callable[[CaseState, Any, datetime], Effects]
    check: Callable[[CaseState, Any], None] | None = None
    supervisors_only: bool = False


def validate(state: CaseState, name: str, request: Any) -> None:
    """Refuse what the current state or the actor's role does not allow; changes nothing."""
    action = ACTIONS.get(name)
    if action is None:
        raise Refusal("unknown_action", f"there is no action {name!r}")
    if state.status not in action.states:
        allowed = ", ".join(sorted(action.states))
        raise Refusal(
            "invalid_state", f"cannot {name} a case that is {state.status} (allowed: {allowed})"
        )
    _authorize(state, name, request.actor, action.supervisors_only)
    if action.check is not None:
        action.check(state, request)


def perform(state: CaseState, name: str, request: Any, now: datetime) -> Effects:
    validate(state, name, request)
    return ACTIONS[name].apply(state, request, now)


def carry_out_accepted(state: CaseState, name: str, request: Any, now: datetime) -> Effects:
    """A link or a merge the other case has already taken (`adopt_child`, `absorb`): carried out
    as it was judged before the other case was asked. Timers and signals may have changed this
    case meanwhile (an escalation out of the agent's queues, a resolution with its parent);
    judging it again could refuse what the other case has committed, leaving it half-linked or
    half-merged."""
    return ACTIONS[name].apply(state, request, now)


def _authorize(state: CaseState, name: str, actor: Actor, supervisors_only: bool) -> None:
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return
    if actor.role is not Role.AGENT:
        raise Refusal("forbidden", "only agents act on cases")
    if supervisors_only:
        raise Refusal("forbidden", f"only supervisors and admins may {name} cases")
    if visibility.sees(actor, state.queue, state.owner):  # what an agent sees they may act on
        return
    raise Refusal("forbidden", f"{actor.handle} is not a member of queue {state.queue}")


def _check_pick(state: CaseState, request: ActionRequest) -> None:
    if state.owner is not None:
        raise Refusal("already_owned", f"{state.number} is already owned by {state.owner}")


def _pick(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    state.owner = request.actor.handle
    if state.status is CaseStatus.NEW:
        _enter(state, CaseStatus.OPEN, now, "picked")
    effects = Effects()
    effects.event("picked", now, request.actor.handle, f"Picked by {state.owner}")
    return effects


def _check_assign(state: CaseState, request: AssignRequest) -> None:
    if not request.owner:
        raise Refusal("invalid_input", "owner is required")
    if request.owner == state.owner:
        raise Refusal("no_change", f"{state.number} is already owned by {state.owner}")


def _assign(state: CaseState, request: AssignRequest, now: datetime) -> Effects:
    previous = state.owner
    state.owner = request.owner
    if state.status is CaseStatus.NEW:
        _enter(state, CaseStatus.OPEN, now, "assigned")
    effects = Effects()
    effects.event(
        "assigned",
        now,
        request.actor.handle,
        f"Assigned to {request.owner}",
        request.comment,
        previous_owner=previous or "",
    )
    return effects


def _check_message(state: CaseState, request: MessageRequest) -> None:
    _check_text("body", request.body)


def _check_reply(state: CaseState, request: MessageRequest) -> None:
    _check_message(state, request)
    _check_someone_to_email(state)


def _check_someone_to_email(state: CaseState) -> None:
    """An agent's public message needs someone to read it (automatic emails are skipped)."""
    if state.rules_version >= 1 and not customer_address(state):
        raise Refusal("no_recipient", f"{state.number} has nobody to email: {_nobody(state)}")


def _reply(state: CaseState, request: MessageRequest, now: datetime) -> Effects:
    effects = Effects()
    _send_reply(state, request.actor.handle, request.body, now, effects, _article_sent(request))
    return effects


def _article_sent(request: MessageRequest) -> dict[str, str]:
    """What the timeline keeps of a knowledge article sent in a reply (its use is counted)."""
    if request.article_id is None:
        return {}
    return {
        "article_id": str(request.article_id),
        "article_title": request.article_title,
        "article_version": str(request.article_version),
    }


def _note(state: CaseState, request: MessageRequest, now: datetime) -> Effects:
    effects = Effects()
    effects.event("note", now, request.actor.handle, "Internal note", request.body)
    return effects


def _check_wait(state: CaseState, request: WaitRequest) -> None:
    if request.body:
        _check_text("body", request.body)
        _check_someone_to_email(state)


def _wait(state: CaseState, request: WaitRequest, now: datetime) -> Effects:
    return _suspend(state, request, now, CaseStatus.AWAITING_CUSTOMER, "Waiting on the customer")


def _hold(state: CaseState, request: WaitRequest, now: datetime) -> Effects:
    return _suspend(state, request, now, CaseStatus.ON_HOLD, "On hold")


def _suspend(
    state: CaseState, request: WaitRequest, now: datetime, status: CaseStatus, summary: str
) -> Effects:
    effects = Effects()
    if request.body:
        _send_reply(state, request.actor.handle, request.body, now, effects)
    _enter(state, status, now, request.reason or str(status))
    effects.event(str(status), now, request.actor.handle, summary, request.reason)
    return effects


def _resume(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    _enter(state, CaseStatus.OPEN, now, "resumed")
    effects = Effects()
    effects.event("resumed", now, request.actor.handle, "Work resumed", request.comment)
    return effects


def _check_advance(state: CaseState, request: AdvanceRequest) -> None:
    if state.stage is STAGE_ORDER[-1]:
        raise Refusal("last_stage", f"{state.number} is already in its last stage")
    _check_field_sizes(request.fields)
    required = required_fields(state)
    missing = [name for name in required if not _field(state, request.fields, name)]
    if missing:
        raise Refusal(
            "missing_fields", f"stage {state.stage} needs {', '.join(missing)} before advancing"
        )


def _check_field_sizes(fields: dict[str, str]) -> None:
    # Unchanged since cases first advanced: running cases replay their recorded advances.
    for name, value in fields.items():
        if len(name) > MAX_FIELD_NAME or len(value) > MAX_FIELD_VALUE:
            raise Refusal("invalid_input", f"field {name[:MAX_FIELD_NAME]!r} is too long")


def _set_fields(state: CaseState, fields: dict[str, str]) -> None:
    state.product = fields.get(PRODUCT_FIELD) or state.product
    state.fields.update({k: v for k, v in fields.items() if v and k != PRODUCT_FIELD})


def _advance(state: CaseState, request: AdvanceRequest, now: datetime) -> Effects:
    _set_fields(state, request.fields)
    previous = state.stage
    state.stage = STAGE_ORDER[STAGE_ORDER.index(previous) + 1]
    effects = Effects()
    effects.event(
        "advanced",
        now,
        request.actor.handle,
        f"Stage {previous} → {state.stage}",
        **{f"field.{k}": v for k, v in request.fields.items()},
    )
    return effects


def _check_resolve(state: CaseState, request: ResolveRequest) -> None:
    _check_text("resolution", request.resolution)
    if request.time_spent_minutes < 0 or request.billable_minutes < 0:
        raise Refusal("invalid_input", "time spent and billable time cannot be negative")
    if request.billable_minutes > request.time_spent_minutes:
        raise Refusal("invalid_input", "billable time cannot exceed the time spent")
    _check_field_sizes(request.fields)
    _check_nothing_open(state)
    _check_parent_resolved(state)
    _check_stages_done(state, request.fields)


def missing_before_resolve(
    state: CaseState, fields: dict[str, str]
) -> list[tuple[Stage, list[str]]]:
    """Each stage before `resolve` with the required fields that neither the case nor `fields`
    sets: what resolving still needs."""
    missing: list[tuple[Stage, list[str]]] = []
    for stage in STAGE_ORDER[: STAGE_ORDER.index(Stage.RESOLVE)]:
        names = [n for n in stage_requirements(state, stage) if not _field(state, fields, n)]
        if names:
            missing.append((stage, names))
    return missing


def _check_stages_done(state: CaseState, fields: dict[str, str]) -> None:
    if state.rules_version < 1:
        return
    missing = missing_before_resolve(state, fields)
    if missing:
        needs = "; ".join(f"stage {stage} needs {', '.join(names)}" for stage, names in missing)
        raise Refusal(
            "missing_fields",
            f"{state.number} cannot be resolved yet: {needs} "
            "(set them with advance, or in the fields of resolve)",
        )


def _resolve(state: CaseState, request: ResolveRequest, now: datetime) -> Effects:
    effects = Effects()
    _set_fields(state, request.fields)
    if state.rules_version >= 1 and not missing_before_resolve(state, {}):
        state.stage = Stage.RESOLVE  # every earlier stage's fields are set: the process is done
    state.episode += 1
    state.resolution = Resolution(
        text=request.resolution,
        time_spent_minutes=request.time_spent_minutes,
        billable_minutes=request.billable_minutes,
        resolved_by=request.actor.handle,
        resolved_at=now,
        episode=state.episode,
    )
    state.resolved_at = now
    state.status = CaseStatus.RESOLVED
    _respond(state, now)
    _stop_clock(state, KpiName.RESOLUTION, now, KpiStatus.SUCCEEDED, "resolved")
    _record_resolution_activity(state, request, now)
    _tell_children(state, effects, resolved=True)
    if state.entitlement is not None:
        effects.entitlement_changes.append(_entitlement_change(state, "use", -1))
    effects.event(
        "resolved",
        now,
        request.actor.handle,
        f"Resolved (episode {state.episode}), {request.time_spent_minutes} min spent",
        request.resolution,
        time_spent_minutes=str(request.time_spent_minutes),
        billable_minutes=str(request.billable_minutes),
        **{f"field.{k}": v for k, v in request.fields.items()},
    )
    _email_customer(
        state,
        effects,
        now,
        "resolution",
        key=f"{state.number}:resolution:{state.episode}",
        template="resolution",
        subject=f"Proposed resolution: {state.subject}",
        context={"resolution": request.resolution, "agent": request.actor.handle},
        link_purposes=["resolution"],
    )
    return effects


def _reopen(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    effects = Effects()
    _reopen_case(state, now, effects, request.actor.handle, request.comment or "reopened")
    return effects


def _cancel(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    effects = Effects()
    _give_back_entitlement(state, effects)
    state.status = CaseStatus.CANCELLED
    state.closed_at = now
    for clock in state.kpis:
        sla.stop(clock, state.policy.calendar, now, KpiStatus.CANCELLED, "case cancelled")
    state.finished = True
    effects.event("cancelled", now, request.actor.handle, "Case cancelled", request.comment)
    _cancel_open_activities(state, request.actor.handle, now, "case cancelled", effects)
    _tell_children(state, effects, resolved=False)
    return effects


def _check_escalate(state: CaseState, request: EscalateRequest) -> None:
    if request.priority is not None and request.priority not in Priority.ALL:
        raise Refusal("invalid_input", f"priority must be one of {Priority.ALL}")
    if request.priority is not None and request.priority > state.priority:
        raise Refusal("invalid_input", "an escalation cannot lower the priority")
    priority, queue = _escalation_target(state, request)
    if priority == state.priority and queue == state.queue:
        raise Refusal("no_change", f"{state.number} is already at priority {priority} in {queue}")


def _escalate(state: CaseState, request: EscalateRequest, now: datetime) -> Effects:
    priority, queue = _escalation_target(state, request)
    previous = (state.priority, state.queue)
    state.priority, state.queue = priority, queue
    effects = Effects()
    effects.event(
        "escalated",
        now,
        request.actor.handle,
        f"Escalated to priority {priority} in queue {queue}",
        request.reason,
        previous_priority=str(previous[0]),
        previous_queue=previous[1],
    )
    if priority != previous[0]:
        _choose_policy_again(state, now, effects)
    if queue != previous[1]:
        effects.emails.append(
            _to_agents(
                state,
                key=f"{state.number}:escalated:{state.seq + 1}",
                template="escalated",
                to=Recipients(queues=[queue]),
                subject=f"Escalated to {queue}: {state.subject}",
                context={"reason": request.reason, "actor": request.actor.handle},
            )
        )
    return effects


def _escalation_target(state: CaseState, request: EscalateRequest) -> tuple[int, str]:
    """Raise the priority and/or move the queue; with neither given, one step up and to
    the escalations queue."""
    if request.priority is None and request.queue is None:
        return max(Priority.CRITICAL, state.priority - 1), ESCALATIONS_QUEUE
    priority = request.priority if request.priority is not None else state.priority
    return priority, request.queue or state.queue


ACTIONS: dict[str, Action] = {
    "pick": Action(ACTIVE, _pick, _check_pick),
    "assign": Action(ACTIVE, _assign, _check_assign, supervisors_only=True),
    "reply": Action(WORKING, _reply, _check_reply),
    "note": Action(ACTIVE | {CaseStatus.RESOLVED, CaseStatus.CLOSED}, _note, _check_message),
    "wait": Action(frozenset({CaseStatus.OPEN}), _wait, _check_wait),
    "hold": Action(frozenset({CaseStatus.OPEN}), _hold, _check_wait),
    "resume": Action(PAUSED_BY_WAITING, _resume),
    "advance": Action(WORKING, _advance, _check_advance),
    "resolve": Action(WORKING, _resolve, _check_resolve),
    "reopen": Action(frozenset({CaseStatus.RESOLVED}), _reopen),
    "cancel": Action(ACTIVE, _cancel),
    "escalate": Action(ACTIVE, _escalate, _check_escalate),
}


# ---------------------------------------------------------------------------------------------
# The customer: email, resolution links, survey


def receive_email(state: CaseState, email: InboundEmail, now: datetime) -> Effects | None:
    """An email threaded to this case; None when it was already seen (a redelivery)."""
    if email.key in state.seen_keys:
        return None
    effects = Effects()
    if email.mail_class is MailClass.BOUNCE:
        _take_in_bounce(state, email, now, effects)
        _count_inbound(state, now, effects)
        return effects
    _take_in_email(state, email, now, effects)
    _count_inbound(state, now, effects)
    if email.mail_class is not MailClass.HUMAN:
        return effects
    if not email.verified and state.status not in FINAL:
        # A stranger's reply moves nothing until an agent confirms or splits it.
        state.unverified = [*state.unverified, email][-UNVERIFIED_KEPT:]
        return effects
    _customer_replied(state, email, now, effects)
    return effects


def _customer_replied(
    state: CaseState, email: InboundEmail, now: datetime, effects: Effects
) -> None:
    """What a customer's reply does: resumes a waiting case, reopens a resolved one, and on a
    final case asks for a follow-up case."""
    if state.status is CaseStatus.AWAITING_CUSTOMER:
        _enter(state, CaseStatus.OPEN, now, "customer replied")
        effects.event("resumed", now, "customer", "The customer replied; work resumed")
        _await_next_response(state, now)
    elif state.status in WORKING:
        _await_next_response(state, now)
    elif state.status is CaseStatus.RESOLVED:
        _reopen_case(state, now, effects, "customer", "the customer replied to the resolution")
        _await_next_response(state, now)
    elif state.status in FINAL:
        effects.follow_ups.append(_follow_up(state, email))
        effects.event("follow_up_requested", now, "customer", "Reply to a closed case")


def _follow_up(state: CaseState, email: InboundEmail) -> FollowUpRequest:
    return FollowUpRequest(origin_key=f"email:{email.key}", follow_up_of=state.number, email=email)


def follow_up_for(state: CaseState, email: InboundEmail) -> FollowUpRequest | None:
    """What a closed case whose workflow is ending does with an email: a customer's (or an
    unverified person's) reply opens a follow-up case; machines' mail opens nothing."""
    if email.mail_class is not MailClass.HUMAN:
        return None
    return _follow_up(state, email)


def _check_unverified(state: CaseState, request: EmailDecision) -> None:
    if not any(e.key == request.key for e in state.unverified):
        raise Refusal("unknown_email", f"no unverified email {request.key!r} waits on this case")


def _take_unverified(state: CaseState, key: str) -> InboundEmail:
    email = next(e for e in state.unverified if e.key == key)
    state.unverified = [e for e in state.unverified if e.key != key]
    return email


def _confirm(state: CaseState, request: EmailDecision, now: datetime) -> Effects:
    """The agent vouches for the sender: the email counts as the customer's reply."""
    email = _take_unverified(state, request.key)
    sender = email.sender.lower()
    if sender and sender not in state.participants:
        state.participants.append(sender)
    effects = Effects()
    effects.event(
        "email_confirmed",
        now,
        request.actor.handle,
        f"Email from {sender} confirmed as a reply on this case",
        request.comment,
        key=email.key,
    )
    _customer_replied(state, email, now, effects)
    return effects


def _split(state: CaseState, request: EmailDecision, now: datetime) -> Effects:
    """The email is another matter: it becomes a new case, linked to this one."""
    email = _take_unverified(state, request.key)
    effects = Effects()
    effects.follow_ups.append(
        FollowUpRequest(origin_key=f"split:{email.key}", follow_up_of=state.number, email=email)
    )
    effects.event(
        "email_split",
        now,
        request.actor.handle,
        f"Email from {email.sender.lower()} split into a new case",
        request.comment,
        key=email.key,
    )
    return effects


ACTIONS["confirm"] = Action(ACTIVE | {CaseStatus.RESOLVED}, _confirm, _check_unverified)
ACTIONS["split"] = Action(ACTIVE | {CaseStatus.RESOLVED}, _split, _check_unverified)


def respond_to_resolution(state: CaseState, response: ResolutionResponse, now: datetime) -> Effects:
    check_resolution_response(state, response)
    effects = Effects()
    if response.accept:
        effects.event("accepted", now, "customer", "The customer accepted the resolution")
        _close(state, now, effects, "customer", "accepted by the customer")
    else:
        _reopen_case(
            state,
            now,
            effects,
            "customer",
            f"the customer rejected the resolution: {response.comment}".rstrip(": "),
        )
    return effects


def check_resolution_response(state: CaseState, response: ResolutionResponse) -> None:
    if response.episode != state.episode or state.status is not CaseStatus.RESOLVED:
        raise Refusal("link_used", "this resolution has already been answered or replaced")
    if len(response.comment) > MAX_TEXT:
        raise Refusal("invalid_input", "comment is too long")


def answer_survey(state: CaseState, answer: SurveyAnswer, now: datetime) -> Effects:
    check_survey_answer(state, answer)
    assert state.survey is not None
    state.survey.status = SurveyStatus.ANSWERED
    state.survey.answered_at = now
    state.survey.rating = answer.rating
    state.survey.comment = answer.comment
    state.finished = True
    effects = Effects()
    effects.event(
        "survey_answered",
        now,
        "customer",
        f"Survey answered: {answer.rating}/5",
        answer.comment,
        rating=str(answer.rating),
    )
    return effects


def check_survey_answer(state: CaseState, answer: SurveyAnswer) -> None:
    survey = state.survey
    if survey is None or survey.episode != answer.episode:
        raise Refusal("link_used", "this survey link is no longer valid")
    if survey.status is SurveyStatus.ANSWERED:
        raise Refusal("link_used", "this survey has already been answered")
    if survey.status is SurveyStatus.EXPIRED:
        raise Refusal("survey_expired", "this survey has expired")
    if survey.status is SurveyStatus.SCHEDULED:
        raise Refusal("link_used", "this survey is not open yet")
    if answer.rating not in range(1, 6):
        raise Refusal("invalid_input", "rating must be between 1 and 5")
    if len(answer.comment) > MAX_TEXT:
        raise Refusal("invalid_input", "comment is too long")


def email_failed(state: CaseState, email: EmailRequest, reason: str, now: datetime) -> Effects:
    """An email the mail server refused for good; the case goes on and says so."""
    effects = Effects()
    effects.event(
        "email_failed",
        now,
        "system",
        f"Email {email.template} could not be sent",
        reason[:2000],
        key=email.key,
    )
    return effects


def follow_up_opened(
    state: CaseState, request: FollowUpRequest, number: str, now: datetime
) -> Effects:
    state.follow_ups.append(number)
    effects = Effects()
    effects.event(
        "follow_up_opened", now, "system", f"Follow-up case {number} opened", number=number
    )
    return effects


# ---------------------------------------------------------------------------------------------
# Timers: SLA warnings and failures, auto-close, survey


def next_wakeup(state: CaseState) -> datetime | None:
    """The earliest instant at which a timer of this case falls due; None when nothing waits."""
    instants = [due for clock in state.kpis if (due := sla.next_due(clock)) is not None]
    if state.status is CaseStatus.RESOLVED and state.resolved_at is not None:
        instants.append(state.resolved_at + state.timings.auto_close_after)
    if (survey_due := _survey_due(state)) is not None:
        instants.append(survey_due)
    return min(instants) if instants else None


def fire_timers(state: CaseState, now: datetime) -> list[tuple[str, Effects]]:
    """Carry out every timer that has fallen due, each as its own recorded transition."""
    fired: list[tuple[str, Effects]] = []
    for clock in state.kpis:
        effects = _fire_clock(state, clock, now)
        if effects is not None:
            fired.append(("sla", effects))
    if (effects := _fire_auto_close(state, now)) is not None:
        fired.append(("auto_close", effects))
    if (effects := _fire_survey(state, now)) is not None:
        fired.append(("survey", effects))
    return fired


def _fire_clock(state: CaseState, clock: KpiClock, now: datetime) -> Effects | None:
    due = {sla.WARNING: clock.warn_at, sla.FAILURE: clock.fail_at}
    fired = sla.fire_due(clock, state.policy.calendar, now)
    if not fired:
        return None
    effects = Effects()
    for what in fired:
        due_at = due[what]
        assert due_at is not None
        late = _lateness(state, due_at, now)
        effects.event(
            f"sla_{what}",
            now,
            "system",
            f"SLA {what}: {clock.kpi} (instance {clock.instance})"
            + (f", late by {late}" if late else ""),
            kpi=str(clock.kpi),
            due_at=due_at.isoformat(),
            late_by=late,
        )
        effects.emails.append(_sla_email(state, clock, what, due_at, late))
        actions = state.policy.on_warning if what == sla.WARNING else state.policy.on_failure
        _sla_escalation(state, clock, what, actions, now, effects)
    return effects


def _sla_recipients(state: CaseState, actions: SlaActions) -> Recipients:
    """Whom a warning or failure emails: the owner (the queue while there is none), the
    queue's members, the supervisors, as the policy says."""
    to = Recipients(supervisors=NOTIFY_SUPERVISORS in actions.notify)
    if NOTIFY_OWNER in actions.notify:
        if state.owner:
            to.agents.append(state.owner)
        else:
            to.queues.append(state.queue)
    if NOTIFY_QUEUE in actions.notify and state.queue not in to.queues:
        to.queues.append(state.queue)
    return to


def _sla_escalation(
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
        _choose_policy_again(state, now, effects)


def _choose_policy_again(state: CaseState, now: datetime, effects: Effects) -> None:
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


def _sla_email(
    state: CaseState, clock: KpiClock, what: str, due_at: datetime, late: str
) -> EmailRequest:
    actions = state.policy.on_warning if what == sla.WARNING else state.policy.on_failure
    to = _sla_recipients(state, actions)
    fail_at = clock.fail_at or due_at
    return _to_agents(
        state,
        key=f"{state.number}:sla-{what}:{clock.kpi}:{clock.instance}",
        template=f"sla_{what}",
        to=to,
        subject=f"SLA {what}: {clock.kpi.replace('_', ' ')} on {state.subject}",
        context={
            "kpi": str(clock.kpi),
            "due_at": due_at.isoformat(timespec="seconds"),
            "fail_at": fail_at.isoformat(timespec="seconds"),
            "late_by": late,
            "owner": state.owner or "",
        },
    )


def _fire_auto_close(state: CaseState, now: datetime) -> Effects | None:
    if state.status is not CaseStatus.RESOLVED or state.resolved_at is None:
        return None
    due = state.resolved_at + state.timings.auto_close_after
    if due > now + sla.DUE_TOLERANCE:
        return None
    effects = Effects()
    late = _lateness(state, due, now)
    effects.event(
        "auto_closed",
        now,
        "system",
        "Closed automatically: no answer to the resolution",
        late_by=late,
    )
    _close(state, now, effects, "system", "auto-closed")
    return effects


def survey_to_hand_off(state: CaseState) -> bool:
    """The case is closed with its survey still to send: from here the survey runs on its own
    (SurveyWorkflow), and the case's own workflow ends, so a running case is an open one."""
    survey = state.survey
    return (
        state.status is CaseStatus.CLOSED
        and survey is not None
        and survey.status is SurveyStatus.SCHEDULED
        and not state.finished
    )


def _survey_due(state: CaseState) -> datetime | None:
    survey = state.survey
    if survey is None:
        return None
    timings = state.timings
    if survey.status is SurveyStatus.SCHEDULED:
        return survey.send_at
    if survey.status in (SurveyStatus.SENT, SurveyStatus.REMINDED):
        assert survey.sent_at is not None and survey.expires_at is not None
        remind_at = survey.sent_at + timings.survey_reminder_after
        if survey.status is SurveyStatus.SENT and remind_at < survey.expires_at:
            return remind_at
        return survey.expires_at
    return None


def _fire_survey(state: CaseState, now: datetime) -> Effects | None:
    survey = state.survey
    due = _survey_due(state)
    if survey is None or due is None or due > now + sla.DUE_TOLERANCE:
        return None
    effects = Effects()
    late = _lateness(state, due, now)
    if survey.status is SurveyStatus.SCHEDULED:
        survey.status = SurveyStatus.SENT
        survey.sent_at = now
        survey.expires_at = now + state.timings.survey_expires_after
        effects.event("survey_sent", now, "system", "Satisfaction survey sent", late_by=late)
        _survey_email(state, survey, effects, now, "survey", "How did we do?")
    elif survey.status is SurveyStatus.SENT and due != survey.expires_at:
        survey.status = SurveyStatus.REMINDED
        survey.reminded_at = now
        effects.event("survey_reminded", now, "system", "Survey reminder sent", late_by=late)
        _survey_email(state, survey, effects, now, "survey_reminder", "A minute for our survey?")
    else:
        survey.status = SurveyStatus.EXPIRED
        state.finished = True
        effects.event("survey_expired", now, "system", "Survey expired unanswered", late_by=late)
    return effects


def _survey_email(
    state: CaseState, survey: Survey, effects: Effects, now: datetime, template: str, subject: str
) -> None:
    _email_customer(
        state,
        effects,
        now,
        template.replace("_", " "),
        key=f"{state.number}:{template.replace('_', '-')}:{survey.episode}",
        template=template,
        subject=subject,
        context={},
        link_purposes=["survey"],
        episode=survey.episode,
    )


# ---------------------------------------------------------------------------------------------
# Shared steps


def _enter(state: CaseState, status: CaseStatus, now: datetime, reason: str) -> None:
    """Change status, pausing or resuming the SLA clocks as the policy says."""
    previous, state.status = state.status, status
    pausing = set(state.policy.pause_states)
    calendar = state.policy.calendar
    if status in pausing and previous not in pausing:
        for clock in state.kpis:
            sla.pause(clock, calendar, now, reason)
    elif previous in pausing and status not in pausing:
        for clock in state.kpis:
            sla.resume(clock, calendar, now, reason)


def _reopen_case(
    state: CaseState, now: datetime, effects: Effects, actor: str, reason: str
) -> None:
    _give_back_entitlement(state, effects)
    state.status = CaseStatus.OPEN
    state.resolved_at = None
    clock = sla.find(state.kpis, KpiName.RESOLUTION)
    if clock is not None:
        sla.reactivate(clock, state.policy.calendar, now, reason)
    effects.event("reopened", now, actor, "Case reopened", reason)
    _tell_children(state, effects, resolved=False, reopened=True)


def _close(state: CaseState, now: datetime, effects: Effects, actor: str, how: str) -> None:
    state.status = CaseStatus.CLOSED
    state.closed_at = now
    effects.event("closed", now, actor, f"Case closed ({how})")
    if state.rules_version >= 1:  # a closed case is final: nothing is left open on it
        _cancel_open_activities(state, actor, now, "case closed", effects)
    if state.rules_version >= 1 and not customer_address(state):
        effects.event(
            "email_skipped", now, "system", f"No satisfaction survey: {_nobody(state)}",
            what="survey",
        )  # fmt: skip
        state.finished = True
        return
    state.survey = Survey(
        episode=state.episode,
        status=SurveyStatus.SCHEDULED,
        send_at=now + state.timings.survey_delay,
    )


def _take_in_email(state: CaseState, email: InboundEmail, now: datetime, effects: Effects) -> None:
    state.seen_keys.append(email.key)
    if email.message_id and email.message_id not in state.thread:
        state.thread.append(email.message_id)
    sender = email.sender.lower()
    ours = email.mail_class is MailClass.OWN_LOOP  # our own address takes no part
    if email.verified and sender and not ours and sender not in state.participants:
        state.participants.append(sender)
    if email.verified and email.mail_class is MailClass.HUMAN:
        _add_copied(state, email.cc)
    effects.event(
        "email_in",
        now,
        "customer" if email.mail_class is MailClass.HUMAN else str(email.mail_class),
        f"Email from {email.sender_name or email.sender}: {email.subject}"[:300],
        email.text[:MAX_TEXT],
        message_id=email.message_id,
        mail_class=str(email.mail_class),
        raw_sha256=email.raw_sha256,
        key=email.key,
        verified=str(email.verified).lower(),
        attachments="; ".join(
            f"{a.filename} ({a.size} bytes{'' if a.stored else ', not kept'})"
            for a in email.attachments
        ),
    )


def _add_copied(state: CaseState, copied: list[str]) -> None:
    """People the customer copied take part in the case (their tagged replies thread), but
    not our own addresses (the domain of the case's mailbox)."""
    our_domain = state.mailbox.rpartition("@")[2].lower()
    for address in (a.lower() for a in copied[:MAX_COPIED]):
        domain = address.rpartition("@")[2]
        if domain and domain != our_domain and address not in state.participants:
            state.participants.append(address)


def _send_reply(
    state: CaseState,
    agent: str,
    body: str,
    now: datetime,
    effects: Effects,
    article: dict[str, str] | None = None,
) -> None:
    _respond(state, now)
    summary = "Public reply to the customer"
    if article:
        summary = f"Knowledge article sent to the customer: {article['article_title']}"
    effects.event("replied", now, agent, summary, body, **(article or {}))
    _email_customer(
        state,
        effects,
        now,
        "reply",
        key=f"{state.number}:reply:{state.seq + 1}",
        template="reply",
        subject=f"Re: {state.subject}",
        context={"body": body, "agent": agent},
        auto_submitted="no",
    )


def _respond(state: CaseState, now: datetime) -> None:
    """A public response meets the next-response clock; the first one, first response too."""
    clock = sla.find(state.kpis, KpiName.NEXT_RESPONSE)
    if clock is not None and sla.is_active(clock):
        sla.stop(clock, state.policy.calendar, now, KpiStatus.SUCCEEDED, "response sent")
    if state.responded:
        return
    state.responded = True
    _stop_clock(state, KpiName.FIRST_RESPONSE, now, KpiStatus.SUCCEEDED, "first response sent")


def _await_next_response(state: CaseState, now: datetime) -> None:
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


def _stop_clock(
    state: CaseState, kpi: KpiName, now: datetime, outcome: KpiStatus, reason: str
) -> None:
    clock = sla.find(state.kpis, kpi)
    if clock is not None:
        sla.stop(clock, state.policy.calendar, now, outcome, reason)


def _acknowledge_now(
    state: CaseState, email: InboundEmail | None, now: datetime, effects: Effects
) -> None:
    _email_customer(
        state,
        effects,
        now,
        "acknowledgement",
        key=f"{state.number}:ack",
        template="ack",
        subject=f"We received your request: {state.subject}",
        context={
            "description": state.description[:2000],
            "follow_up_of": state.follow_up_of or "",
            "queue": state.queue,
        },
        auto_submitted="auto-replied" if email is not None else "auto-generated",
    )


def _acknowledge(
    state: CaseState, new: NewCase, context: CaseContext, now: datetime, effects: Effects
) -> None:
    """One acknowledgement per case, to people only, and at most N per sender per 24 h."""
    if not new.customer_email and state.rules_version < 1:
        return
    if new.email is not None and new.email.mail_class is not MailClass.HUMAN:
        return
    sent, limit = context.acks_sent_today, context.ack_limit_per_day
    if sent >= limit:
        effects.event(
            "ack_suppressed",
            now,
            "system",
            f"No acknowledgement: {sent} already sent to this address in 24 h (limit {limit})",
            sent=str(sent),
            limit=str(limit),
        )
        return
    _acknowledge_now(state, new.email, now, effects)


# Customer emails that people write or wait for; the loop breaker holds every other one.
_NEVER_HELD = frozenset({"reply", "resolution"})
LOOP_WINDOW = timedelta(hours=1)


def _count_inbound(state: CaseState, now: datetime, effects: Effects) -> None:
    """The loop breaker: more inbound emails in an hour than the case allows trips it, once."""
    state.recent_inbound = [t for t in state.recent_inbound if t > now - LOOP_WINDOW]
    state.recent_inbound.append(now)
    limit = state.timings.loop_breaker_per_hour
    if state.loop_suspected or len(state.recent_inbound) <= limit:
        return
    state.loop_suspected = True
    effects.event(
        "loop_suspected",
        now,
        "system",
        f"Mail loop suspected: more than {limit} emails in an hour; "
        "automatic emails to the customer stop",
        count=str(len(state.recent_inbound)),
        limit=str(limit),
    )


def _hold_automatic_customer_mail(effects: Effects, now: datetime) -> None:
    kept = []
    for email in effects.emails:
        if email.to.addresses and email.template not in _NEVER_HELD:
            effects.event(
                "email_held",
                now,
                "system",
                f"Automatic email {email.template} not sent: mail loop suspected",
                key=email.key,
                template=email.template,
            )
        else:
            kept.append(email)
    effects.emails = kept


def _take_in_bounce(state: CaseState, email: InboundEmail, now: datetime, effects: Effects) -> None:
    """A mail server could not deliver one of our emails: say so, and change nothing else."""
    state.seen_keys.append(email.key)
    failed = ", ".join(email.failed_recipients) or "an unknown address"
    how = "for good" if email.permanent_failure else "for now"
    effects.event(
        "email_bounced",
        now,
        "system",
        f"Email to {failed} could not be delivered ({how})"[:300],
        email.text[:MAX_TEXT],
        failed=", ".join(email.failed_recipients),
        permanent=str(email.permanent_failure).lower(),
        message_id=email.message_id,
        mail_class=str(email.mail_class),
        raw_sha256=email.raw_sha256,
        key=email.key,
    )


def customer_recipient(state: CaseState) -> tuple[str, str]:
    """Whom the customer's emails go to, address and name: the contact, or (an account alone)
    the account's primary contact when the case was created; an empty address: nobody."""
    customer = state.customer
    if customer.email or state.rules_version < 1:
        return customer.email, customer.name
    return customer.primary_contact_email, customer.primary_contact_name or customer.name


def customer_address(state: CaseState) -> str:
    return customer_recipient(state)[0]


def _nobody(state: CaseState) -> str:
    account = state.customer.account_name
    if account:
        return f"its customer is the account {account}, which has no primary contact"
    return "it has no customer address"


def _email_customer(
    state: CaseState, effects: Effects, now: datetime, what: str, **email: Any
) -> None:
    """Queue an email to the customer, or say on the timeline why nobody gets it."""
    if state.rules_version >= 1 and not customer_address(state):
        effects.event(
            "email_skipped", now, "system", f"No {what} email: {_nobody(state)}",
            what=what, key=email["key"],
        )  # fmt: skip
        return
    effects.emails.append(_to_customer(state, **email))


def _to_customer(
    state: CaseState,
    *,
    key: str,
    template: str,
    subject: str,
    context: dict[str, str],
    auto_submitted: str = "auto-generated",
    link_purposes: list[str] | None = None,
    episode: int | None = None,
) -> EmailRequest:
    address, name = customer_recipient(state)
    return EmailRequest(
        key=key,
        case_number=state.number,
        template=template,
        to=Recipients(addresses=[address]),
        subject=subject,
        context={"customer_name": name, "case_subject": state.subject, **context},
        auto_submitted=auto_submitted,
        in_reply_to=state.thread[-1] if state.thread else "",
        references=state.thread[-10:],
        link_purposes=link_purposes or [],
        link_episode=state.episode if episode is None else episode,
    )


def _to_agents(
    state: CaseState,
    *,
    key: str,
    template: str,
    to: Recipients,
    subject: str,
    context: dict[str, str],
) -> EmailRequest:
    return EmailRequest(
        key=key,
        case_number=state.number,
        template=template,
        to=to,
        subject=subject,
        context={
            "case_subject": state.subject,
            "queue": state.queue,
            "priority": str(state.priority),
            "status": str(state.status),
            **context,
        },
    )


def _entitlement_change(state: CaseState, what: str, delta: int) -> EntitlementChange:
    assert state.entitlement is not None
    return EntitlementChange(
        key=f"{state.number}:entitlement:{what}:{state.episode}",
        entitlement_id=state.entitlement.id,
        case_number=state.number,
        delta=delta,
        channel=str(state.channel),
    )


def holds_entitlement_use(state: CaseState) -> bool:
    """Whether the case has consumed one case of its entitlement: resolving consumes it,
    leaving `resolved` other than by closing gives it back, so it is held exactly while the
    case is resolved (and for good once closed)."""
    return state.entitlement is not None and state.status is CaseStatus.RESOLVED


def _give_back_entitlement(state: CaseState, effects: Effects) -> None:
    """Reopening or cancelling a resolved case restores its use, under the episode's key
    (one give-back per use, however the case leaves `resolved`); otherwise nothing."""
    if holds_entitlement_use(state):
        effects.entitlement_changes.append(_entitlement_change(state, "restore", +1))


def _exhausted_name(context: CaseContext) -> str:
    entitlement = context.entitlement
    if entitlement is not None and routing.usable_entitlement(entitlement) is None:
        return entitlement.name
    return ""


def _lateness(state: CaseState, due: datetime, now: datetime) -> str:
    late = now - due
    return humanize(late) if late >= state.timings.late_threshold else ""


def _field(state: CaseState, fields: dict[str, str], name: str) -> str:
    if name == PRODUCT_FIELD:
        return fields.get(name) or state.product or ""
    return fields.get(name) or state.fields.get(name, "")


def _check_text(name: str, value: str) -> None:
    if not value.strip():
        raise Refusal("invalid_input", f"{name} must not be empty")
    if len(value) > MAX_TEXT:
        raise Refusal("invalid_input", f"{name} is longer than {MAX_TEXT} characters")


def humanize(duration: timedelta) -> str:
    """`2 days 3 h 4 min` for people reading emails; seconds only below a minute."""
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Activities: calls, tasks, notes, appointments, and the resolution activity

ADDABLE_KINDS = frozenset(
    {ActivityKind.PHONE_CALL, ActivityKind.TASK, ActivityKind.NOTE, ActivityKind.APPOINTMENT}
)
DONE_WHEN_WRITTEN = frozenset({ActivityKind.NOTE})  # a note records; it waits on nobody
MAX_SUBJECT = 300
MAX_HANDLE = 100
WITH_ACTIVITIES = ACTIVE | {CaseStatus.RESOLVED}


def required_fields(state: CaseState) -> tuple[str, ...]:
    """The fields the current stage needs before `advance`."""
    return stage_requirements(state, state.stage)


def stage_requirements(state: CaseState, stage: Stage) -> tuple[str, ...]:
    """The fields a stage needs before the case leaves it: pinned when the case was created;
    cases from before the pinning keep the built-in STAGE_FIELDS."""
    if state.stage_fields is None:
        return STAGE_FIELDS[stage]
    return tuple(state.stage_fields.get(str(stage), ()))


def _check_add_activity(state: CaseState, request: ActivityRequest) -> None:
    if request.kind not in ADDABLE_KINDS:
        kinds = ", ".join(sorted(ADDABLE_KINDS))
        raise Refusal(
            "invalid_input",
            f"kind must be one of {kinds} (emails come from the timeline, "
            "and resolve records the resolution)",
        )
    if not request.subject.strip() or len(request.subject) > MAX_SUBJECT:
        raise Refusal("invalid_input", f"subject must have 1 to {MAX_SUBJECT} characters")
    if len(request.description) > MAX_TEXT:
        raise Refusal("invalid_input", f"description is longer than {MAX_TEXT} characters")
    if request.owner is not None and not 0 < len(request.owner) <= MAX_HANDLE:
        raise Refusal("invalid_input", "owner must be an agent's handle")
    if request.due_at is not None and request.due_at.tzinfo is None:
        raise Refusal("invalid_input", "due_at must carry a time zone")


def _add_activity(state: CaseState, request: ActivityRequest, now: datetime) -> Effects:
    kind = ActivityKind(request.kind)
    activity = CaseActivity(
        id=len(state.activities) + 1,
        kind=kind,
        subject=request.subject.strip(),
        created_by=request.actor.handle,
        created_at=now,
        description=request.description,
        owner=request.owner,
        due_at=request.due_at,
    )
    done = request.completed or kind in DONE_WHEN_WRITTEN
    if done:
        _close_activity(activity, ActivityStatus.COMPLETED, request.actor.handle, now)
    state.activities.append(activity)
    effects = Effects()
    effects.event(
        "activity_added",
        now,
        request.actor.handle,
        f"{_label(activity)} added" + (", done" if done else f", owner {activity.owner or '-'}"),
        request.description,
        activity=str(activity.id),
        activity_kind=str(kind),
        owner=activity.owner or "",
    )
    return effects


def _check_open_activity(state: CaseState, request: ActivityDecision) -> None:
    activity = _find_activity(state, request.activity_id)
    if activity is None:
        raise Refusal("unknown_activity", f"{state.number} has no activity {request.activity_id}")
    if activity.status is not ActivityStatus.OPEN:
        raise Refusal("activity_closed", f"{_label(activity)} is already {activity.status}")
    if len(request.comment) > MAX_TEXT:
        raise Refusal("invalid_input", f"comment is longer than {MAX_TEXT} characters")


def _complete_activity(state: CaseState, request: ActivityDecision, now: datetime) -> Effects:
    return _decide_activity(state, request, now, ActivityStatus.COMPLETED)


def _cancel_activity(state: CaseState, request: ActivityDecision, now: datetime) -> Effects:
    return _decide_activity(state, request, now, ActivityStatus.CANCELLED)


def _decide_activity(
    state: CaseState, request: ActivityDecision, now: datetime, status: ActivityStatus
) -> Effects:
    activity = _find_activity(state, request.activity_id)
    assert activity is not None
    _close_activity(activity, status, request.actor.handle, now)
    effects = Effects()
    effects.event(
        f"activity_{status}",
        now,
        request.actor.handle,
        f"{_label(activity)} {status}",
        request.comment,
        activity=str(activity.id),
        activity_kind=str(activity.kind),
    )
    return effects


def _check_nothing_open(state: CaseState) -> None:
    """A case is resolved only when none of its other activities is open (DESIGN §1)."""
    still_open = _open_activities(state)
    if still_open:
        listed = "; ".join(
            f"#{a.id} {a.kind} “{a.subject}” (owner {a.owner or 'none'})" for a in still_open
        )
        raise Refusal("open_activities", f"complete or cancel the open activities first: {listed}")


def _record_resolution_activity(state: CaseState, request: ResolveRequest, now: datetime) -> None:
    activity = CaseActivity(
        id=len(state.activities) + 1,
        kind=ActivityKind.RESOLUTION,
        subject=f"Resolution (episode {state.episode})",
        created_by=request.actor.handle,
        created_at=now,
        resolution=request.resolution,
        time_spent_minutes=request.time_spent_minutes,
        billable_minutes=request.billable_minutes,
    )
    _close_activity(activity, ActivityStatus.COMPLETED, request.actor.handle, now)
    state.activities.append(activity)


def _cancel_open_activities(
    state: CaseState, actor: str, now: datetime, reason: str, effects: Effects
) -> None:
    for activity in _open_activities(state):
        _close_activity(activity, ActivityStatus.CANCELLED, actor, now)
        effects.event(
            "activity_cancelled",
            now,
            actor,
            f"{_label(activity)} cancelled: {reason}",
            activity=str(activity.id),
            activity_kind=str(activity.kind),
        )


def _close_activity(
    activity: CaseActivity, status: ActivityStatus, actor: str, now: datetime
) -> None:
    activity.status = status
    activity.closed_by = actor
    activity.closed_at = now


def _open_activities(state: CaseState) -> list[CaseActivity]:
    return [a for a in state.activities if a.status is ActivityStatus.OPEN]


def _find_activity(state: CaseState, activity_id: int) -> CaseActivity | None:
    return next((a for a in state.activities if a.id == activity_id), None)


def _label(activity: CaseActivity) -> str:
    return f"{activity.kind.replace('_', ' ').capitalize()} #{activity.id} “{activity.subject}”"


ACTIONS["add_activity"] = Action(WITH_ACTIVITIES, _add_activity, _check_add_activity)
ACTIONS["complete_activity"] = Action(
    WITH_ACTIVITIES | {CaseStatus.CLOSED}, _complete_activity, _check_open_activity
)
ACTIONS["cancel_activity"] = Action(
    WITH_ACTIVITIES | {CaseStatus.CLOSED}, _cancel_activity, _check_open_activity
)


# ---------------------------------------------------------------------------------------------
# Parent and child cases: one level; resolving the parent resolves its open children


def _check_link_parent(state: CaseState, request: ParentRequest) -> None:
    if not request.parent:
        raise Refusal("invalid_input", "parent is required")
    if request.parent == state.number:
        raise Refusal("self_link", f"{state.number} cannot be its own parent")
    if state.parent is not None:
        raise Refusal("already_child", f"{state.number} is already a child of {state.parent}")
    if state.children:
        raise Refusal(
            "has_children",
            f"{state.number} is the parent of {', '.join(state.children)}: "
            "a parent case cannot become a child",
        )


def _link_parent(state: CaseState, request: ParentRequest, now: datetime) -> Effects:
    """Carried out once the parent has accepted the child (`adopt_child` on the parent)."""
    state.parent = request.parent
    state.parent_open = True
    effects = Effects()
    effects.event(
        "parent_linked",
        now,
        request.actor.handle,
        f"Linked as a child of {request.parent}",
        request.comment,
        parent=request.parent,
    )
    return effects


ACTIONS["link_parent"] = Action(ACTIVE, _link_parent, _check_link_parent)


def check_adopt(state: CaseState, request: ChildRequest) -> None:
    """The parent's side of a link: it must be open and not itself a child."""
    if request.child in state.children:
        return  # asked again (a retried activity): already done
    if request.child == state.number:
        raise Refusal("self_link", f"{state.number} cannot be its own parent")
    if state.status not in ACTIVE:
        raise Refusal(
            "parent_ended", f"{state.number} is {state.status}: only an open case can be a parent"
        )
    if state.parent is not None:
        raise Refusal(
            "parent_is_child",
            f"{state.number} is itself a child of {state.parent}: link to {state.parent} instead",
        )


def adopt_child(state: CaseState, request: ChildRequest, now: datetime) -> Effects | None:
    """Record a new child; None when it is already recorded."""
    check_adopt(state, request)
    if request.child in state.children:
        return None
    state.children.append(request.child)
    effects = Effects()
    effects.event(
        "child_linked",
        now,
        request.actor.handle,
        f"{request.child} linked as a child case",
        child=request.child,
        customer=request.customer_email,
    )
    return effects


def _check_parent_resolved(state: CaseState) -> None:
    if state.child_requires_parent and state.parent is not None and state.parent_open:
        raise Refusal(
            "parent_open", f"{state.number} is resolved with its parent {state.parent}, still open"
        )


def _tell_children(
    state: CaseState, effects: Effects, resolved: bool, reopened: bool = False
) -> None:
    """The parent resolved, reopened or ended: its children are told, through an activity."""
    if not state.children:
        return
    resolution = state.resolution if resolved else None
    outcome = "resolved" if resolved else "reopened" if reopened else str(state.status)
    effects.child_notices.append(
        ParentNotice(
            key=f"{state.number}:children:{outcome}:{state.episode}",
            parent=state.number,
            children=list(state.children),
            resolved=resolved,
            resolution=resolution.text if resolution else "",
            resolved_by=resolution.resolved_by if resolution else "",
            reopened=reopened,
        )
    )


def parent_changed(state: CaseState, notice: ParentNotice, now: datetime) -> Effects | None:
    """The parent resolved: an open child without open activities resolves with the parent's
    resolution (its own resolution email goes to its customer). None for a notice seen before
    or from a case that is not its parent."""
    if notice.key in state.seen_keys or notice.parent != state.parent:
        return None
    state.seen_keys.append(notice.key)
    state.parent_open = notice.reopened
    if notice.reopened:
        effects = Effects()
        effects.event(
            "parent_reopened", now, "system", f"Parent {notice.parent} reopened",
            parent=notice.parent,
        )  # fmt: skip
        return effects
    if not notice.resolved:
        effects = Effects()
        effects.event(
            "parent_ended", now, "system", f"Parent {notice.parent} ended unresolved",
            parent=notice.parent,
        )  # fmt: skip
        return effects
    if state.status not in ACTIVE or _open_activities(state):
        why = (
            f"this case is {state.status}"
            if state.status not in ACTIVE
            else f"{len(_open_activities(state))} activities are still open here"
        )
        effects = Effects()
        effects.event(
            "parent_resolved",
            now,
            "system",
            f"Parent {notice.parent} resolved; not resolved with it: {why}",
            notice.resolution,
            parent=notice.parent,
        )
        return effects
    actor = Actor(handle=notice.resolved_by or "system")
    effects = _resolve(state, ResolveRequest(actor, notice.resolution), now)
    effects.events.insert(
        0,
        TimelineEvent(
            "parent_resolved",
            now,
            "system",
            f"Resolved with its parent {notice.parent}",
            data={"parent": notice.parent},
        ),
    )
    return effects


def _told_of(notice: ParentNotice) -> str:
    return "resolution" if notice.resolved else "reopening" if notice.reopened else "end"


def children_notified(
    state: CaseState, notice: ParentNotice, result: ChildrenNotified, now: datetime
) -> Effects:
    effects = Effects()
    told = ", ".join(result.notified) or "none"
    ended = f"; already ended: {', '.join(result.ended)}" if result.ended else ""
    effects.event(
        "children_notified",
        now,
        "system",
        f"Child cases told of the {_told_of(notice)}: {told}{ended}",
        notified=", ".join(result.notified),
        ended=", ".join(result.ended),
    )
    return effects


# ---------------------------------------------------------------------------------------------
# Merge: a duplicate ends as `merged`; the survivor takes its people and messages


def _check_merge(state: CaseState, request: MergeRequest) -> None:
    actor = request.actor
    if actor.role is Role.AGENT and state.owner != actor.handle:
        raise Refusal("forbidden", "only the case's owner or a supervisor may merge it")
    if not request.into:
        raise Refusal("invalid_input", "into (the surviving case) is required")
    if request.into == state.number:
        raise Refusal("self_merge", f"{state.number} cannot be merged into itself")
    if request.into in state.merged_from:
        raise Refusal(
            "merge_cycle", f"{request.into} was merged into {state.number}: it cannot survive it"
        )
    if state.children:
        raise Refusal(
            "has_children", f"{state.number} is the parent of {', '.join(state.children)}"
        )


def _merge(state: CaseState, request: MergeRequest, now: datetime) -> Effects:
    """Carried out once the survivor has taken the duplicate in (`absorb` on the survivor)."""
    state.status = CaseStatus.MERGED
    state.merged_into = request.into
    state.closed_at = now
    for clock in state.kpis:
        sla.stop(
            clock, state.policy.calendar, now, KpiStatus.CANCELLED, f"merged into {request.into}"
        )
    state.finished = True
    effects = Effects()
    effects.event(
        "merged",
        now,
        request.actor.handle,
        f"Merged into {request.into}",
        request.comment,
        into=request.into,
    )
    _cancel_open_activities(
        state, request.actor.handle, now, f"merged into {request.into}", effects
    )
    return effects


ACTIONS["merge"] = Action(ACTIVE, _merge, _check_merge)


def check_absorb(state: CaseState, transfer: MergeTransfer) -> None:
    """The survivor's side of a merge: it must still be open (or resolved)."""
    if transfer.duplicate in state.merged_from:
        return  # asked again (a retried activity): already done
    if transfer.duplicate == state.number:
        raise Refusal("self_merge", f"{state.number} cannot be merged into itself")
    if state.status not in WITH_ACTIVITIES:
        raise Refusal(
            "survivor_ended", f"{state.number} is {state.status}: merge into an open case"
        )


def absorb(state: CaseState, transfer: MergeTransfer, now: datetime) -> Effects | None:
    """Take a duplicate in: its people join, its customer's messages show on the timeline.
    None when it was taken in before."""
    check_absorb(state, transfer)
    if transfer.duplicate in state.merged_from:
        return None
    state.merged_from.append(transfer.duplicate)
    for address in (p.lower() for p in transfer.participants):
        if address not in state.participants:
            state.participants.append(address)
    effects = Effects()
    effects.event(
        "merged_in",
        now,
        transfer.actor.handle,
        f"{transfer.duplicate} merged into this case: {transfer.subject}"[:300],
        duplicate=transfer.duplicate,
        messages=str(len(transfer.messages)),
        messages_omitted=str(transfer.messages_omitted),
    )
    for message in transfer.messages:
        effects.event(
            "email_in",
            message.at,
            message.actor,
            message.summary,
            message.body,
            key=message.key,
            message_id=message.message_id,
            merged_from=transfer.duplicate,
        )
    return effects
