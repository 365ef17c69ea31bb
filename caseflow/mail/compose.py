"""Outgoing email: rendered from templates, with the headers that thread and stop loops."""

from __future__ import annotations

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

TEMPLATES = Path(__file__).parent / "templates"
_TAG = re.compile(r"\[CAS-\d{6,}\]")


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
    """The text and HTML templates of every email Caseflow sends."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._directory = directory
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        text = self._env.get_template(f"{name}.txt").render(context)
        html = self._env.get_template(f"{name}.html").render(context)
        return text, html

    def names(self) -> set[str]:
        return {path.name.split(".")[0] for path in self._directory.glob("*.txt")}


def message_id(key: str, case_number: str, domain: str) -> str:
    """Deterministic, so a resent email carries the same Message-ID as the first attempt."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"<{case_number}.{digest}@{domain}>"


def tagged_subject(case_number: str, subject: str) -> str:
    """Every outgoing subject carries the case tag once: `[CAS-000123] ...`."""
    clean = " ".join(_TAG.sub("", subject).split())
    return f"[{case_number}] {clean}"[:990]


def build(outgoing: Outgoing, templates: Templates, domain: str) -> EmailMessage:
    context = {
        **outgoing.context,
        "case_number": outgoing.case_number,
        "support_name": outgoing.sender_name,
    }
    text, html = templates.render(outgoing.template, context)
    msg = EmailMessage()
    msg["From"] = formataddr((outgoing.sender_name, outgoing.sender))
    msg["To"] = ", ".join(str(Address(addr_spec=r)) for r in outgoing.recipients)
    msg["Subject"] = tagged_subject(outgoing.case_number, outgoing.subject)
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
