"""Emails the case sends: whom to (or why nobody), acknowledgements, the loop breaker's hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caseflow.workflows.lifecycle.base import Effects
from caseflow.workflows.model import (
    CaseContext,
    CaseState,
    EmailOutcome,
    EmailRequest,
    InboundEmail,
    MailClass,
    NewCase,
    Recipients,
)


def _acknowledge_now(
    state: CaseState, email: InboundEmail | None, now: datetime, effects: Effects, limit: int
) -> None:
    email_customer(
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
        daily_limit=limit,
    )


def acknowledge(
    state: CaseState, new: NewCase, context: CaseContext, now: datetime, effects: Effects
) -> None:
    """One acknowledgement per case, to people only, and at most N per sender per 24 h.

    The context's count is a first look; the email activity counts again as it sends, one
    address at a time, so that of cases created at the same moment only N are acknowledged
    (`ack_withheld` says so for the others)."""
    if not new.customer_email and state.rules_version < 1:
        return
    email = new.email
    if email is not None and (email.mail_class is not MailClass.HUMAN or email.reason):
        _not_a_person(email, now, effects)
        return
    sent, limit = context.acks_sent_today, context.ack_limit_per_day
    if sent >= limit:
        _ack_suppressed(effects, now, sent, limit)
        return
    _acknowledge_now(state, new.email, now, effects, limit)


def _not_a_person(email: InboundEmail, now: datetime, effects: Effects) -> None:
    """The intake found no person behind the email (its `reason` says why): no
    acknowledgement, and the timeline says so. (Emails of older intakes carry no reason.)"""
    if email.reason:
        effects.event(
            "ack_not_sent",
            now,
            "system",
            f"No acknowledgement: {email.reason}"[:300],
            reason=email.reason,
            mail_class=str(email.mail_class),
        )


def ack_withheld(outcome: EmailOutcome, now: datetime) -> Effects:
    """The acknowledgement the email activity did not send: its address had reached the daily
    limit meanwhile (another case of the same sender, created at the same moment)."""
    effects = Effects()
    _ack_suppressed(effects, now, outcome.sent, outcome.limit)
    return effects


def _ack_suppressed(effects: Effects, now: datetime, sent: int, limit: int) -> None:
    effects.event(
        "ack_suppressed",
        now,
        "system",
        f"No acknowledgement: {sent} already sent to this address in 24 h (limit {limit})",
        sent=str(sent),
        limit=str(limit),
    )


# Customer emails that people write or wait for; the loop breaker holds every other one.
_NEVER_HELD = frozenset({"reply", "resolution"})


def hold_automatic_customer_mail(effects: Effects, now: datetime) -> None:
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


def customer_recipient(state: CaseState) -> tuple[str, str]:
    """Whom the customer's emails go to, address and name: the contact, or (an account alone)
    the account's primary contact when the case was created; an empty address: nobody."""
    customer = state.customer
    if customer.email or state.rules_version < 1:
        return customer.email, customer.name
    return customer.primary_contact_email, customer.primary_contact_name or customer.name


def customer_address(state: CaseState) -> str:
    return customer_recipient(state)[0]


def nobody(state: CaseState) -> str:
    account = state.customer.account_name
    if account:
        return f"its customer is the account {account}, which has no primary contact"
    return "it has no customer address"


def email_customer(
    state: CaseState, effects: Effects, now: datetime, what: str, **email: Any
) -> None:
    """Queue an email to the customer, or say on the timeline why nobody gets it."""
    if state.rules_version >= 1 and not customer_address(state):
        effects.event(
            "email_skipped", now, "system", f"No {what} email: {nobody(state)}",
            what=what, key=email["key"],
        )  # fmt: skip
        return
    effects.emails.append(to_customer(state, **email))


def to_customer(
    state: CaseState,
    *,
    key: str,
    template: str,
    subject: str,
    context: dict[str, str],
    auto_submitted: str = "auto-generated",
    link_purposes: list[str] | None = None,
    episode: int | None = None,
    daily_limit: int | None = None,
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
        daily_limit=daily_limit,
    )


def to_agents(
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
