"""Sending a knowledge article is a reply: it meets the response KPIs like one, and the timeline
names the article so its use is counted."""

from __future__ import annotations

from caseflow.workflows.model import CaseStatus, KpiName, KpiStatus, MessageRequest
from tests.unit.case_factories import CUSTOMER_EMAIL, STEP, act, agent, case_in

ARTICLE_TEXT = "Have a look at this.\n\nResetting your password\n\nOpen the sign-in page."


def send_article(version: int = 2) -> MessageRequest:
    return MessageRequest(
        agent(),
        ARTICLE_TEXT,
        article_id=7,
        article_title="Resetting your password",
        article_version=version,
    )


def test_a_sent_article_meets_the_first_response_and_emails_its_text() -> None:
    state, now = case_in(CaseStatus.OPEN)

    effects = act(state, "reply", send_article(), now + STEP)

    first = next(k for k in state.kpis if k.kpi is KpiName.FIRST_RESPONSE)
    assert first.status is KpiStatus.SUCCEEDED
    [email] = effects.emails
    assert (email.template, email.to.addresses) == ("reply", [CUSTOMER_EMAIL])
    assert email.context["body"] == ARTICLE_TEXT


def test_the_reply_event_names_the_article_and_its_version() -> None:
    state, now = case_in(CaseStatus.OPEN)

    effects = act(state, "reply", send_article(version=3), now + STEP)

    [event] = effects.events
    assert event.kind == "replied"
    assert event.summary == "Knowledge article sent to the customer: Resetting your password"
    assert event.data == {
        "article_id": "7",
        "article_title": "Resetting your password",
        "article_version": "3",
    }


def test_a_plain_reply_carries_no_article() -> None:
    state, now = case_in(CaseStatus.OPEN)

    effects = act(state, "reply", MessageRequest(agent(), "Turn it off."), now + STEP)

    assert effects.events[0].data == {}
    assert effects.events[0].summary == "Public reply to the customer"
