"""What a page tried to load from anywhere but its own server, for the tests that prove it loads nothing from
elsewhere.

Every request to anything but the server is blocked and counted, and so is every load the page's
Content-Security-Policy refuses (those never reach the network).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Route, WebSocket

from tests.browser.conftest import WAIT

# Reported by the page to the test (an init script runs whatever the page's policy says).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.effectiveDirective} refused ${event.blockedURI}`);
});
"""


@dataclass
class OutsideLoads:
    """What the page tried to load from anywhere but ``origin``: requests (aborted), WebSockets, and loads its
    Content-Security-Policy refused."""

    origin: str
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _counted: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def watch(self, context: BrowserContext) -> None:
        await context.route("**/*", self.only_the_server)
        await context.expose_function("reportViolation", self.on_violation)
        await context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", lambda page: page.on("websocket", self.on_websocket))

    async def only_the_server(self, route: Route) -> None:
        if origin_of(route.request.url) == self.origin:
            await route.continue_()
            return
        await route.abort("blockedbyclient")
        await self.count(self.requests, route.request.url)

    async def on_violation(self, report: str) -> None:
        await self.count(self.refused, report)

    def on_websocket(self, ws: WebSocket) -> None:
        if origin_of(ws.url.replace("ws", "http", 1)) != self.origin:
            self.requests.append(ws.url)

    async def count(self, where: list[str], what: str) -> None:
        async with self._counted:
            where.append(what)
            self._counted.notify_all()

    async def until(self, loads: int) -> list[str]:
        """Every outside load, once there are at least ``loads``."""
        async with asyncio.timeout(WAIT), self._counted:
            await self._counted.wait_for(lambda: len(self.all()) >= loads)
        return self.all()

    def all(self) -> list[str]:
        return self.requests + self.refused


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
