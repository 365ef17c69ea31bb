"""Outgoing email: the tag, Message-ID, signed Reply-To, loop headers and both parts."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from caseflow import signing
from caseflow.intake.classify import classify
from caseflow.intake.parse import parse
from caseflow.mail import compose
from caseflow.mail.compose import Outgoing, Templates
from caseflow.workflows.model import MailClass
from tests.unit.emails import CUSTOMER, SECRET, SUPPORT

DOMAIN = "caseflow.test"
NOW = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
REPLY_TO = f"support+{signing.reply_token(SECRET, 'CAS-000123')}@{DOMAIN}"

# Every variable any template uses, so that each one renders.
FULL_CONTEXT: dict[str, Any] = {
    "customer_name": "Ada",
    "case_subject": "Printer on fire",
    "follow_up_of": None,
    "body": "Please unplug it.",
    "agent": "grace",
    "agent_name": "Grace",
    "resolution": "We sent a new printer.",
    "links": {"survey": "https://cf.test/survey/t", "resolution": "https://cf.test/resolution/t"},
    "case_url": "https://cf.test/cases/CAS-000123",
    "queue": "hardware",
    "priority": 2,
    "actor": "grace",
    "reason": "",
    "kpi": "first_response",
    "due_at": "2026-02-02 12:00 UTC",
    "fail_at": "2026-02-02 12:00 UTC",
    "late_by": "",
    "owner": None,
    "status": "warning",
}


def _outgoing(**changes: Any) -> Outgoing:
    outgoing = Outgoing(
        key="ack:CAS-000123:1",
        case_number="CAS-000123",
        template="ack",
        subject="Printer on fire",
        sender=SUPPORT,
        sender_name="Caseflow Support",
        recipients=[CUSTOMER],
        context=dict(FULL_CONTEXT),
        date=NOW,
        auto_submitted="auto-replied",
        reply_to=REPLY_TO,
    )
    return replace(outgoing, **changes)


def _build(**changes: Any) -> EmailMessage:
    return compose.build(_outgoing(**changes), Templates(), DOMAIN)


def _reparsed(msg: EmailMessage) -> EmailMessage:
    again = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(again, EmailMessage)
    return again


def _parts(msg: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in msg.walk()
        if not part.is_multipart()
    }


# -- subject tag ----------------------------------------------------------------------------------


def test_subject_carries_the_case_tag_first() -> None:
    assert str(_build()["Subject"]) == "[CAS-000123] Printer on fire"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [CAS-000123] Printer on fire", "[CAS-000123] Re: Printer on fire"),
        ("[CAS-000123] [CAS-000123] twice", "[CAS-000123] twice"),
        ("Printer\r\n on   fire", "[CAS-000123] Printer on fire"),
        ("", "[CAS-000123] "),
    ],
)
def test_subject_carries_the_tag_exactly_once(subject: str, expected: str) -> None:
    assert compose.tagged_subject("CAS-000123", subject) == expected


def test_overlong_subject_is_cut() -> None:
    assert len(compose.tagged_subject("CAS-000123", "x" * 5000)) == 990


# -- Message-ID, threading headers ---------------------------------------------------------------


def test_message_id_is_in_the_support_domain_and_names_the_case() -> None:
    message_id = str(_build()["Message-ID"])

    assert re.fullmatch(r"<CAS-000123\.[0-9a-f]{24}@caseflow\.test>", message_id)


def test_message_id_is_deterministic_per_key() -> None:
    first = compose.message_id("ack:CAS-000123:1", "CAS-000123", DOMAIN)

    assert first == compose.message_id("ack:CAS-000123:1", "CAS-000123", DOMAIN)
    assert first != compose.message_id("ack:CAS-000123:2", "CAS-000123", DOMAIN)


def test_in_reply_to_and_references_are_set_when_given() -> None:
    msg = _build(
        in_reply_to="<m1@example.com>", references=["<m0@example.com>", "<m1@example.com>"]
    )

    assert str(msg["In-Reply-To"]) == "<m1@example.com>"
    assert str(msg["References"]) == "<m0@example.com> <m1@example.com>"


def test_no_threading_headers_without_a_previous_message() -> None:
    msg = _build()

    assert "In-Reply-To" not in msg
    assert "References" not in msg


# -- addresses -----------------------------------------------------------------------------------


def test_reply_to_is_the_signed_address_of_the_case() -> None:
    name, address = parseaddr(str(_build()["Reply-To"]))
    local, _, domain = address.partition("@")

    assert name == "Caseflow Support"
    assert domain == DOMAIN
    assert local.startswith("support+")
    assert signing.verify_reply_token(SECRET, local.partition("+")[2]) == "CAS-000123"


def test_no_reply_to_when_none_is_given() -> None:
    assert "Reply-To" not in _build(reply_to="")


def test_from_and_to_carry_the_support_name_and_recipients() -> None:
    msg = _build(recipients=[CUSTOMER, "bob@example.com"])

    assert parseaddr(str(msg["From"])) == ("Caseflow Support", SUPPORT)
    assert str(msg["To"]) == "ada@example.com, bob@example.com"


def test_date_header_is_the_given_time() -> None:
    assert str(_build()["Date"]) == "Mon, 02 Feb 2026 10:00:00 +0000"


# -- loop headers -------------------------------------------------------------------------------


def test_acknowledgement_is_auto_replied() -> None:
    msg = _build(auto_submitted="auto-replied")

    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] == "auto_reply"


def test_notification_is_auto_generated() -> None:
    msg = _build(template="sla_warning", auto_submitted="auto-generated")

    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] == "bulk"


def test_agent_reply_is_not_auto_submitted() -> None:
    msg = _build(template="reply", auto_submitted="no")

    assert "Auto-Submitted" not in msg
    assert "Precedence" not in msg


def test_every_email_carries_our_loop_markers() -> None:
    msg = _build(auto_submitted="no")

    assert msg["X-Loop"] == SUPPORT
    assert msg["X-Caseflow-Case"] == "CAS-000123"


def test_our_email_coming_back_is_recognised_as_own_loop() -> None:
    parsed = parse(_build().as_bytes())

    assert classify(parsed, SUPPORT) is MailClass.OWN_LOOP


# -- body parts and templates ----------------------------------------------------------------------


def test_email_has_a_text_and_an_html_part() -> None:
    msg = _reparsed(_build())

    assert msg.get_content_type() == "multipart/alternative"
    parts = _parts(msg)
    assert set(parts) == {"text/plain", "text/html"}
    assert "opened case CAS-000123" in parts["text/plain"]
    assert "<strong>CAS-000123</strong>" in parts["text/html"]


def test_html_part_escapes_customer_text_and_text_part_keeps_it() -> None:
    context = {**FULL_CONTEXT, "case_subject": "<script>alert(1)</script> & co"}
    parts = _parts(_reparsed(_build(context=context)))

    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in parts["text/html"]
    assert "<script>" not in parts["text/html"]
    assert "<script>alert(1)</script> & co" in parts["text/plain"]


def test_non_ascii_content_survives_the_round_trip() -> None:
    context = {**FULL_CONTEXT, "customer_name": "Zoë Ørsted", "case_subject": "Drucker kaputt ✓"}
    msg = _reparsed(_build(context=context, subject="Drucker kaputt ✓"))

    assert str(msg["Subject"]) == "[CAS-000123] Drucker kaputt ✓"
    assert "Hello Zoë Ørsted," in _parts(msg)["text/plain"]


def test_template_with_a_missing_variable_refuses_to_render() -> None:
    context = {k: v for k, v in FULL_CONTEXT.items() if k != "case_subject"}

    with pytest.raises(UndefinedError):
        _build(context=context)


def test_undefined_attribute_of_a_given_variable_refuses_to_render() -> None:
    with pytest.raises(UndefinedError):
        _build(template="survey", context={**FULL_CONTEXT, "links": {}})


def test_case_number_and_support_name_come_from_the_email_not_the_context() -> None:
    context = {**FULL_CONTEXT, "case_number": "CAS-999999", "support_name": "Impostor"}
    text = _parts(_reparsed(_build(context=context)))["text/plain"]

    assert "CAS-000123" in text and "CAS-999999" not in text
    assert "Impostor" not in text


@pytest.mark.parametrize("name", sorted(Templates().names()))
def test_every_template_renders_text_and_html(name: str) -> None:
    text, html = Templates().render(
        name, {**FULL_CONTEXT, "case_number": "CAS-000123", "support_name": "Caseflow Support"}
    )

    assert "CAS-000123" in text
    assert "CAS-000123" in html
    assert html.lstrip().startswith("<!doctype html>")


def test_every_text_template_has_an_html_twin() -> None:
    directory = compose.TEMPLATES
    texts = {p.stem for p in directory.glob("*.txt")}
    htmls = {p.stem for p in directory.glob("*.html") if not p.name.startswith("_")}

    assert texts == htmls
    assert {"ack", "reply", "survey", "resolution", "sla_warning", "sla_failure"} <= texts


def test_templates_can_come_from_another_directory(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("Hi {{ who }}")
    (tmp_path / "hello.html").write_text("<p>Hi {{ who }}</p>")

    templates = Templates(tmp_path)

    assert templates.names() == {"hello"}
    assert templates.render("hello", {"who": "<Ada>"}) == ("Hi <Ada>", "<p>Hi &lt;Ada&gt;</p>")


@pytest.mark.parametrize("name", sorted(Templates().names()))
def test_every_html_part_says_it_is_english_by_default(name: str) -> None:
    _, html = Templates().render(
        name, {**FULL_CONTEXT, "case_number": "CAS-000123", "support_name": "Caseflow Support"}
    )

    assert Templates().language == "en"
    assert '<html lang="en">' in html


def test_a_subject_without_its_templates_form_is_left_as_it_is() -> None:
    assert str(_build(subject="Printer on fire")["Subject"]) == "[CAS-000123] Printer on fire"
    assert compose.localized_subject("ack", "Printer on fire", "it") == "Printer on fire"
    assert compose.localized_subject("reply", "Re: Printer on fire", "pt") == "Re: Printer on fire"
