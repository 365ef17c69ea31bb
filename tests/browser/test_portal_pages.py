"""The customer portal in a real browser (Chromium) against the Temporal dev server and a real
worker: the customer asks for a sign-in link, follows it from the SMTP sink, sees their case,
is offered articles while typing a new request's subject, and accepts the proposed resolution;
nothing is loaded from any other host than Caseflow. Every page is saved as a screenshot
(`tests.support.browser.screenshot`: `CASEFLOW_SCREENSHOTS`, else tests/browser/screenshots)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Request
from temporalio.testing import WorkflowEnvironment

from caseflow import i18n
from caseflow.api.app import create_app
from caseflow.settings import Settings
from tests.conftest import missing
from tests.support.api import api_client, bearer
from tests.support.browser import chromium, chromium_path, screenshot, served
from tests.support.harness import GOLD_CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.portal import SIGN_IN_SUBJECT, link_of
from tests.support.servers import SmtpSink

ANN = bearer("ann")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        missing("Chromium is not installed (apt-get install chromium)")
        raise AssertionError("unreachable")
    async with chromium(executable) as found:
        yield found


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    quick = settings.model_copy(update={"api_update_timeout": timedelta(seconds=30)})
    async with running_worker(dev_env.client, quick, smtp_sink) as found:
        yield found


async def resolved_case(harness: Harness) -> str:
    number = (await harness.open_case(customer=GOLD_CUSTOMER, subject="VPN drops hourly")).id
    await harness.settled(number)
    async with api_client(harness.settings, harness.client) as api:
        for action, body in (
            ("pick", None),
            ("reply", {"body": "Try the new client, please."}),
            ("resolve", {"resolution": "The new client fixes it.", "fields": STAGES_DONE}),
        ):
            answer = await api.post(f"/cases/{number}/{action}", json=body, headers=ANN)
            assert answer.status_code == 200, answer.text
    await harness.settled(number)
    return number


async def test_a_customer_signs_in_by_email_sees_their_case_and_accepts_the_resolution(
    browser: Browser, harness: Harness
) -> None:
    number = await resolved_case(harness)
    page = await browser.new_page()
    hosts: set[str] = set()

    def note(request: Request) -> None:
        hosts.add(urlsplit(request.url).netloc)

    page.on("request", note)
    async with served(create_app(harness.settings, harness.client)) as site:
        await page.goto(f"{site}/portal")
        assert "/portal/sign-in" in page.url
        await screenshot(page, "portal-1-sign-in")
        await page.fill("#email", GOLD_CUSTOMER)
        await page.click("button[type=submit].primary")
        assert await page.locator("h1").inner_text() == "Check your email"
        await screenshot(page, "portal-2-check-your-email")

        mail = await harness.sink.arrived(
            lambda ms: any(SIGN_IN_SUBJECT in str(m["Subject"]) for m in ms)
        )
        link = link_of(next(m for m in mail if SIGN_IN_SUBJECT in str(m["Subject"])))
        await page.goto(f"{site}{link}")
        await screenshot(page, "portal-3-link")
        await page.click("text=Sign in to")
        await page.wait_for_url(f"{site}/portal")
        await screenshot(page, "portal-4-home")
        await page.click(f"text={number}")
        await page.wait_for_url(f"{site}/portal/cases/{number}")
        assert "The new client fixes it." in await page.locator("main").inner_text()
        await screenshot(page, "portal-5-case-resolved")

        await page.click("text=New request")
        await page.fill("#subject", "export archive")
        await page.wait_for_selector("#suggestions a")  # offered while typing (same-origin JS)
        assert "Exporting your data" in await page.locator("#suggestions").inner_text()
        await screenshot(page, "portal-6-new-request-suggestions")
        await page.go_back()

        await page.click("text=Yes, it is solved: close my case")
        await page.wait_for_url(f"{site}/portal/cases/{number}?done=accepted")
        assert "the case is closed" in await page.locator("main").inner_text()
        await screenshot(page, "portal-7-case-accepted")
        await page.click("text=Sign out")
        await page.wait_for_url(f"{site}/portal/sign-in")
        assert hosts == {urlsplit(site).netloc}

    await harness.settled(number)
    async with api_client(harness.settings, harness.client) as api:
        case = (await api.get(f"/cases/{number}", headers=ANN)).json()
    assert case["status"] == "closed"


async def test_an_italian_browser_gets_the_portal_and_its_sign_in_email_in_italian(
    browser: Browser, harness: Harness
) -> None:
    """Bob names no language of his own: his browser's (it-IT) chooses, for the pages and for
    the sign-in email those pages send."""
    italian = i18n.translations("it").gettext
    context = await browser.new_context(locale="it-IT")
    page = await context.new_page()
    async with served(create_app(harness.settings, harness.client)) as site:
        await page.goto(f"{site}/portal/sign-in")
        assert await page.locator("html").get_attribute("lang") == "it"
        assert await page.locator("h1").inner_text() == italian("Sign in")
        await screenshot(page, "portal-8-sign-in-italian")
        await page.fill("#email", "bob@acme.example")
        await page.click("button[type=submit].primary")
        assert await page.locator("h1").inner_text() == italian("Check your email")

        subject = italian(SIGN_IN_SUBJECT)
        mail = await harness.sink.arrived(lambda ms: any(subject in str(m["Subject"]) for m in ms))
        message = next(m for m in mail if subject in str(m["Subject"]))
        assert str(message["To"]) == "bob@acme.example"
        text = message.get_body(preferencelist=("plain",))
        assert text is not None and "Hello" not in text.get_content()
        await page.goto(f"{site}{link_of(message)}")
        await page.click("button[type=submit].primary")
        await page.wait_for_url(f"{site}/portal")
        assert await page.locator("h1").inner_text() == italian("Your requests")
        await screenshot(page, "portal-9-home-italian")
    await context.close()
