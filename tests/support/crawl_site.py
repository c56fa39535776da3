"""A site with a known link graph to crawl: cycles, fragments, off-site links, robots.txt rules, a sitemap, a slow
page, a broken page, a redirect into a page already visited, and a calendar that never ends. Every request is counted
by path, so a test can tell that no URL was fetched twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from tests.support.site import LocalSite

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def html(*hrefs: str) -> str:
    return "".join(f'<a href="{href}">{href}</a>' for href in hrefs)


class CrawlSite(LocalSite):
    """``graph()`` as pages on loopback; ``other`` is an off-site origin (``localhost``, another host name)."""

    def __init__(self, robots: str = ROBOTS, slow_seconds: float = 0.0) -> None:
        super().__init__()
        self.requests: Counter[str] = Counter()
        self.robots = robots
        self.slow_seconds = slow_seconds
        self.app.middlewares.append(self._count)

    @property
    def other(self) -> str:
        return f"http://localhost:{self.port}"

    def graph(self) -> dict[str, str]:
        """Each page's links, as written in its HTML."""
        return {
            "/": html("/a", "/b", "/c#top", "/a", "/private/x", "/broken", "/redirect-to-a", "/calendar/2026/1",
                      f"{self.other}/offsite", "mailto:x@example.com"),
            "/a": html("/", "/a/deep", "#self"),
            "/a/deep": html("/a/deep/deeper"),
            "/a/deep/deeper": html("/a"),
            "/b": html("/b1", "/b2", "/slow"),
            "/b1": html("/b"),
            "/b2": "",
            "/c": html("/"),
            "/private/x": html("/private/y"),
            "/private/y": "",
            "/slow": html("/after-slow"),
            "/after-slow": "",
            "/from-sitemap": html("/"),
            "/offsite": html("/"),
        }  # fmt: skip

    async def start(self) -> None:
        for path, body in self.graph().items():
            self.page(path, body)
        self.page("/broken", "oops", status=500)
        self.route("/redirect-to-a", self._redirect_to_a)
        self.route("/robots.txt", self._robots)
        self.route("/sitemap.xml", self._sitemap)
        self.route("/slow", self._slow)
        await super().start()

    @web.middleware
    async def _count(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        self.requests[request.path] += 1
        if request.path.startswith("/calendar/"):
            return self._calendar(request.path)
        return await handler(request)

    @staticmethod
    def _calendar(path: str) -> web.Response:
        """A month page links to the next month, forever: a trap that only max_pages and max_depth stop."""
        year, month = (int(part) for part in path.split("/")[2:4])
        following = f"/calendar/{year + month // 12}/{month % 12 + 1}"
        return web.Response(text=html(following), content_type="text/html")

    async def _redirect_to_a(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/a"})

    async def _robots(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(text=self.robots + f"Sitemap: {self.origin}/sitemap.xml\n", content_type="text/plain")

    async def _sitemap(self, _request: web.Request) -> web.StreamResponse:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.origin}/from-sitemap</loc></url><url><loc>{self.origin}/</loc></url></urlset>"
        )
        return web.Response(text=body, content_type="application/xml")

    async def _slow(self, _request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.slow_seconds)
        return web.Response(text=html("/after-slow"), content_type="text/html")


class TreeSite(LocalSite):
    """``pages`` pages, ``/p/0`` to ``/p/<pages - 1>``, page n linking to 2n+1 and 2n+2 (and back to 0): every page
    within about log2(pages) links of the root. Each answers after ``delay`` seconds; requests are counted by path.
    ``offsite_links`` more links on each page, to another host (out of a same-host crawl's scope), make each page's
    outcome that much larger to store."""

    def __init__(self, pages: int, delay: float = 0.0, offsite_links: int = 0) -> None:
        super().__init__()
        self.pages = pages
        self.delay = delay
        self.offsite_links = offsite_links
        self.requests: Counter[str] = Counter()
        self.app.middlewares.append(self._page)

    def all_urls(self) -> set[str]:
        return {self.url(f"/p/{n}") for n in range(self.pages)}

    @web.middleware
    async def _page(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        if not request.path.startswith("/p/"):
            return await handler(request)
        self.requests[request.path] += 1
        n = int(request.path.removeprefix("/p/"))
        await asyncio.sleep(self.delay)
        children = [child for child in (2 * n + 1, 2 * n + 2) if child < self.pages]
        offsite = (f"http://localhost:{self.port}/off/{n}/{i}" for i in range(self.offsite_links))
        return web.Response(
            text=html("/p/0", *(f"/p/{child}" for child in children), *offsite), content_type="text/html"
        )
