"""Agent actions: who may do what in which state, each action's check and what it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caseflow.workflows import kpis, visibility
from caseflow.workflows.lifecycle.activities import cancel_open_activities
from caseflow.workflows.lifecycle.base import (
    ACTIONS,
    ACTIVE,
    ESCALATIONS_QUEUE,
    PAUSED_BY_WAITING,
    STAGE_ORDER,
    WORKING,
    Action,
    Effects,
    Refusal,
    check_field_sizes,
    check_text,
    field_value,
    required_fields,
    set_fields,
)
from caseflow.workflows.lifecycle.clocks import respond
from caseflow.workflows.lifecycle.entitlements import give_back_entitlement
from caseflow.workflows.lifecycle.outbound import (
    customer_address,
    email_customer,
    nobody,
    to_agents,
)
from caseflow.workflows.lifecycle.policy import choose_policy_again
from caseflow.workflows.lifecycle.resolution import check_resolve, resolve
from caseflow.workflows.lifecycle.transitions import enter, reopen_case, tell_children, transition
from caseflow.workflows.model import (
    ActionRequest,
    Actor,
    AdvanceRequest,
    AssignRequest,
    CaseState,
    CaseStatus,
    EscalateRequest,
    MessageRequest,
    Priority,
    Recipients,
    ResolveRequest,
    Role,
    WaitRequest,
)

STALE = "stale_version"


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


def check_seen(state: CaseState, actor: Actor) -> None:
    """Refuse an action from a page that showed an older version of the case than the case
    now is (`actor.saw`), so that two agents acting on the same view cannot both change it."""
    if actor.saw is not None and actor.saw < state.seq:
        raise Refusal(
            STALE,
            f"this case changed since you opened it (you saw version {actor.saw}; it is at "
            f"{state.seq}). Nothing was done; reload the case to see it, then act again",
        )


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
        enter(state, CaseStatus.OPEN, now, "picked")
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
        enter(state, CaseStatus.OPEN, now, "assigned")
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
    check_text("body", request.body)


def _check_reply(state: CaseState, request: MessageRequest) -> None:
    _check_message(state, request)
    _check_someone_to_email(state)


def _check_someone_to_email(state: CaseState) -> None:
    """An agent's public message needs someone to read it (automatic emails are skipped)."""
    if state.rules_version >= 1 and not customer_address(state):
        raise Refusal("no_recipient", f"{state.number} has nobody to email: {nobody(state)}")


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
        check_text("body", request.body)
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
    enter(state, status, now, request.reason or str(status))
    effects.event(str(status), now, request.actor.handle, summary, request.reason)
    return effects


def _resume(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    enter(state, CaseStatus.OPEN, now, "resumed")
    effects = Effects()
    effects.event("resumed", now, request.actor.handle, "Work resumed", request.comment)
    return effects


def _check_advance(state: CaseState, request: AdvanceRequest) -> None:
    if state.stage is STAGE_ORDER[-1]:
        raise Refusal("last_stage", f"{state.number} is already in its last stage")
    check_field_sizes(request.fields)
    required = required_fields(state)
    missing = [name for name in required if not field_value(state, request.fields, name)]
    if missing:
        raise Refusal(
            "missing_fields", f"stage {state.stage} needs {', '.join(missing)} before advancing"
        )


def _advance(state: CaseState, request: AdvanceRequest, now: datetime) -> Effects:
    set_fields(state, request.fields)
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


def _reopen(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    effects = Effects()
    reopen_case(state, now, effects, request.actor.handle, request.comment or "reopened")
    return effects


def _cancel(state: CaseState, request: ActionRequest, now: datetime) -> Effects:
    effects = Effects()
    give_back_entitlement(state, effects)
    transition(state, CaseStatus.CANCELLED, now, "cancelled")
    state.closed_at = now
    kpis.ended(state.kpis, state.policy, now, "case cancelled")
    state.finished = True
    effects.event("cancelled", now, request.actor.handle, "Case cancelled", request.comment)
    cancel_open_activities(state, request.actor.handle, now, "case cancelled", effects)
    tell_children(state, effects, resolved=False)
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
        choose_policy_again(state, now, effects)
    if queue != previous[1]:
        effects.emails.append(
            to_agents(
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


ACTIONS.update(
    {
        "pick": Action(
            ACTIVE,
            _pick,
            _check_pick,
            request=ActionRequest,
            doc="Take a case from one of your queues: it becomes `open` and yours.",
        ),
        "assign": Action(
            ACTIVE,
            _assign,
            _check_assign,
            supervisors_only=True,
            request=AssignRequest,
            doc="Give the case to an agent (supervisors and admins).",
        ),
        "reply": Action(
            WORKING,
            _reply,
            _check_reply,
            request=MessageRequest,
            doc="Email the customer; the first reply meets the first-response KPI.",
        ),
        "note": Action(
            ACTIVE | {CaseStatus.RESOLVED, CaseStatus.CLOSED},
            _note,
            _check_message,
            request=MessageRequest,
            doc="An internal note: never emailed to the customer.",
        ),
        "wait": Action(
            frozenset({CaseStatus.OPEN}),
            _wait,
            _check_wait,
            request=WaitRequest,
            doc="Wait for the customer (SLA clocks pause); their next email resumes the case.",
        ),
        "hold": Action(
            frozenset({CaseStatus.OPEN}),
            _hold,
            _check_wait,
            request=WaitRequest,
            doc="Wait on a third party (SLA clocks pause) until `resume`.",
        ),
        "resume": Action(
            PAUSED_BY_WAITING,
            _resume,
            request=ActionRequest,
            doc="Back to `open` from waiting or on hold; SLA clocks run again.",
        ),
        "advance": Action(
            WORKING,
            _advance,
            _check_advance,
            request=AdvanceRequest,
            doc="Move to the next stage (identify → research → resolve) with the fields it "
            "requires.",
        ),
        "resolve": Action(
            WORKING,
            resolve,
            check_resolve,
            request=ResolveRequest,
            doc="Propose a resolution: the customer gets it by email with links to accept or "
            "reject. Resolving needs the fields of every stage before `resolve` (409 "
            "`missing_fields` names what is missing); `fields` may set them on the way.",
        ),
        "reopen": Action(
            frozenset({CaseStatus.RESOLVED}),
            _reopen,
            request=ActionRequest,
            doc="Reopen a resolved case: its resolution clock resumes where it stopped.",
        ),
        "cancel": Action(
            ACTIVE,
            _cancel,
            request=ActionRequest,
            doc="Cancel the case (final); SLA clocks are cancelled.",
        ),
        "escalate": Action(
            ACTIVE,
            _escalate,
            _check_escalate,
            request=EscalateRequest,
            doc="Raise the priority and/or move the case to a queue; with neither, one step up "
            "and to `escalations`.",
        ),
    }
)


def _send_reply(
    state: CaseState,
    agent: str,
    body: str,
    now: datetime,
    effects: Effects,
    article: dict[str, str] | None = None,
) -> None:
    respond(state, now)
    summary = "Public reply to the customer"
    if article:
        summary = f"Knowledge article sent to the customer: {article['article_title']}"
    effects.event("replied", now, agent, summary, body, **(article or {}))
    email_customer(
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
