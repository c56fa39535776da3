"""A feed server on loopback whose answers a test controls, recording every request it gets (path, headers, time),
to hold linkcast's poller to how a feed reader should behave, request by request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

from aiohttp import web

from tests.support.site import LocalSite


def rss(*items: tuple[str, str], title: str = "News", ttl: int | None = None) -> str:
    """An RSS 2.0 feed of (guid, title) items, each linking to /entry/<guid>."""
    body = "".join(
        f"<item><guid>{escape(guid)}</guid><title>{escape(name)}</title><link>/entry/{escape(guid)}</link>"
        f"<description>&lt;p&gt;About {escape(name)}: &lt;a href=&quot;/more/{escape(guid)}&quot;&gt;more&lt;/a&gt;"
        "&lt;/p&gt;</description></item>"
        for guid, name in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl is not None else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>/</link><description>d</description>{ttl_tag}{body}</channel></rss>"
    )


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float
    method: str = "GET"
    query: str = ""  # the raw query string: a cache-busting one would show here


@dataclass
class Feed:
    """One feed document and how its server answers: validators it sends (and honours), answers queued ahead."""

    body: str
    content_type: str = "application/rss+xml"
    etag: str | None = '"v1"'
    last_modified: str | None = field(default_factory=lambda: formatdate(usegmt=True))
    queued: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # answered first, in order
    extra_headers: dict[str, str] = field(default_factory=dict)

    def update(self, body: str, etag: str | None = None) -> None:
        """New content, with new validators (as a server does when the feed changes)."""
        self.body = body
        self.etag = etag if etag is not None else f'"v{time.monotonic_ns()}"'
        self.last_modified = formatdate(time.time() + 1, usegmt=True)


class FeedServer(LocalSite):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        self.feeds: dict[str, Feed] = {}
        self._arrived = asyncio.Condition()
        self.app.middlewares.append(self._record)

    def feed(self, path: str, feed: Feed) -> str:
        self.feeds[path] = feed
        self.route(path, self._serve)
        return self.url(path)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    async def wait_requests(self, path: str, count: int, timeout: float = 30.0) -> list[Seen]:
        """Until ``path`` has been asked for ``count`` times."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests_to(path)) >= count)
        return self.requests_to(path)

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable) -> web.StreamResponse:  # type: ignore[type-arg]
        self.seen.append(
            Seen(request.path, dict(request.headers), time.monotonic(), request.method, request.query_string)
        )
        async with self._arrived:
            self._arrived.notify_all()
        return await handler(request)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds[request.path]
        if feed.queued:
            status, headers = feed.queued.pop(0)
            return web.Response(status=status, headers=headers, text="" if status in (301, 302, 307, 308, 304) else "x")
        validators = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
        validators = {name: value for name, value in validators.items() if value is not None}
        if _not_modified(feed, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")):
            return web.Response(status=304, headers=validators)
        headers = {**validators, **feed.extra_headers, "Content-Type": feed.content_type}
        return web.Response(body=feed.body.encode(), headers=headers)


def _not_modified(feed: Feed, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when sent (If-Modified-Since is then ignored: two updates within one
    second share a Last-Modified, and only the ETag tells them apart)."""
    if if_none_match is not None:
        return feed.etag is not None and if_none_match == feed.etag
    return feed.last_modified is not None and if_modified_since == feed.last_modified
