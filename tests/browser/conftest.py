"""Headless Chromium for the page's tests: Debian's build at /usr/bin/chromium, never a downloaded one.

The browser is started once per session; each test gets a fresh context (no shared sessionStorage) and a page whose
console errors are collected, so that every test can assert the page logged none.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from tests.support.chromium import launch_chromium, require_chromium

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Error, Page

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
    require_chromium()
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT * 1000)  # a loaded 2-core machine can take longer than Playwright's 5 s
    async with launch_chromium() as launched:
        yield launched


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
