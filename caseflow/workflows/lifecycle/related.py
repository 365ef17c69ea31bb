"""Parent and child cases (one level) and merges of duplicates into a survivor."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import kpis
from caseflow.workflows.lifecycle.activities import (
    WITH_ACTIVITIES,
    cancel_open_activities,
    open_activities,
)
from caseflow.workflows.lifecycle.base import ACTIONS, ACTIVE, Action, Effects, Refusal
from caseflow.workflows.lifecycle.resolution import resolve
from caseflow.workflows.lifecycle.transitions import transition
from caseflow.workflows.model import (
    Actor,
    CaseState,
    CaseStatus,
    ChildrenNotified,
    ChildRequest,
    MergeRequest,
    MergeTransfer,
    ParentNotice,
    ParentRequest,
    ResolveRequest,
    Role,
    TimelineEvent,
)


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
    if state.status not in ACTIVE or open_activities(state):
        why = (
            f"this case is {state.status}"
            if state.status not in ACTIVE
            else f"{len(open_activities(state))} activities are still open here"
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
    effects = resolve(state, ResolveRequest(actor, notice.resolution), now)
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
    transition(state, CaseStatus.MERGED, now, f"merged into {request.into}")
    state.merged_into = request.into
    state.closed_at = now
    kpis.ended(state.kpis, state.policy, now, f"merged into {request.into}")
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
    cancel_open_activities(state, request.actor.handle, now, f"merged into {request.into}", effects)
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
