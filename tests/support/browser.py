"""A real browser for the pages: Debian's Chromium driven by Playwright, and the API served by
uvicorn on a free port of 127.0.0.1 for it to open."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from tests.support.servers import free_port

# As the machine's probe starts it: without the background-networking flags Chromium reaches
# for Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on http://127.0.0.1:<free port>, lifespan included; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# Where browser tests save a screenshot of each page they see (CI keeps the folder in its log).
SCREENSHOTS = Path(
    os.environ.get("CASEFLOW_SCREENSHOTS")
    or Path(__file__).resolve().parent.parent / "browser" / "screenshots"
)


async def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot, `<folder>/<name>.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
