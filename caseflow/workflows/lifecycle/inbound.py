"""Email that reaches a case: replies, strangers' replies, bounces, the loop breaker's count."""

from __future__ import annotations

from datetime import datetime, timedelta

from caseflow.workflows.lifecycle.base import (
    ACTIONS,
    ACTIVE,
    FINAL,
    MAX_COPIED,
    MAX_TEXT,
    UNVERIFIED_KEPT,
    WORKING,
    Action,
    Effects,
    Refusal,
)
from caseflow.workflows.lifecycle.clocks import await_next_response
from caseflow.workflows.lifecycle.outbound import to_agents
from caseflow.workflows.lifecycle.replies import ReplyVerdict, judge_reply
from caseflow.workflows.lifecycle.transitions import enter, reopen_case
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    EmailDecision,
    EmailRequest,
    FollowUpRequest,
    InboundEmail,
    MailClass,
    Recipients,
    ResolvedReply,
)

QUOTED_TO_OWNER = 1_000  # characters of the reply the owner's email quotes


def receive_email(state: CaseState, email: InboundEmail, now: datetime) -> Effects | None:
    """An email threaded to this case; None when it was already seen (a redelivery)."""
    if email.key in state.seen_keys:
        return None
    effects = Effects()
    if email.mail_class is MailClass.BOUNCE:
        _take_in_bounce(state, email, now, effects)
        count_inbound(state, now, effects)
        return effects
    take_in_email(state, email, now, effects)
    count_inbound(state, now, effects)
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
        enter(state, CaseStatus.OPEN, now, "customer replied")
        effects.event("resumed", now, "customer", "The customer replied; work resumed")
        await_next_response(state, now)
    elif state.status in WORKING:
        await_next_response(state, now)
    elif state.status is CaseStatus.RESOLVED:
        _replied_to_resolution(state, email, now, effects)
    elif state.status in FINAL:
        effects.follow_ups.append(new_follow_up(state, email))
        effects.event("follow_up_requested", now, "customer", "Reply to a closed case")


def _replied_to_resolution(
    state: CaseState, email: InboundEmail, now: datetime, effects: Effects
) -> None:
    """A reply to a resolved case reopens it, unless (since rules version 3, on a case that
    judges replies) it is only thanks or says it works: then the case stays resolved, its
    auto-close still due, and its owner is told. The timeline says which, and why."""
    if state.rules_version < 3 or state.resolved_reply is not ResolvedReply.JUDGE:
        _reopen_on_reply(state, now, effects)
        return
    verdict = judge_reply(email, state.subject, (email.sender_name, state.owner or ""))
    if verdict.reopen:
        _judged(state, email, verdict, now, effects, "the case reopens")
        _reopen_on_reply(state, now, effects)
        return
    told = f"its owner {state.owner} is told" if state.owner else "it has no owner to tell"
    _judged(state, email, verdict, now, effects, f"the case stays resolved; {told}")
    if state.owner:
        effects.emails.append(_owner_told(state, email, verdict, state.owner))


def _reopen_on_reply(state: CaseState, now: datetime, effects: Effects) -> None:
    reopen_case(state, now, effects, "customer", "the customer replied to the resolution")
    await_next_response(state, now)


def _judged(
    state: CaseState,
    email: InboundEmail,
    verdict: ReplyVerdict,
    now: datetime,
    effects: Effects,
    outcome: str,
) -> None:
    effects.event(
        "reply_on_resolved",
        now,
        "customer",
        f"Reply to the resolution ({verdict.reason}): {outcome}",
        reason=verdict.reason,
        reopened=str(verdict.reopen).lower(),
        owner=state.owner or "",
        key=email.key,
    )


def _owner_told(
    state: CaseState, email: InboundEmail, verdict: ReplyVerdict, owner: str
) -> EmailRequest:
    """The owner's email: the customer replied to their resolved case, which stays resolved.
    Keyed by the event number the reply commits as, so it is sent once."""
    return to_agents(
        state,
        key=f"{state.number}:reply-on-resolved:{state.seq + 1}",
        template="reply_on_resolved",
        to=Recipients(agents=[owner]),
        subject=f"Customer replied to resolved case: {state.subject}",
        context={"reason": verdict.reason, "owner": owner, "body": email.text[:QUOTED_TO_OWNER]},
    )


def new_follow_up(state: CaseState, email: InboundEmail) -> FollowUpRequest:
    return FollowUpRequest(origin_key=f"email:{email.key}", follow_up_of=state.number, email=email)


def follow_up_for(state: CaseState, email: InboundEmail) -> FollowUpRequest | None:
    """What a closed case whose workflow is ending does with an email: a customer's (or an
    unverified person's) reply opens a follow-up case; machines' mail opens nothing."""
    if email.mail_class is not MailClass.HUMAN:
        return None
    return new_follow_up(state, email)


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


ACTIONS["confirm"] = Action(
    ACTIVE | {CaseStatus.RESOLVED},
    _confirm,
    _check_unverified,
    request=EmailDecision,
    doc="An unverified reply (the case's tag, from someone not taking part) is the customer's: "
    "it counts as their reply and its sender joins the case.",
)


ACTIONS["split"] = Action(
    ACTIVE | {CaseStatus.RESOLVED},
    _split,
    _check_unverified,
    request=EmailDecision,
    doc="An unverified reply is another matter: it becomes a new case, linked to this one.",
)


def take_in_email(state: CaseState, email: InboundEmail, now: datetime, effects: Effects) -> None:
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
        **whole_text_length(email),
        **automatic_reason(email),
        attachments="; ".join(
            f"{a.filename} ({a.size} bytes{'' if a.stored else ', not kept'})"
            for a in email.attachments
        ),
    )


def automatic_reason(email: InboundEmail) -> dict[str, str]:
    """Why the intake judged the email automatic (or found no person in it), for the timeline;
    nothing for a person's email."""
    return {"reason": email.reason} if email.reason else {}


def whole_text_length(email: InboundEmail) -> dict[str, str]:
    """The event says how long the whole text is when it carries only its start, so the
    timeline takes it whole from the stored message."""
    return {"text_length": str(email.text_length)} if email.text_length else {}


def _add_copied(state: CaseState, copied: list[str]) -> None:
    """People the customer copied take part in the case (their tagged replies thread), but
    not our own addresses (the domain of the case's mailbox)."""
    our_domain = state.mailbox.rpartition("@")[2].lower()
    for address in (a.lower() for a in copied[:MAX_COPIED]):
        domain = address.rpartition("@")[2]
        if domain and domain != our_domain and address not in state.participants:
            state.participants.append(address)


LOOP_WINDOW = timedelta(hours=1)


def count_inbound(state: CaseState, now: datetime, effects: Effects) -> None:
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
        **whole_text_length(email),
    )
