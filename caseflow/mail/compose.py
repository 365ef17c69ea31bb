"""Outgoing email: rendered from templates, with the headers that thread and stop loops.

Customers' emails speak the customer's language (`caseflow.i18n`): a `Templates` renders in
one language, the templates' sentences are marked with `_()`, and the subjects the workflows
write in English are translated by their form (`SUBJECTS`, `localized_subject`). Agents'
emails stay in English.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from caseflow import i18n
from caseflow.i18n import N_

TEMPLATES = Path(__file__).parent / "templates"
_TAG = re.compile(r"\[CAS-\d{6,}\]")

# The subjects the workflows and the intake give customers' emails, in English, by template
# (`%(subject)s`: the case's or message's own subject). They are written in the workflows'
# code, which is replayed from recorded histories and cannot change: the email is translated
# as it is built, when its subject has its template's form. A reply's "Re: ..." stays as is.
# tests/unit/test_mail_language.py ties each form to the code that writes it.
SUBJECTS: dict[str, str] = {
    "ack": N_("We received your request: %(subject)s"),  # lifecycle/outbound.py
    "resolution": N_("Proposed resolution: %(subject)s"),  # lifecycle/resolution.py
    "survey": N_("How did we do?"),  # lifecycle/timers.py
    "survey_reminder": N_("A minute for our survey?"),  # lifecycle/timers.py
    "notice_oversized": N_("Your message was too large: %(subject)s"),  # intake/notices.py
    "notice_refused": N_("We could not open a request: %(subject)s"),  # intake/notices.py
    "portal_sign_in": N_("Your sign-in link"),  # api/portal_mail.py
}
# What a case or message without a subject is called (lifecycle/creation.py, intake/notices.py).
NO_SUBJECT = N_("(no subject)")
# Where a sentence's quoted block goes (`around_quote`): never in a catalogue's text.
_QUOTE = "\x00quote\x00"


@dataclass
class Outgoing:
    """Everything an outgoing email needs, already decided and looked up."""

    key: str
    case_number: str
    template: str
    subject: str
    sender: str
    sender_name: str
    recipients: list[str]
    context: dict[str, Any]
    date: datetime
    auto_submitted: str = "auto-generated"
    reply_to: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)


class Templates:
    """The text and HTML templates of every email Caseflow sends, in one language (`_()` in a
    template translates; English is the templates' own text)."""

    def __init__(self, directory: Path = TEMPLATES, language: str = i18n.ENGLISH) -> None:
        self._directory = directory
        self._language = language
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.i18n"],
        )
        i18n.install(self._env, language)
        self._env.globals["quote_here"] = _QUOTE
        self._env.filters["around_quote"] = around_quote

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def language(self) -> str:
        return self._language

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        text = self._env.get_template(f"{name}.txt").render(context)
        html = self._env.get_template(f"{name}.html").render(context)
        return text, html

    def names(self) -> set[str]:
        return {path.name.split(".")[0] for path in self._directory.glob("*.txt")}


def around_quote(sentence: str) -> tuple[str, str]:
    """A translated sentence that quotes a block (`_("... %(subject)s ...",
    subject=quote_here)`), as the text before the block and the text after it, so that the
    template sets the block on lines of its own wherever the language puts it."""
    before, _, after = sentence.partition(_QUOTE)
    return before.rstrip(), after.lstrip()


def subject_values(template: str, subject: str) -> dict[str, str] | None:
    """The values of an English subject that has its template's form (`SUBJECTS`), else
    None: `{"subject": "Printer on fire"}` for an acknowledgement's
    "We received your request: Printer on fire"."""
    form = SUBJECTS.get(template)
    if form is None:
        return None
    match = _form_pattern(form).fullmatch(subject)
    return match.groupdict() if match else None


def localized_subject(template: str, subject: str, language: str) -> str:
    """The subject in the language, when it is its template's English form (else as it is):
    the form translated, with the case's own subject (untranslated, but for `NO_SUBJECT`)."""
    if language == i18n.ENGLISH:
        return subject
    values = subject_values(template, subject)
    if values is None:
        return subject
    _ = i18n.translations(language).gettext
    if values.get("subject") == NO_SUBJECT:
        values["subject"] = _(NO_SUBJECT)
    translated = _(SUBJECTS[template])
    return translated % values if values else translated


@functools.cache
def _form_pattern(form: str) -> re.Pattern[str]:
    literal = [re.escape(part.replace("%%", "%")) for part in form.split("%(subject)s")]
    return re.compile("(?P<subject>.*)".join(literal), re.DOTALL)


def message_id(key: str, case_number: str, domain: str) -> str:
    """Deterministic, so a resent email carries the same Message-ID as the first attempt."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"<{case_number}.{digest}@{domain}>"


def tagged_subject(case_number: str, subject: str) -> str:
    """Every outgoing subject carries the case tag once: `[CAS-000123] ...`."""
    clean = " ".join(_TAG.sub("", subject).split())
    return f"[{case_number}] {clean}"[:990]


def build(outgoing: Outgoing, templates: Templates, domain: str) -> EmailMessage:
    """The email, in the templates' language (its subject too, when it has its template's
    form)."""
    context = {
        **outgoing.context,
        "case_number": outgoing.case_number,
        "support_name": outgoing.sender_name,
    }
    language = templates.language
    if language != i18n.ENGLISH and context.get("case_subject") == NO_SUBJECT:
        context["case_subject"] = i18n.translations(language).gettext(NO_SUBJECT)
    text, html = templates.render(outgoing.template, context)
    subject = localized_subject(outgoing.template, outgoing.subject, language)
    msg = EmailMessage()
    msg["From"] = formataddr((outgoing.sender_name, outgoing.sender))
    msg["To"] = ", ".join(str(Address(addr_spec=r)) for r in outgoing.recipients)
    msg["Subject"] = tagged_subject(outgoing.case_number, subject)
    msg["Date"] = format_datetime(outgoing.date)
    msg["Message-ID"] = message_id(outgoing.key, outgoing.case_number, domain)
    if outgoing.reply_to:
        msg["Reply-To"] = formataddr((outgoing.sender_name, outgoing.reply_to))
    if outgoing.in_reply_to:
        msg["In-Reply-To"] = outgoing.in_reply_to
    if outgoing.references:
        msg["References"] = " ".join(outgoing.references)
    _loop_headers(msg, outgoing)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _loop_headers(msg: EmailMessage, outgoing: Outgoing) -> None:
    """RFC 3834 and the vendor headers that keep auto-responders from answering us."""
    if outgoing.auto_submitted != "no":
        msg["Auto-Submitted"] = outgoing.auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Precedence"] = "auto_reply" if outgoing.auto_submitted == "auto-replied" else "bulk"
    msg["X-Loop"] = outgoing.sender
    msg["X-Caseflow-Case"] = outgoing.case_number
