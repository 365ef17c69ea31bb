"""Customers' pages in their language: the portal's and the one-click links' (`i18n` chooses).

A page is rendered by the templates of its language, whose `_()` is that language's catalogue.
The page's own sentences that the routes give it (`title`, `message`, `error`, `notice`: marked
with `N_` where they are written, or `Said` with their values) are translated here, once, so
no route translates by hand; a sentence that no catalogue knows (an agent's words, a rule's
refusal) is shown as written.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from caseflow import i18n
from caseflow.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRANSLATED = ("title", "message", "error", "notice")


@functools.cache
def templates_for(language: str) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    return Jinja2Templates(env=i18n.install(env, language))


def page_language(request: Request, settings: Settings, contact_language: str = "") -> str:
    """The contact's language, else the browser's, else the organisation's default."""
    accept = request.headers.get("accept-language")
    return i18n.choose_language(contact_language, accept, settings.default_language)


def render(
    request: Request, language: str, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """The page in `language`, its given sentences translated."""
    given = {k: context[k] for k in TRANSLATED if isinstance(context.get(k), str) and context[k]}
    shown = {**context, **{k: i18n.translate(text, language) for k, text in given.items()}}
    response = templates_for(language).TemplateResponse(
        request, template, shown, status_code=status
    )
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language, Cookie"  # the language is chosen by them
    return response
