"""Agents' emails to customers sign with the agent's display name (the handle without one):
the email activity over SQLite and an SMTP sink."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session, sessionmaker

from caseflow.activities.email import EmailActivities
from caseflow.settings import Settings
from caseflow.store import directory
from caseflow.store.db import transaction
from caseflow.workflows.model import EmailRequest, Recipients
from tests.support.servers import SmtpSink

CUSTOMER = "carol@globex.example"


def send(
    settings: Settings, sessions: sessionmaker[Session], template: str, agent: str
) -> EmailRequest:
    request = EmailRequest(
        key=f"CAS-000042:{template}:{uuid.uuid4().hex}",
        case_number="CAS-000042",
        template=template,
        to=Recipients(addresses=[CUSTOMER]),
        subject="Printer on fire",
        context={
            "customer_name": "Carol",
            "case_subject": "Printer on fire",
            "body": "Unplug it, please.",
            "resolution": "Replaced the fuser.",
            "agent": agent,
        },
        auto_submitted="no",
        link_purposes=["resolution"] if template == "resolution" else [],
    )
    EmailActivities(sessions, settings).send_email(request)
    return request


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("template", ["reply", "resolution"])
def test_an_agents_email_signs_with_their_display_name(
    settings: Settings, sessions: sessionmaker[Session], smtp_sink: SmtpSink, template: str
) -> None:
    with transaction(sessions) as session:
        directory.create_agent(
            session, "ann", "ann@caseflow.test", "agent", [], "a" * 64, display_name="Ann Smith"
        )

    send(settings, sessions, template, "ann")

    (message,) = smtp_sink.wait_for(lambda found: len(found) == 1)
    assert "Ann Smith, Caseflow Support" in text_of(message)
    assert "Ann Smith, Caseflow Support" in html_of(message)
    assert "ann," not in text_of(message)


def test_an_agent_without_a_display_name_signs_with_their_handle(
    settings: Settings, sessions: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    with transaction(sessions) as session:
        directory.create_agent(session, "bo", "bo@caseflow.test", "agent", [], "b" * 64)

    send(settings, sessions, "reply", "bo")

    (message,) = smtp_sink.wait_for(lambda found: len(found) == 1)
    assert "bo, Caseflow Support" in text_of(message)
