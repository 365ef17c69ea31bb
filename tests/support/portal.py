"""The customer portal as a customer uses it over HTTP: ask for a sign-in link, find it in the
SMTP sink, follow it and press its button."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx

from tests.support.servers import SmtpSink

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PORTAL_LINK = re.compile(r"https?://[^/\s]+(/portal/link/[A-Za-z0-9_\-.]+(?:\?\S*)?)")
SIGN_IN_SUBJECT = "Your sign-in link"


async def csrf_of(http: httpx.AsyncClient, path: str = "/portal/sign-in") -> str:
    page = await http.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def ask_for_link(http: httpx.AsyncClient, email: str) -> httpx.Response:
    form = {"email": email, "csrf": await csrf_of(http)}
    return await http.post("/portal/sign-in", data=form)


def link_of(message: EmailMessage) -> str:
    """The sign-in link's path (and query) in a sign-in email's text."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    found = PORTAL_LINK.search(part.get_content())
    assert found, part.get_content()
    return found.group(1)


async def emailed_link(http: httpx.AsyncClient, sink: SmtpSink, email: str) -> str:
    """Ask for a link and answer the one that arrives (the newest to that address)."""
    before = len(sink.sent_to(email))
    asked = await ask_for_link(http, email)
    assert asked.status_code == 200, asked.text
    await sink.arrived(lambda _: len(sink.sent_to(email)) > before)
    return link_of(sink.sent_to(email)[-1])


async def use_link(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link's page and press its button, as a browser does."""
    path = link.split("?", 1)[0]
    return await http.post(path, data={"csrf": await csrf_of(http, link)})


async def sign_in(http: httpx.AsyncClient, sink: SmtpSink, email: str) -> None:
    signed = await use_link(http, await emailed_link(http, sink, email))
    assert signed.status_code == 303, signed.text
