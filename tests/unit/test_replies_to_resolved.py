"""A customer's reply to a resolved case (rules version 3): the case judging replies stays
resolved on thanks, says so on its timeline and tells its owner; a problem reopens it as
before; a case pinned to reopen, or created under rules version 2, reopens on any reply."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    CaseContext,
    CaseState,
    CaseStatus,
    EmailDecision,
    KpiName,
    KpiStatus,
    ResolvedReply,
)
from tests.unit.case_factories import (
    NUMBER,
    STEP,
    act,
    agent,
    case_context,
    case_in,
    inbound_email,
)

THANKS = "Thanks, it works now!\nAda"
STILL_FAILS = "Thanks, but it still fails."


def resolved_case(
    mode: ResolvedReply = ResolvedReply.JUDGE, rules_version: int = lifecycle.RULES_VERSION
) -> tuple[CaseState, datetime]:
    context: CaseContext = case_context(rules_version=rules_version)
    context.resolved_reply = mode
    return case_in(CaseStatus.RESOLVED, context)


def customer_replies(state: CaseState, text: str, now: datetime) -> lifecycle.Effects:
    """The reply arrives and is committed, as the workflow's signal handler does."""
    effects = lifecycle.receive_email(state, inbound_email("mail-2", text=text), now)
    assert effects is not None
    lifecycle.commit(state, effects, "customer", "email_received", now)
    return effects


def resolution_clock(state: CaseState) -> KpiStatus:
    return next(c for c in state.kpis if c.kpi is KpiName.RESOLUTION).status


def test_a_new_case_follows_rules_version_3_and_pins_how_replies_to_its_resolution_go() -> None:
    state, _ = resolved_case()

    assert state.rules_version == lifecycle.RULES_VERSION >= 3
    assert state.resolved_reply is ResolvedReply.JUDGE


def test_a_thank_you_leaves_the_case_resolved_and_its_auto_close_due() -> None:
    state, now = resolved_case()
    resolved_at, closes_at = state.resolved_at, lifecycle.next_wakeup(state)

    effects = customer_replies(state, THANKS, now + STEP)

    assert state.status is CaseStatus.RESOLVED
    assert (state.resolved_at, lifecycle.next_wakeup(state)) == (resolved_at, closes_at)
    assert resolution_clock(state) is KpiStatus.SUCCEEDED
    assert state.episode == 1
    assert [e.kind for e in effects.events] == ["email_in", "reply_on_resolved"]


def test_a_thank_you_is_said_on_the_timeline_and_to_the_owner() -> None:
    state, now = resolved_case()

    effects = customer_replies(state, THANKS, now + STEP)

    event = effects.events[-1]
    assert event.summary == (
        "Reply to the resolution (says it works): the case stays resolved; its owner alice is told"
    )
    assert event.data == {
        "reason": "says it works", "reopened": "false", "owner": "alice", "key": "mail-2",
    }  # fmt: skip
    [email] = effects.emails
    assert (email.template, email.to.agents, email.to.addresses) == (
        "reply_on_resolved", ["alice"], []
    )  # fmt: skip
    assert email.key == f"{NUMBER}:reply-on-resolved:{state.seq}"
    assert email.context["reason"] == "says it works"
    assert email.context["body"] == THANKS


def test_a_thank_you_on_a_case_without_owner_is_said_on_the_timeline_only() -> None:
    state, now = resolved_case()
    state.owner = None

    effects = customer_replies(state, "Merci, ça marche", now + STEP)

    assert state.status is CaseStatus.RESOLVED
    assert effects.events[-1].summary.endswith("the case stays resolved; it has no owner to tell")
    assert effects.emails == []


def test_a_reply_that_says_it_still_fails_reopens_the_case_as_before() -> None:
    state, now = resolved_case()

    effects = customer_replies(state, STILL_FAILS, now + STEP)

    assert state.status is CaseStatus.OPEN and state.resolved_at is None
    assert resolution_clock(state) is KpiStatus.IN_PROGRESS
    kinds = [e.kind for e in effects.events]
    assert kinds == ["email_in", "reply_on_resolved", "reopened"]
    judged, reopened = effects.events[1], effects.events[2]
    assert judged.summary == "Reply to the resolution (says it still fails): the case reopens"
    assert (judged.data["reason"], judged.data["reopened"]) == ("says it still fails", "true")
    assert reopened.body == "the customer replied to the resolution"
    assert effects.emails == []


def test_a_question_reopens_the_case() -> None:
    state, now = resolved_case()

    effects = customer_replies(state, "Danke! Wie exportiere ich das als PDF?", now + STEP)

    assert state.status is CaseStatus.OPEN
    assert effects.events[1].data["reason"] == "asks a new question"


def test_a_case_pinned_to_reopen_reopens_on_a_thank_you_as_before() -> None:
    state, now = resolved_case(ResolvedReply.REOPEN)

    effects = customer_replies(state, THANKS, now + STEP)

    assert state.status is CaseStatus.OPEN
    assert [e.kind for e in effects.events] == ["email_in", "reopened"]


def test_a_case_created_under_rules_version_2_reopens_on_a_thank_you_as_it_always_did() -> None:
    state, now = resolved_case(ResolvedReply.JUDGE, rules_version=2)

    effects = customer_replies(state, THANKS, now + STEP)

    assert state.status is CaseStatus.OPEN
    assert [e.kind for e in effects.events] == ["email_in", "reopened"]


def test_a_context_recorded_before_the_setting_reopens_on_any_reply() -> None:
    assert case_context().resolved_reply is ResolvedReply.REOPEN
    assert CaseState.__dataclass_fields__["resolved_reply"].default is ResolvedReply.REOPEN


def test_a_confirmed_strangers_thank_you_is_judged_too() -> None:
    state, now = resolved_case()
    stranger = inbound_email("mail-stranger", text="Grazie, ora funziona", sender="bob@acme.test")
    stranger.verified = False
    lifecycle.receive_email(state, stranger, now + STEP)

    effects = act(state, "confirm", EmailDecision(agent(), "mail-stranger"), now + 2 * STEP)

    assert state.status is CaseStatus.RESOLVED
    assert [e.kind for e in effects.events] == ["email_confirmed", "reply_on_resolved"]
