"""Headless Chromium for tests and scripts: Debian's build at /usr/bin/chromium (or LINKCAST_CHROMIUM), driven by
Playwright; never a downloaded build (none can be fetched here)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.strict import require

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("LINKCAST_CHROMIUM", "/usr/bin/chromium"))
# As root and with no network but the registries: no sandbox, and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK) and importlib.util.find_spec("playwright") is not None


def require_chromium() -> None:
    """Skip (fail under LINKCAST_TEST_STRICT=1) where Chromium or Playwright is missing."""
    require(
        chromium_available(),
        f"Chromium at {CHROMIUM} and Playwright are needed (apt-get install chromium; or set LINKCAST_CHROMIUM)",
    )


@asynccontextmanager
async def launch_chromium(extra_args: tuple[str, ...] = ()) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        args = [*CHROMIUM_ARGS, *extra_args]
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
