"""Ask headless Chromium, with JavaScript disabled, which links it sees in a page: the reference for the link cases.

Debian's Chromium at ``/usr/bin/chromium`` (or ``LINKCAST_CHROMIUM``), driven by Playwright; never a downloaded build.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.chromium import launch_chromium

if TYPE_CHECKING:
    from playwright.async_api import Page

NAVIGATION_TIMEOUT_MS = 30_000
# The pages read are on 127.0.0.1 and their links point anywhere: Chromium prefetches the DNS of an http(s) <a href>'s
# host in an http page, so every other name is made to fail here, never asked of a resolver.
LOOPBACK_ONLY = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)

# DESIGN.md's rule, evaluated in the page: document.links' hrefs, kept if they parse as http(s) URLs (an href that
# fails to parse reads back as its raw attribute, which then fails here), first occurrence kept, in document order.
LINKS_SCRIPT = """() => {
  const seen = new Set(), links = [];
  for (const a of document.links) {
    const href = a.href;
    let url;
    try { url = new URL(href); } catch { continue; }
    if ((url.protocol === "http:" || url.protocol === "https:") && !seen.has(href)) {
      seen.add(href);
      links.push(href);
    }
  }
  return links;
}"""


@dataclass
class ChromiumReader:
    """One page in a JavaScript-disabled context; ``read(url)`` navigates and returns (final URL, links)."""

    page: Page

    async def read(self, url: str) -> tuple[str, list[str]]:
        await self.page.goto(url, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
        links: list[str] = await self.page.evaluate(LINKS_SCRIPT)
        return self.page.url, links


@asynccontextmanager
async def chromium_reader() -> AsyncIterator[ChromiumReader]:
    async with launch_chromium(LOOPBACK_ONLY) as browser:
        context = await browser.new_context(java_script_enabled=False)
        yield ChromiumReader(await context.new_page())
