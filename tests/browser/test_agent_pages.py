"""The agent's pages in a real browser (Chromium): a case link from an email asks to sign in,
shows the case, hostile text as text, and signing out ends it; nothing is loaded from any other
host than Caseflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Request

from caseflow.api.app import create_app
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from tests.conftest import missing
from tests.support.browser import chromium, chromium_path, served
from tests.support.read_model import add_case
from tests.support.servers import free_port

PASSWORD = "correct horse battery staple"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"> Printer on fire"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        missing("Chromium is not installed (apt-get install chromium)")
        raise AssertionError("unreachable")
    async with chromium(executable) as found:
        yield found


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[str]:
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(
            session, "ann", "ann@caseflow.test", "agent", ["standard"], "a" * 64,
            display_name="Ann Smith",
        )  # fmt: skip
        ann = directory.agent_by_handle(session, "ann")
        assert ann is not None
        ann.password_hash = hash_password(PASSWORD)
        add_case(session, "CAS-000001", subject=HOSTILE, description="<b>not bold</b>")
    engine.dispose()
    settings = Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",
    )
    async with served(create_app(settings)) as base:
        yield base


async def test_an_emailed_case_link_signs_in_shows_the_case_and_signs_out(
    browser: Browser, site: str
) -> None:
    page = await browser.new_page()
    hosts: set[str] = set()

    def note(request: Request) -> None:
        hosts.add(urlsplit(request.url).netloc)

    page.on("request", note)
    await page.goto(f"{site}/agent/cases/CAS-000001")
    assert "/agent/sign-in" in page.url
    await page.fill("#login", "ann")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")

    await page.wait_for_url(f"{site}/agent/cases/CAS-000001")
    assert await page.locator("h1").inner_text() == HOSTILE  # shown as text, never run
    assert await page.title() != "pwned"
    assert await page.locator("img").count() == 0
    assert "<b>not bold</b>" in await page.locator("main").inner_text()
    assert "Ann Smith" in await page.locator("header").inner_text()
    await page.click("text=Sign out")
    await page.wait_for_url(f"{site}/agent/sign-in")
    await page.goto(f"{site}/agent/cases/CAS-000001")
    assert "/agent/sign-in" in page.url
    assert hosts == {urlsplit(site).netloc}


async def test_a_wrong_password_is_said_on_the_same_form(browser: Browser, site: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{site}/agent/sign-in")
    await page.fill("#login", "ann")
    await page.fill("#password", "not it at all")
    await page.click("button[type=submit]")

    assert await page.locator(".error").inner_text() == "The handle or password is wrong."
    assert await page.input_value("#login") == "ann"
    assert await page.input_value("#password") == ""
