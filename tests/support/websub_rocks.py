"""The websub.rocks subscriber tests on loopback: their blogs, their hub and their verdicts, as the site's own code
(aaronpk/websub.rocks, ``app/Subscriber.php`` and ``lib/Rocks/Hub.php``) serves them, read and written again here.

What sets it apart from ``websub_hub.WebSubHub`` is where websub.rocks is strict or odd, and a subscriber that passes
the scripted hub could still fail it: the hub verifies *inside* the subscription request (the 202 comes only after
the callback echoed the challenge), each test's blog is an HTML page or a ``text/xml`` feed with its hub and self in
the places the test names, a delivery is that page (``text/html``) with both links in one ``Link`` header, an invalid
signature is the valid one with four digits after it, and each test ends in ``success`` or an error as the site would
show it (``results``).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass, field
from html import escape

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from tests.support.site import LocalSite

LEASE_SECONDS = 86400
QUOTES = [(f"Author {n}", f"Quote number {n}, said once.") for n in range(40)]


@dataclass
class Subscription:
    callback: str
    secret: str | None
    challenge: str = ""
    active: bool = False


@dataclass
class Blog:
    """One test's blog (``/blog/<num>/<token>``): its posts (newest first, as websub.rocks keeps them) and who is
    subscribed to it."""

    num: int
    token: str
    posts: list[tuple[str, str]] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # callback -> subscription
    results: list[dict[str, object]] = field(default_factory=list)  # what the site's page shows, in order
    answers: list[tuple[int, str]] = field(default_factory=list)  # the callback's status and type, per verification


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


class WebSubRocks(LocalSite):
    def __init__(self) -> None:
        super().__init__()
        self.blogs: dict[str, Blog] = {}
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        await super().start()
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        await super().stop()

    def blog(self, num: int) -> Blog:
        """A new test ``num``'s blog; subscribe to ``self.topic_of(blog)``."""
        blog = Blog(num, secrets.token_hex(10))
        self.blogs[blog.token] = blog
        self.route(self._path(blog), lambda request: self._feed(request, blog))
        self.route(self._path(blog) + "/hub", lambda request: self._hub(request, blog))
        return blog

    def topic_of(self, blog: Blog) -> str:
        return self.url(self._path(blog))

    def _path(self, blog: Blog) -> str:
        return f"/blog/{blog.num}/{blog.token}"

    # -- the blog --------------------------------------------------------------------------------------------------

    def _set_up_posts(self, blog: Blog) -> None:
        if not blog.posts:
            blog.posts = random.sample(QUOTES, 3)

    async def _feed(self, request: web.Request, blog: Blog) -> web.StreamResponse:
        self._set_up_posts(blog)
        return self._render(blog, "redirect" in request.query)

    def _render(self, blog: Blog, redirected: bool) -> web.Response:
        """The blog as ``Subscriber::get_feed`` answers it (and as ``Hub::render_page`` delivers it)."""
        num, base = blog.num, self.url(self._path(blog))
        hub, own = base + "/hub", base
        headers = CIMultiDict[str]()
        kind, link_tags = "html", ""
        if num in (201, 202) and not redirected:
            return web.Response(
                status=302 if num == 201 else 301, headers={"Location": _with_query(base, "redirect=complete")}
            )
        if num == 200:
            own = _with_query(own, "self=other")
        if num in (201, 202):
            own = _with_query(own, "redirect=complete")
        if num in (203, 204):
            hub = _with_query(hub, "redirect=true")
        if num in (100, 104, 200, 201, 202, 203, 204, 205, 300, 301, 302):
            headers.add("Link", f'<{own}>; rel="self"')
            headers.add("Link", f'<{hub}>; rel="hub"')
        if num == 101:
            link_tags = f'<link rel="hub" href="{hub}">\n<link rel="self" href="{own}">'
        if num == 102:
            kind = "atom"
        if num == 103:
            kind = "rss"
        if num == 104:  # the document names another hub: subscribing there fails the test
            kind, hub = "atom", _with_query(hub, "error=wrongtag")
        if kind == "html":
            return web.Response(body=self._page(blog, link_tags).encode(), headers=headers, content_type="text/html")
        body = self._atom(blog, own, hub) if kind == "atom" else self._rss(blog, own, hub)
        return web.Response(body=body.encode(), headers=headers, content_type="text/xml")

    def _page(self, blog: Blog, link_tags: str = "") -> str:
        posts = "".join(
            f'<section class="content h-entry" id="quote-{i}"><div class="e-content p-name">{escape(text)}</div>'
            f'<div class="p-author h-card">{escape(author)}</div><a href="#quote-{i}" class="u-url">'
            '<time class="dt-published" datetime="2026-12-07T00:00:00+00:00">December 7, 2026</time></a></section>'
            for i, (author, text) in enumerate(blog.posts)
        )
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>WebSub Rocks!</title>'
            f'<link href="/assets/style.css" rel="stylesheet">{link_tags}</head><body>'
            '<div class="ui top fixed menu"><a class="item" href="/">Home</a><a class="item" href="/publisher">'
            'Publisher</a><a class="item" href="/subscriber">Subscriber</a><a class="item" href="/hub">Hub</a></div>'
            f'<div id="subscriber-post-list" class="h-feed"><span class="p-name hidden">WebSub.rocks Test {blog.num}'
            f"</span>{posts}</div></body></html>"
        )

    def _atom(self, blog: Blog, own: str, hub: str) -> str:
        entries = "".join(
            f"<entry><id>{own}#quote-{i}</id><title></title><published>2026-12-07T00:00:00+00:00</published>"
            f'<content type="html"><![CDATA[{text}]]></content>'
            f'<link rel="alternate" type="text/html" href="{own}#quote-{i}" /><author><name>{author}</name></author>'
            "</entry>"
            for i, (author, text) in enumerate(blog.posts)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" ?>\n<?xml-stylesheet type="text/xsl" href="/assets/atom.xsl" ?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>WebSub Rocks! {blog.num}</title>'
            f'<link href="{own}" rel="self" type="application/atom+xml" /><link href="{hub}" rel="hub" />'
            f"<id>{own}</id><updated>2026-12-07T00:00:00+00:00</updated>{entries}</feed>"
        )

    def _rss(self, blog: Blog, own: str, hub: str) -> str:
        items = "".join(
            f'<item><title></title><pubDate>Mon, 07 Dec 2026 00:00:00 +0000</pubDate><guid isPermaLink="true">'
            f"{own}#quote-{i}</guid><description><![CDATA[{text}]]></description><link>{own}#quote-{i}</link>"
            f"<author>{author}</author></item>"
            for i, (author, text) in enumerate(blog.posts)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" ?>\n<?xml-stylesheet type="text/xsl" href="/assets/rss.xsl" ?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>WebSub Rocks! {blog.num}</title>'
            f'<atom:link href="{own}" rel="self" type="application/rss+xml" /><atom:link href="{hub}" rel="hub" />'
            f"<link>{own}</link><language>en-US</language><description>A test feed</description>{items}"
            "</channel></rss>"
        )

    # -- the hub ---------------------------------------------------------------------------------------------------

    def _error(self, blog: Blog, error: str, status: int = 400) -> web.Response:
        blog.results.append({"type": "error", "error": error})
        return web.json_response({"type": "error", "error": error}, status=status)

    async def _hub(self, request: web.Request, blog: Blog) -> web.StreamResponse:
        if not blog.posts:  # the hub exists once the blog was read
            return self._error(blog, "not_found", 404)
        form = {key: str(value) for key, value in (await request.post()).items()}
        mode = form.get("hub.mode")
        if mode not in ("subscribe", "unsubscribe"):
            return self._error(blog, "invalid_mode")
        callback, topic = form.get("hub.callback"), form.get("hub.topic")
        if not callback or not topic:
            return self._error(blog, "missing_params")
        expected = self.topic_of(blog)
        if blog.num in (201, 202):
            expected = _with_query(expected, "redirect=complete")
        if blog.num == 200:
            expected = _with_query(expected, "self=other")
        if topic != expected:
            return self._error(blog, "invalid_topic")
        if len(form.get("hub.secret", "")) > 200:
            return self._error(blog, "invalid_secret")
        if blog.num == 104 and request.query.get("error") == "wrongtag":
            return self._error(blog, "wrong_discovery_priority")
        if blog.num in (203, 204) and request.query.get("redirect") == "true":
            return web.Response(status=307 if blog.num == 203 else 308, headers={"Location": expected + "/hub"})
        if blog.num in (301, 302) and "hub.secret" not in form:
            return self._error(blog, "missing_secret")
        subscription = blog.subscriptions.get(callback)
        if mode == "subscribe" and subscription is None:
            subscription = blog.subscriptions[callback] = Subscription(callback, form.get("hub.secret"))
        if subscription is None:
            return self._error(blog, "invalid_subscription", 404)
        subscription.challenge = secrets.token_hex(10)
        code, body = await self._verify(blog, mode, callback, subscription.challenge)  # before answering, as it does
        if blog.num == 205:
            if code == 404:
                blog.results.append({"type": "success", "mode": mode})
                return web.Response(text="Your subscriber properly rejected the subscription request.")
            return self._error(blog, "subscription_not_rejected")
        if code // 100 == 2 and body == subscription.challenge:
            subscription.active = mode == "subscribe"
            blog.results.append({"type": "success", "mode": mode, "topic": topic})
            return web.Response(status=202)
        return self._error(blog, "verification_failed")

    async def _verify(self, blog: Blog, mode: str, callback: str, challenge: str) -> tuple[int, str]:
        topic = self.topic_of(blog) + {200: "?self=other", 201: "?redirect=complete", 202: "?redirect=complete",
                                       205: "?invalid"}.get(blog.num, "")  # fmt: skip
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge, "hub.lease_seconds": LEASE_SECONDS}
        url = _with_query(callback, "&".join(f"{k}={aiohttp.helpers.quote(str(v), safe='')}" for k, v in query.items()))
        assert self.session is not None
        async with self.session.get(url, allow_redirects=False) as answer:
            blog.answers.append((answer.status, answer.headers.get("Content-Type", "")))
            return answer.status, await answer.text()

    # -- publishing ------------------------------------------------------------------------------------------------

    async def publish(self, blog: Blog) -> tuple[list[int], str | None]:
        """A new post, delivered to the blog's active subscribers as websub.rocks does: the callbacks' statuses, and
        for 300-302 the verdict (``success`` or ``fail``)."""
        blog.posts.insert(0, random.choice([q for q in QUOTES if q not in blog.posts]))
        blog.posts = blog.posts[:10]
        send = {301: "invalid", 302: "omit"}.get(blog.num, "valid")
        # The page or feed as a GET of it would answer (for 201 and 202, the redirect's target), always sent as
        # text/html: the hub says nothing truer of an Atom or RSS body.
        rendered = self._render(blog, redirected=True).body
        assert isinstance(rendered, bytes)
        html = rendered
        own = self.topic_of(blog) + {200: "?self=other", 201: "?redirect=complete", 202: "?redirect=complete"}.get(
            blog.num, ""
        )
        delivered = []
        for subscription in [s for s in blog.subscriptions.values() if s.active]:
            headers = {
                "Content-Type": "text/html",
                "Link": f'<{own}>; rel="self", <{self.topic_of(blog)}/hub>; rel="hub"',
            }
            if subscription.secret and send != "omit":
                signature = hmac.new(subscription.secret.encode(), html, hashlib.sha256).hexdigest()
                if send == "invalid":
                    signature += str(random.randint(1000, 9999))
                headers["X-Hub-Signature"] = f"sha256={signature}"
            assert self.session is not None
            async with self.session.post(subscription.callback, data=html, headers=headers) as answer:
                await answer.read()
                code = answer.status
            if code // 100 != 2:  # websub.rocks deactivates a subscriber that did not take a delivery
                subscription.active = False
            delivered.append(code)
        return delivered, _verdict(blog.num, delivered)


def _verdict(num: int, delivered: list[int]) -> str | None:
    """What websub.rocks says of a publish (``Subscriber::publish``)."""
    if num not in (300, 301, 302):
        return None
    if len(delivered) != 1:
        return "fail"
    took = delivered[0] // 100 == 2
    if num == 300:
        return "success" if took else "fail"
    if num == 301:
        return "success"  # 2xx or not: either is right, so long as the notification is not processed
    return "fail" if took else "success"  # 302: a delivery without a signature must be refused
