"""Customers' emails in the customer's language: the templates' marked sentences, the subjects
the workflows write in English translated by their form (`compose.SUBJECTS`), and the language
each sender chooses (the email activity, the intake's notices, the portal's sign-in link).

The catalogues here are throwaway ones (`LOCALE_DIR` in a temporary directory): these tests
rely on no message of the real catalogues."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from caseflow import i18n
from caseflow.activities.email import EmailActivities
from caseflow.api import portal_mail
from caseflow.intake import notices
from caseflow.intake.parse import parse
from caseflow.mail import compose, smtp
from caseflow.mail.compose import Outgoing, Templates
from caseflow.settings import Settings
from caseflow.store import messages
from caseflow.store.db import transaction
from caseflow.store.models import Contact
from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    CaseStatus,
    CaseTimings,
    EmailRequest,
    Recipients,
    ResolveRequest,
)
from tests.support.harness import add_agents
from tests.unit import case_factories as cases
from tests.unit.emails import message
from tests.unit.test_compose import FULL_CONTEXT

DOMAIN = "caseflow.test"
NOW = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
ACK_SUBJECT = "We received your request: Printer on fire"

CONTEXT: dict[str, Any] = {
    "customer_name": "Ada",
    "case_subject": "Printer on fire",
    "follow_up_of": "",
    "links": {"survey": "https://cf.test/survey/t", "resolution": "https://cf.test/resolution/t"},
    "portal_url": "https://cf.test/portal/cases/CAS-000123",
    "agent_name": "Grace",
    "resolution": "We sent a new printer.",
}

ITALIAN = {
    "Hello %(name)s,": "Gentile %(name)s,",
    "Hello,": "Salve,",
    "we have received your request and opened case %(number)s:": (
        "abbiamo ricevuto la sua richiesta e aperto la pratica %(number)s:"
    ),
    "An agent will get back to you. To add anything, reply to this email and keep\n"
    "%(number)s in the subject.": (
        "Un operatore le risponderà. Per aggiungere qualcosa, risponda a questa email\n"
        "lasciando %(number)s nell'oggetto."
    ),
    "See your case online": "Veda la sua pratica online",
    "Your case online: %(url)s": "La sua pratica online: %(url)s",
    "%(support)s · case %(number)s · reply to this email to add to your case.": (
        "%(support)s · pratica %(number)s · risponda a questa email per aggiungere alla pratica."
    ),
    "We received your request: %(subject)s": "Abbiamo ricevuto la sua richiesta: %(subject)s",
    "Proposed resolution: %(subject)s": "Soluzione proposta: %(subject)s",
    "How did we do?": "Com'è andata?",
    "Your message was too large: %(subject)s": "Il suo messaggio era troppo grande: %(subject)s",
    "Your sign-in link": "Il suo link di accesso",
    "(no subject)": "(senza oggetto)",
    "Yes, close the case": "Sì, chiudete la pratica",
    "No, reopen it": "No, riapritela",
    # The quoted subject elsewhere in the sentence than in English.
    "thank you for writing to us. Your message %(subject)s is larger than we can accept "
    "(%(size)s MB; the limit is %(limit)s MB), so it\nhas not reached our support team yet. "
    "We have kept it, and nothing else is needed to keep it safe.": (
        "grazie per averci scritto. Non possiamo accettare (%(size)s MB; il limite è "
        "%(limit)s MB) il suo messaggio %(subject)s che abbiamo conservato."
    ),
    "Reference: %(reference)s": "Riferimento: %(reference)s",
}
PORTUGUESE = {
    "Hello %(name)s,": "Olá %(name)s,",
    "we have received your request and opened case %(number)s:": (
        "recebemos o seu pedido e abrimos o caso %(number)s:"
    ),
    "%(support)s · case %(number)s · reply to this email to add to your case.": (
        "%(support)s · caso %(number)s · responda a este email para acrescentar ao seu caso."
    ),
    "We received your request: %(subject)s": "Recebemos o seu pedido: %(subject)s",
    "Your message was too large: %(subject)s": "A sua mensagem era demasiado grande: %(subject)s",
    "Your sign-in link": "A sua ligação de acesso",
}
EXPECTED = {
    "it": {
        "subject": "[CAS-000123] Abbiamo ricevuto la sua richiesta: Printer on fire",
        "hello": "Gentile Ada,",
        "opened": "abbiamo ricevuto la sua richiesta e aperto la pratica CAS-000123:",
        "opened_html": "abbiamo ricevuto la sua richiesta e aperto la pratica "
        "<strong>CAS-000123</strong>:",
        "footer": "Caseflow Support · pratica CAS-000123 · risponda a questa email",
    },
    "pt": {
        "subject": "[CAS-000123] Recebemos o seu pedido: Printer on fire",
        "hello": "Olá Ada,",
        "opened": "recebemos o seu pedido e abrimos o caso CAS-000123:",
        "opened_html": "recebemos o seu pedido e abrimos o caso <strong>CAS-000123</strong>:",
        "footer": "Caseflow Support · caso CAS-000123 · responda a este email",
    },
}


def _write_catalogue(root: Path, language: str, translated: dict[str, str]) -> None:
    catalog = Catalog(locale=language, domain=i18n.DOMAIN)
    for msgid, msgstr in translated.items():
        catalog.add(msgid, msgstr)
    path = root / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as po:
        write_po(po, catalog)


@pytest.fixture(autouse=True)
def catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Throwaway Italian and Portuguese catalogues, in place of the real ones."""
    root = tmp_path / "locale"
    _write_catalogue(root, "it", ITALIAN)
    _write_catalogue(root, "pt", PORTUGUESE)
    monkeypatch.setattr(i18n, "LOCALE_DIR", root)
    i18n.translations.cache_clear()
    yield root
    i18n.translations.cache_clear()


def _outgoing(**changes: Any) -> Outgoing:
    values: dict[str, Any] = {
        "key": "CAS-000123:ack",
        "case_number": "CAS-000123",
        "template": "ack",
        "subject": ACK_SUBJECT,
        "sender": "support@caseflow.test",
        "sender_name": "Caseflow Support",
        "recipients": ["ada@example.com"],
        "context": dict(CONTEXT),
        "date": NOW,
        "auto_submitted": "auto-replied",
    }
    return Outgoing(**{**values, **changes})


def _parts(msg: EmailMessage) -> dict[str, str]:
    again = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(again, EmailMessage)
    return {
        part.get_content_type(): part.get_content()
        for part in again.walk()
        if not part.is_multipart()
    }


# -- the templates in a language ------------------------------------------------------------------


@pytest.mark.parametrize("language", ["it", "pt"])
def test_acknowledgement_speaks_the_language_of_its_templates(language: str) -> None:
    msg = compose.build(_outgoing(), Templates(language=language), DOMAIN)
    parts = _parts(msg)
    expected = EXPECTED[language]

    assert str(msg["Subject"]) == expected["subject"]
    assert parts["text/plain"].startswith(f"{expected['hello']}\n\n{expected['opened']}\n")
    assert f"<p>{expected['hello']}</p>" in parts["text/html"]
    assert f"<p>{expected['opened_html']}</p>" in parts["text/html"]
    assert expected["footer"] in parts["text/html"]
    assert f'<html lang="{language}">' in parts["text/html"]
    assert "we have received" not in parts["text/plain"] + parts["text/html"]


def test_a_translation_keeps_its_own_line_breaks_in_text_and_none_in_html() -> None:
    text, html = Templates(language="it").render("ack", _context())

    assert (
        "Un operatore le risponderà. Per aggiungere qualcosa, risponda a questa email\n"
        "lasciando CAS-000123 nell'oggetto.\n"
    ) in text
    assert "La sua pratica online: https://cf.test/portal/cases/CAS-000123\n" in text
    assert (
        "<p>Un operatore le risponderà. Per aggiungere qualcosa, risponda a questa email "
        "lasciando CAS-000123 nell'oggetto.</p>"
    ) in html
    assert '">Veda la sua pratica online</a>' in html


def test_a_message_the_catalogue_lacks_stays_english() -> None:
    text, _ = Templates(language="pt").render("ack", _context())

    assert text.startswith("Olá Ada,\n\nrecebemos o seu pedido")
    assert "An agent will get back to you." in text


def test_customer_text_is_escaped_inside_a_translated_sentence() -> None:
    context = _context(customer_name="<Ada & co>")
    text, html = Templates(language="it").render("ack", context)

    assert "<p>Gentile &lt;Ada &amp; co&gt;,</p>" in html
    assert text.startswith("Gentile <Ada & co>,\n")


def test_a_nameless_greeting_is_a_sentence_of_its_own() -> None:
    text, html = Templates(language="it").render("ack", _context(customer_name=""))

    assert text.startswith("Salve,\n")
    assert "<p>Salve,</p>" in html


def test_a_quoted_subject_goes_where_the_language_puts_it() -> None:
    context = _context(size_mb="12.0", limit_mb="10.0", case_subject="Big <file>")
    text, html = Templates(language="it").render("notice_oversized", context)

    assert (
        "grazie per averci scritto. Non possiamo accettare (12.0 MB; il limite è 10.0 MB) "
        "il suo messaggio\n\n    Big <file>\n\nche abbiamo conservato.\n"
    ) in text
    assert (
        "<p>grazie per averci scritto. Non possiamo accettare (12.0 MB; il limite è 10.0 MB) "
        "il suo messaggio</p>\n<blockquote>Big &lt;file&gt;</blockquote>\n"
        "<p>che abbiamo conservato.</p>"
    ) in html
    assert "Riferimento: CAS-000123" in text


def test_the_resolution_links_stay_aligned_in_another_language() -> None:
    text, _ = Templates(language="it").render("resolution", _context())

    assert (
        "  Sì, chiudete la pratica:  https://cf.test/resolution/t?decision=accept\n"
        "  No, riapritela:           https://cf.test/resolution/t?decision=reject\n"
    ) in text


def test_around_quote_splits_a_sentence_at_its_quoted_block() -> None:
    sentence = "before the quote \x00quote\x00 after it"

    assert compose.around_quote(sentence) == ("before the quote", "after it")
    assert compose.around_quote("no quote at all") == ("no quote at all", "")


# -- English: as it always was, and no catalogue needed ----------------------------------------


ENGLISH_ACK_TEXT = """\
Hello Ada,

we have received your request and opened case CAS-000123:

    Printer on fire

An agent will get back to you. To add anything, reply to this email and keep
CAS-000123 in the subject.

Your case online: https://cf.test/portal/cases/CAS-000123

Caseflow Support
"""
ENGLISH_ACK_HTML = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>CAS-000123</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; \
color: #1f2328; max-width: 640px;">
<p>Hello Ada,</p>
<p>we have received your request and opened case <strong>CAS-000123</strong>:</p>
<blockquote>Printer on fire</blockquote>
<p>An agent will get back to you. To add anything, reply to this email and keep CAS-000123 \
in the subject.</p>
<p>Caseflow Support</p>
<p><a href="https://cf.test/portal/cases/CAS-000123">See your case online</a></p>\
<p style="color: #656d76; font-size: 12px; border-top: 1px solid #d0d7de; padding-top: 8px;">
Caseflow Support · case CAS-000123 · reply to this email to add to your case.
</p>
</body>
</html>
"""


def test_english_acknowledgement_is_byte_for_byte_as_before() -> None:
    assert Templates().render("ack", _context()) == (ENGLISH_ACK_TEXT, ENGLISH_ACK_HTML)


def test_english_needs_no_catalogue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "nowhere")
    i18n.translations.cache_clear()
    templates = Templates(language="en")

    for name in sorted(templates.names()):
        context = _context(**FULL_CONTEXT)
        assert templates.render(name, context) == Templates().render(name, context)
    msg = compose.build(_outgoing(), templates, DOMAIN)
    assert str(msg["Subject"]) == f"[CAS-000123] {ACK_SUBJECT}"


# -- subjects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "subject", "language", "expected"),
    [
        ("ack", ACK_SUBJECT, "it", "Abbiamo ricevuto la sua richiesta: Printer on fire"),
        ("ack", ACK_SUBJECT, "pt", "Recebemos o seu pedido: Printer on fire"),
        ("ack", ACK_SUBJECT, "en", ACK_SUBJECT),
        ("ack", "We received your request: 100% off: now", "it",
         "Abbiamo ricevuto la sua richiesta: 100% off: now"),
        ("ack", "We received your request: (no subject)", "it",
         "Abbiamo ricevuto la sua richiesta: (senza oggetto)"),
        ("ack", "Printer on fire", "it", "Printer on fire"),  # not the form: as it is
        ("resolution", "Proposed resolution: Printer", "it", "Soluzione proposta: Printer"),
        ("resolution", "Proposed resolution: Printer", "pt", "Proposed resolution: Printer"),
        ("survey", "How did we do?", "it", "Com'è andata?"),
        ("survey", "How did we do? Really?", "it", "How did we do? Really?"),
        ("reply", "Re: Printer on fire", "it", "Re: Printer on fire"),
        ("sla_warning", "SLA warning: first response on Printer", "it",
         "SLA warning: first response on Printer"),
    ],
)  # fmt: skip
def test_subject_is_translated_when_it_has_its_templates_form(
    template: str, subject: str, language: str, expected: str
) -> None:
    assert compose.localized_subject(template, subject, language) == expected


def test_subject_forms_are_templates_with_at_most_the_subject_as_placeholder() -> None:
    names = Templates().names()

    for template, form in compose.SUBJECTS.items():
        assert template in names
        assert form.replace("%(subject)s", "").count("%") == 0, form


def _fire(state: Any, now: datetime) -> list[tuple[str, lifecycle.Effects]]:
    fired = lifecycle.fire_timers(state, now)
    for action, effects in fired:
        lifecycle.commit(state, effects, "system", action, now)
    return fired


def _subjects_the_code_writes() -> dict[str, str]:
    """Each customer email's subject as the workflows, the intake and the portal write it, for a
    case or message about "Printer on fire"."""
    written: dict[str, str] = {}
    _, created = lifecycle.create(
        cases.NUMBER, cases.new_email_case(), cases.case_context(), cases.T0
    )
    written.update({e.template: e.subject for e in created.emails})
    state, now = cases.case_in(CaseStatus.OPEN)
    now += cases.STEP
    replied = cases.act(state, "reply", cases.valid_request("reply", cases.agent()), now)
    written.update({e.template: e.subject for e in replied.emails})
    now += cases.STEP
    request = ResolveRequest(cases.agent(), "New fuser.", 30, 20, fields=cases.STAGES_DONE)
    resolved = cases.act(state, "resolve", request, now)
    written.update({e.template: e.subject for e in resolved.emails})
    state, closed_at = cases.case_in(CaseStatus.CLOSED)
    timings = CaseTimings()
    sent_at = closed_at + timings.survey_delay
    for at in (sent_at, sent_at + timings.survey_reminder_after):
        written.update({e.template: e.subject for _, f in _fire(state, at) for e in f.emails})
    parsed = parse(message(subject="Printer on fire"))
    for notice in (
        notices.oversized_notice(parsed, 12_000_000, 10_000_000),
        notices.refused_notice(parsed, "unknown_sender"),
    ):
        written[notice.template] = notice.subject
    written[portal_mail.TEMPLATE] = portal_mail.SUBJECT
    return written


def test_each_subject_form_is_the_subject_the_code_writes() -> None:
    """The workflows' English subjects cannot change (their histories are replayed): a form
    that no longer matches them would leave those emails' subjects in English."""
    written = _subjects_the_code_writes()

    assert set(compose.SUBJECTS) <= set(written)
    for template, form in compose.SUBJECTS.items():
        values = compose.subject_values(template, written[template])
        assert values is not None, f"{template}: {written[template]!r} is not {form!r}"
        assert values == ({"subject": "Printer on fire"} if "%(subject)s" in form else {})
    assert written["reply"] == "Re: Printer on fire"  # "Re:" stays as it is
    assert "reply" not in compose.SUBJECTS


def test_every_customer_email_of_the_code_but_the_reply_has_a_subject_form() -> None:
    customer_templates = set(_subjects_the_code_writes()) - {"reply"}

    assert customer_templates == set(compose.SUBJECTS)


# -- the email activity: which language --------------------------------------------------------


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Contacts who read Italian, Portuguese, a language Caseflow does not speak, or did not
    say."""
    with transaction(sessions) as session:
        for address, language in [
            ("giulia@example.it", "it"),
            ("joao@example.pt", "pt-BR"),
            ("hans@example.de", "de"),
            ("nobody@example.com", ""),
        ]:
            session.add(Contact(email=address, name=address.split("@")[0], language=language))
    add_agents(sessions)  # a supervisor, sam, whom `_to_agents` emails
    return sessions


def _settings(tmp_path: Path, default_language: str = "en") -> Settings:
    return Settings(home=tmp_path / "home", default_language=default_language)


def _to_customer(address: str, template: str = "ack", subject: str = ACK_SUBJECT) -> EmailRequest:
    return EmailRequest(
        key=f"CAS-000123:{template}:{address}",
        case_number="CAS-000123",
        template=template,
        to=Recipients(addresses=[address]),
        subject=subject,
        context={"customer_name": "Ada", "case_subject": "Printer on fire", "follow_up_of": ""},
        auto_submitted="auto-replied",
    )


def _to_agents() -> EmailRequest:
    return EmailRequest(
        key="CAS-000123:sla:first_response:warning",
        case_number="CAS-000123",
        template="sla_warning",
        to=Recipients(supervisors=True),
        subject="SLA warning: first response on Printer on fire",
        context={
            "case_subject": "Printer on fire",
            "queue": "standard",
            "priority": "3",
            "status": "open",
            "kpi": "first_response",
            "fail_at": "2026-02-02 12:00 UTC",
            "due_at": "2026-02-02 11:00 UTC",
            "late_by": "",
            "owner": "",
        },
    )


@pytest.mark.parametrize(
    ("address", "default", "expected"),
    [
        ("giulia@example.it", "en", "it"),
        ("GIULIA@example.it ", "pt", "it"),  # the contact's, whatever the default
        ("joao@example.pt", "en", "pt"),  # pt-BR is Portuguese
        ("hans@example.de", "it", "it"),  # a language Caseflow does not speak: the default
        ("nobody@example.com", "pt", "pt"),  # not said: the default
        ("stranger@example.org", "pt", "pt"),  # no such contact: the default
        ("stranger@example.org", "en", "en"),
    ],
)
def test_customer_email_speaks_the_contacts_language_else_the_default(
    people: sessionmaker[Session], tmp_path: Path, address: str, default: str, expected: str
) -> None:
    activity = EmailActivities(people, _settings(tmp_path, default))

    with transaction(people, writes=False) as session:
        assert activity._language(session, _to_customer(address)) == expected


def test_agents_email_stays_english_whatever_the_default(
    people: sessionmaker[Session], tmp_path: Path
) -> None:
    activity = EmailActivities(people, _settings(tmp_path, "it"))

    with transaction(people, writes=False) as session:
        assert activity._language(session, _to_agents()) == "en"


def test_the_activity_keeps_one_templates_per_language(
    people: sessionmaker[Session], tmp_path: Path
) -> None:
    given = Templates()
    activity = EmailActivities(people, _settings(tmp_path), given)

    assert activity._templates_in("en") is given
    italian = activity._templates_in("it")
    assert italian.language == "it"
    assert activity._templates_in("it") is italian
    assert italian.directory == given.directory


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[EmailMessage]:
    """SMTP replaced: the messages the senders hand over, each recipient accepted."""
    sent: list[EmailMessage] = []

    def send_each(
        _config: object, msg: EmailMessage, envelopes: list[smtp.Envelope], done: Any
    ) -> dict[str, tuple[int, bytes]]:
        sent.append(msg)
        for envelope in envelopes:
            done(envelope)
        return {}

    def send(
        _config: object, msg: EmailMessage, _sender: str, _to: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        sent.append(msg)
        return {}

    monkeypatch.setattr(smtp, "send_each", send_each)
    monkeypatch.setattr(smtp, "send", send)
    return sent


def _outbox_subject(sessions: sessionmaker[Session], key: str) -> str:
    with transaction(sessions, writes=False) as session:
        row = messages.outbox_entry(session, key)
        assert row is not None
        return str(row.subject)


def test_sent_emails_speak_their_recipients_languages(
    people: sessionmaker[Session], tmp_path: Path, handed_over: list[EmailMessage]
) -> None:
    activity = EmailActivities(people, _settings(tmp_path, "pt"))
    requests = [
        _to_customer("giulia@example.it"),
        _to_customer("nobody@example.com"),
        _to_agents(),
    ]

    for request in requests:
        ActivityEnvironment().run(activity.send_email, request)

    italian, portuguese, agents = handed_over
    assert str(italian["Subject"]) == EXPECTED["it"]["subject"]
    assert _parts(italian)["text/plain"].startswith("Gentile Ada,\n\nabbiamo ricevuto")
    assert str(portuguese["Subject"]) == EXPECTED["pt"]["subject"]
    assert _parts(portuguese)["text/plain"].startswith("Olá Ada,\n\nrecebemos o seu pedido")
    assert str(agents["Subject"]) == "[CAS-000123] SLA warning: first response on Printer on fire"
    assert '<html lang="en">' in _parts(agents)["text/html"]
    assert "SLA warning" in _parts(agents)["text/plain"]
    assert _outbox_subject(people, requests[0].key) == EXPECTED["it"]["subject"]


def test_an_email_already_sent_is_not_sent_again_in_another_language(
    people: sessionmaker[Session], tmp_path: Path, handed_over: list[EmailMessage]
) -> None:
    request = _to_customer("nobody@example.com")
    ActivityEnvironment().run(EmailActivities(people, _settings(tmp_path)).send_email, request)
    ActivityEnvironment().run(
        EmailActivities(people, _settings(tmp_path, "it")).send_email, request
    )

    [only] = handed_over
    assert str(only["Subject"]) == f"[CAS-000123] {ACK_SUBJECT}"


# -- the intake's notices and the portal's sign-in link ------------------------------------------


@pytest.mark.parametrize(
    ("sender", "default", "subject"),
    [
        ("giulia@example.it", "en", "Il suo messaggio era troppo grande: Printer on fire"),
        ("nobody@example.com", "pt", "A sua mensagem era demasiado grande: Printer on fire"),
        ("stranger@example.org", "en", "Your message was too large: Printer on fire"),
    ],
)
def test_notice_speaks_the_senders_language_else_the_default(
    people: sessionmaker[Session],
    tmp_path: Path,
    handed_over: list[EmailMessage],
    sender: str,
    default: str,
    subject: str,
) -> None:
    parsed = parse(message(sender=f"Giulia <{sender}>", subject="Printer on fire"))
    notice = notices.oversized_notice(parsed, 12_000_000, 10_000_000)

    assert notices.send_notice(_settings(tmp_path, default), people, notice)

    [sent] = handed_over
    assert str(sent["Subject"]) == subject
    assert _outbox_subject(people, notice.key) == subject


def test_notice_of_a_message_without_a_subject_says_so_in_the_language(
    people: sessionmaker[Session], tmp_path: Path, handed_over: list[EmailMessage]
) -> None:
    parsed = parse(message(sender="giulia@example.it", subject=""))
    notice = notices.oversized_notice(parsed, 12_000_000, 10_000_000)

    assert notices.send_notice(_settings(tmp_path), people, notice)

    [sent] = handed_over
    assert str(sent["Subject"]) == "Il suo messaggio era troppo grande: (senza oggetto)"
    assert "\n    (senza oggetto)\n" in _parts(sent)["text/plain"]


@pytest.mark.parametrize(
    ("language", "default", "subject"),
    [
        ("it", "en", "Il suo link di accesso · Caseflow Support"),
        ("pt-BR", "en", "A sua ligação de acesso · Caseflow Support"),
        (None, "it", "Il suo link di accesso · Caseflow Support"),  # not said: the default
        ("de", "en", "Your sign-in link · Caseflow Support"),
        (None, "en", "Your sign-in link · Caseflow Support"),
    ],
)
def test_sign_in_link_speaks_the_pages_language(
    people: sessionmaker[Session],
    tmp_path: Path,
    handed_over: list[EmailMessage],
    language: str | None,
    default: str,
    subject: str,
) -> None:
    sent_now = portal_mail.send_sign_in_link(
        _settings(tmp_path, default),
        people,
        to="giulia@example.it",
        name="Giulia",
        url="https://cf.test/portal/link/t",
        link_hash="ab" * 32,
        language=language,
    )

    assert sent_now
    [sent] = handed_over
    assert str(sent["Subject"]) == subject
    html = _parts(sent)["text/html"]
    assert f'<html lang="{i18n.choose_language(language, None, default)}">' in html


def test_sign_in_link_without_a_language_keeps_working_as_before(
    people: sessionmaker[Session], tmp_path: Path, handed_over: list[EmailMessage]
) -> None:
    assert portal_mail.send_sign_in_link(
        _settings(tmp_path),
        people,
        to="giulia@example.it",
        name="Giulia",
        url="https://cf.test/portal/link/t",
        link_hash="cd" * 32,
    )

    [sent] = handed_over
    assert str(sent["Subject"]) == "Your sign-in link · Caseflow Support"
    assert _parts(sent)["text/plain"].startswith("Hello Giulia,\n\nhere is your link")


def _context(**changes: Any) -> dict[str, Any]:
    return {
        **CONTEXT,
        "case_number": "CAS-000123",
        "support_name": "Caseflow Support",
        **changes,
    }
