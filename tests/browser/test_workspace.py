"""The workspace in a real browser (Chromium) on the Temporal dev server with a real worker: an
agent finds a new emailed case in their queue, picks it, sends a knowledge article as the reply
and resolves it; a second agent's page says the case changed, and their stale action is refused;
an email carrying a script and a tracking pixel shows nothing active; the customer signs in to
the portal with the emailed link and accepts the resolution. Every page is saved as a
screenshot (`tests/support/browser.SCREENSHOTS`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Request
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.api.app import create_app
from caseflow.client import start_case
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.store import cases, directory, knowledge
from caseflow.store.db import transaction
from caseflow.store.knowledge import ArticleContent
from caseflow.store.models import Agent
from caseflow.workflows.model import Channel, InboundEmail, NewCase
from tests.conftest import missing
from tests.support.browser import chromium, chromium_path, screenshot, served
from tests.support.harness import CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.portal import SIGN_IN_SUBJECT, link_of
from tests.support.servers import SmtpSink

PASSWORD = "correct horse battery staple"
ARTICLE = ArticleContent(
    "Printer on fire: replace the fuser",
    "Switch the printer off, let it cool, and replace the fuser unit.",
    "printer fire fuser",
    None,
)
HOSTILE = (
    "Hello,\n<script>document.title='pwned'</script>"
    '<img src="http://tracker.example/pixel.gif?u=carol" width="1" height="1">'
    "<img src=x onerror=\"document.title='pwned'\">\nmy printer is on fire.\n"
)


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
    async with running_worker(dev_env.client, settings, smtp_sink) as harness:
        with transaction(harness.sessions) as session:
            password = hash_password(PASSWORD)
            for agent in session.scalars(select(Agent)):
                agent.password_hash = password
            knowledge.save_article(session, ARTICLE, "author")
        yield harness


@pytest.fixture
async def site(harness: Harness) -> AsyncIterator[str]:
    async with served(create_app(harness.settings, harness.client)) as base:
        yield base


async def emailed_case(harness: Harness) -> str:
    """A case opened by a customer's email whose text carries a script and tracking pixels."""
    key = f"test:{uuid.uuid4().hex}"
    with transaction(harness.sessions) as session:
        number = cases.allocate_case_number(session, key)
    email = InboundEmail(
        key=key, sender=CUSTOMER, subject="Printer on fire", received_at=datetime.now(UTC),
        text=HOSTILE, message_id=f"<{uuid.uuid4().hex}@customer.example>",
    )  # fmt: skip
    new = NewCase(
        channel=Channel.EMAIL, subject="Printer on fire", description=HOSTILE,
        customer_email=CUSTOMER, email=email,
    )  # fmt: skip
    await start_case(harness.client, number, new, harness.settings.task_queue)
    await harness.settled(number)
    return number


class Visit:
    """One agent's browser page: every host it asks, every dialog a script opens."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.hosts: set[str] = set()
        self.dialogs: list[str] = []
        page.on("request", self._asked)
        page.on("dialog", lambda dialog: self.dialogs.append(dialog.message))

    def _asked(self, request: Request) -> None:
        self.hosts.add(urlsplit(request.url).netloc)

    async def sign_in(self, login: str) -> None:
        await self.page.goto(f"{self.base}/agent/sign-in")
        await self.page.fill("#login", login)
        await self.page.fill("#password", PASSWORD)
        await self.page.click("button[type=submit]")
        await self.page.wait_for_url(f"{self.base}/agent")

    async def act(self, action: str) -> None:
        """Open the action's box (with the keyboard) and send its form."""
        summary = self.page.locator(f"details:has(form[data-action={action}]) > summary")
        await summary.focus()
        await self.page.keyboard.press("Enter")
        await self.page.locator(f"form[data-action={action}] button[type=submit]").click()

    async def unlabelled(self) -> list[str]:
        """The page's controls that have no label (nor aria-label)."""
        found: list[str] = await self.page.evaluate(
            """() => [...document.querySelectorAll(
                   "input:not([type=hidden]), textarea, select")]
                 .filter(c => !(c.labels && c.labels.length) && !c.getAttribute("aria-label"))
                 .map(c => c.name || c.id)"""
        )
        return found


async def test_an_agent_works_a_new_case_and_a_second_agents_stale_action_is_refused(
    browser: Browser, harness: Harness, site: str
) -> None:
    number = await emailed_case(harness)
    ann = Visit(await (await browser.new_context()).new_page(), site)
    sam = Visit(await (await browser.new_context()).new_page(), site)

    await ann.sign_in("ann")
    await screenshot(ann.page, "workspace-1-all-cases")
    await ann.page.click("text=Queue standard")
    await ann.page.wait_for_url(f"{site}/agent?queue=standard")
    row = ann.page.locator("table.cases tr", has_text=number)
    assert "new" in await row.inner_text() and "unassigned" in await row.inner_text()
    await screenshot(ann.page, "workspace-2-queue-standard")
    await row.locator(f"a:text('{number}')").click()
    await ann.page.wait_for_url(f"{site}/agent/cases/{number}")
    await screenshot(ann.page, "workspace-3-case-new")

    # The customer's email is text: no script ran, no pixel was fetched, nothing from elsewhere.
    assert (
        "<script>document.title='pwned'</script>"
        in await ann.page.locator("ol.timeline").inner_text()
    )
    assert await ann.page.title() != "pwned" and ann.dialogs == []
    assert await ann.page.locator("main img, main script, main iframe").count() == 0
    assert await ann.unlabelled() == []

    await sam.sign_in("sam")
    await sam.page.goto(f"{site}/agent/cases/{number}")
    await screenshot(sam.page, "workspace-4-second-agent-opens-the-case")

    await ann.act("pick")
    await ann.page.wait_for_url(f"{site}/agent/cases/{number}")
    assert "Owner\nann" in await ann.page.locator("dl.facts").inner_text()
    await screenshot(ann.page, "workspace-5-case-picked")
    await ann.page.click(f"text=Send as reply: {ARTICLE.title}")
    await ann.page.wait_for_url(f"{site}/agent/cases/{number}")
    timeline = await ann.page.locator("ol.timeline").inner_text()
    assert "ann · replied" in timeline and "replace the fuser unit" in timeline
    await ann.page.locator("details:has(form[data-action=resolve]) > summary").click()
    resolve = ann.page.locator("form[data-action=resolve]")
    await resolve.get_by_label("Resolution").fill("Fuser replaced.")
    await resolve.get_by_label("Time spent minutes").fill("40")
    for name, value in STAGES_DONE.items():
        await resolve.locator(f"input[name='fields.{name}']").fill(value)
    await screenshot(ann.page, "workspace-6-resolving")
    await resolve.locator("button[type=submit]").click()
    await ann.page.wait_for_url(f"{site}/agent/cases/{number}")
    assert "resolved" in await ann.page.locator("dl.facts").inner_text()
    await screenshot(ann.page, "workspace-7-case-resolved")

    banner = sam.page.locator("#changed")
    await banner.wait_for(state="visible", timeout=20_000)
    assert "changed by ann" in await banner.inner_text()
    await screenshot(sam.page, "workspace-8-second-agent-told-it-changed")
    await sam.page.fill("#composer-body", "Adding my two cents.")
    await sam.page.click("text=Add internal note")
    refusal = sam.page.locator("#refusal")
    assert (await refusal.inner_text()).startswith("This case changed since you opened it:")
    await screenshot(sam.page, "workspace-9-stale-action-refused")

    with transaction(harness.sessions, writes=False) as session:
        events = cases.case_events(session, number)
        case = cases.get_case(session, number)
    assert case is not None and (case.status, case.owner) == ("resolved", "ann")
    assert [e for e in events if e.kind == "note"] == []
    assert ann.hosts == sam.hosts == {urlsplit(site).netloc}

    # The customer answers in the portal: signs in with the emailed link and accepts.
    carol = Visit(await (await browser.new_context()).new_page(), site)
    await carol.page.goto(f"{site}/portal/sign-in")
    await carol.page.fill("#email", CUSTOMER)
    await carol.page.click("button[type=submit].primary")
    mail = await harness.sink.arrived(
        lambda ms: any(SIGN_IN_SUBJECT in str(m["Subject"]) for m in ms)
    )
    await carol.page.goto(
        f"{site}{link_of(next(m for m in mail if SIGN_IN_SUBJECT in str(m['Subject'])))}"
    )
    await carol.page.click("button[type=submit].primary")
    await carol.page.wait_for_url(f"{site}/portal")
    await carol.page.goto(f"{site}/portal/cases/{number}")
    assert "Fuser replaced." in await carol.page.locator("main").inner_text()
    await carol.page.click("text=Yes, it is solved: close my case")
    await carol.page.wait_for_url(f"{site}/portal/cases/{number}?done=accepted")
    await screenshot(carol.page, "workspace-11-customer-accepted-in-the-portal")
    await harness.settled(number)
    with transaction(harness.sessions, writes=False) as session:
        closed = cases.get_case(session, number)
    assert closed is not None and closed.status == "closed"
    assert carol.hosts == {urlsplit(site).netloc}


async def test_a_form_without_its_token_and_another_queues_case_are_refused_in_the_browser(
    browser: Browser, harness: Harness, site: str
) -> None:
    """In the browser as an attacker or a curious agent would try: a note posted with the
    agent's own cookie but no CSRF token (as another site's form would send it), and the page
    of a case in a queue the agent is not in. Each answers a page that says so; nothing
    changes."""
    number = await emailed_case(harness)  # in `standard`
    with transaction(harness.sessions) as session:
        directory.create_agent(session, "gil", "gil@caseflow.test", "agent", ["gold"], "x" * 64)
        gil = session.scalars(select(Agent).where(Agent.handle == "gil")).one()
        gil.password_hash = hash_password(PASSWORD)
    ann = Visit(await (await browser.new_context()).new_page(), site)
    await ann.sign_in("ann")
    await ann.page.goto(f"{site}/agent/cases/{number}")
    forged = await ann.page.request.post(
        f"{site}/agent/cases/{number}/act/note",
        form={"body": "planted", "version": "99", "idempotency_key": "k1"},
        max_redirects=0,
    )
    assert forged.status == 403, await forged.text()
    assert "came from elsewhere; nothing was done" in await forged.text()

    other = Visit(await (await browser.new_context()).new_page(), site)
    await other.sign_in("gil")
    answer = await other.page.goto(f"{site}/agent/cases/{number}")
    assert answer is not None and answer.status == 404
    await screenshot(other.page, "workspace-10-another-queues-case")
    assert "that you can see" in await other.page.locator("main").inner_text()

    with transaction(harness.sessions, writes=False) as session:
        events = cases.case_events(session, number)
    assert [e for e in events if e.kind == "note"] == []
