"""The supervisors' pages in a real browser (Chromium, JavaScript off): a supervisor signs in,
goes through queue health, quarantine, noise and metrics, and sees SVG charts drawn by the
server; the header links supervisors to the pages; nothing is loaded from any other host. Each
page is saved as a screenshot (`tests.support.browser.screenshot`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Request

from caseflow.api.app import create_app
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.store import directory, messages
from caseflow.store.db import make_engine, session_factory, transaction
from tests.browser.test_agent_pages import browser  # noqa: F401  (fixture)
from tests.integration.test_supervisor_pages import noise_row
from tests.support.browser import screenshot, served
from tests.support.read_model import add_case, write_march
from tests.support.servers import free_port

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[str]:
    now = datetime.now(UTC)
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(
            session, "sam", "sam@caseflow.test", "supervisor", ["escalations"], "s" * 64,
            display_name="Sam Jones", password_hash=hash_password(PASSWORD),
        )  # fmt: skip
        write_march(session)
        noise_row(session, "mailer-daemon@mx.example", "bounce")
        held = noise_row(session, "ada@customer.example", "human")
        held.status, held.reason = messages.QUARANTINED, "the message has no headers"
        add_case(session, "CAS-000201", queue="gold", created_at=now,
                 updated_at=now, sla_due_at=now + timedelta(minutes=20))  # fmt: skip
    engine.dispose()
    settings = Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",
    )
    async with served(create_app(settings)) as base:
        yield base


async def test_a_supervisor_sees_queue_health_lists_and_metrics_as_charts(
    browser: Browser,  # noqa: F811
    site: str,
) -> None:
    context = await browser.new_context(java_script_enabled=False)  # every path works without
    page = await context.new_page()
    hosts: set[str] = set()

    def note(request: Request) -> None:
        hosts.add(urlsplit(request.url).netloc)

    page.on("request", note)
    await page.goto(f"{site}/agent/supervisor")
    assert "/agent/sign-in" in page.url
    await page.fill("#login", "sam")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site}/agent/supervisor")

    assert await page.locator("svg.chart[role=img]").count() == 1
    assert await page.locator("svg.chart title").first.inner_html() == "Open cases per queue"
    gold = page.locator("tr", has=page.locator("th", has_text="gold"))
    # CAS-000004 of the March stories is still open; the new case breaches within 20 minutes.
    assert (await gold.locator("td").all_inner_texts())[:2] == ["2", "1"]
    await screenshot(page, "supervisor-1-queue-health")

    await page.click("nav.tabs >> text=Quarantine")
    await page.wait_for_url(f"{site}/agent/supervisor/quarantine")
    assert "the message has no headers" in await page.locator("main table").inner_text()
    await screenshot(page, "supervisor-2-quarantine")
    # Nothing here runs Temporal: the API's refusal is shown on the page.
    await page.click("button:has-text('Reprocess')")
    assert "Temporal is not reachable" in await page.locator("[role=alert]").inner_text()
    assert await page.locator("main table tbody tr").count() == 1  # still there, to try again

    await page.click("nav.tabs >> text=Noise")
    await page.wait_for_url(f"{site}/agent/supervisor/noise")
    await page.select_option("#class", "bounce")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/agent/supervisor/noise?class=bounce&sender=")
    assert "mailer-daemon@mx.example" in await page.locator("main table").inner_text()
    assert await page.locator("button", has_text="Promote").count() == 1
    await screenshot(page, "supervisor-3-noise-bounces")

    await page.click("nav.tabs >> text=Metrics")
    await page.fill("#from", "2026-03-01")
    await page.fill("#to", "2026-04-01")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/agent/supervisor/metrics?from=2026-03-01&to=2026-04-01")
    charts = page.locator("svg.chart[role=img]")
    assert await charts.count() >= 10
    assert await page.locator("svg.chart rect title").count() > 0  # bars with their figures
    assert await page.locator("svg.chart circle").count() == 62  # two lines of 31 days
    box = await charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn, not empty
    assert await page.locator("section.figure table").count() == await charts.count()
    await screenshot(page, "supervisor-4-metrics")

    await page.click("header >> text=Sign out")
    await page.fill("#login", "sam")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site}/agent")
    await page.click("header >> text=Supervision")  # the header's link, for supervisors
    await page.wait_for_url(f"{site}/agent/supervisor")
    assert hosts == {urlsplit(site).netloc}
    await context.close()
