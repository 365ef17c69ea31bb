"""The API in-process (lifespan included) over httpx, with a real worker behind it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from caseflow.api.app import create_app
from caseflow.settings import Settings

LINK = re.compile(r"https?://\S+/(survey|resolution)/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
BASE_URL = "http://caseflow"


@asynccontextmanager
async def api_client(settings: Settings, client: Client | None) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings, client)) as http:
        yield http


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An app already made (a test that reads its routes), lifespan included."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def link_token(message: EmailMessage, purpose: str) -> str:
    """The signed token of a survey or resolution link in an email's text part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    for found_purpose, token in LINK.findall(text):
        if found_purpose == purpose:
            return str(token)
    raise AssertionError(f"no {purpose} link in {text!r}")
