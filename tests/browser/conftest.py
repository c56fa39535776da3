"""Headless Chromium for the page's tests: Debian's build at /usr/bin/chromium, never a downloaded one.

The browser is started once per session; each test gets a fresh context (no shared sessionStorage) and a page whose
console errors are collected, so that every test can assert the page logged none.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.service import Service
from tests.support.strict import require

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Error, Page

CHROMIUM = Path(os.environ.get("LINKCAST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Every wait in these tests is on something the page shows, bounded by this (seconds).
WAIT = 20.0


@dataclass
class ConsoleLog:
    """Errors the page logged or threw; ``unexpected()`` leaves out those a test expects (a server it stopped)."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")

    def unexpected(self, allowed: Iterable[str] = ()) -> list[str]:
        patterns = [re.compile(p) for p in allowed]
        return [e for e in self.errors if not any(p.search(e) for p in patterns)]


@dataclass
class BrowserPage:
    page: Page
    console: ConsoleLog


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    require(
        CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; or set LINKCAST_CHROMIUM)",
    )
    require(importlib.util.find_spec("playwright") is not None, "Playwright for Python is not installed")
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT * 1000)  # a loaded 2-core machine can take longer than Playwright's 5 s
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def browser_page(browser: Browser) -> AsyncIterator[BrowserPage]:
    context = await browser.new_context(viewport={"width": 1100, "height": 800}, color_scheme="light")
    context.set_default_timeout(WAIT * 1000)
    page = await context.new_page()
    console = ConsoleLog()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    yield BrowserPage(page, console)
    await context.close()


@pytest.fixture
async def durable_service(tmp_path: Path) -> AsyncIterator[Service]:
    """The service on SQLite in ``tmp_path``: its event log outlives a restart."""
    running = Service(
        "--allow-private-networks", store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log"
    )
    await running.start()
    yield running
    running.stop()
