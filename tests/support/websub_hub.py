"""A WebSub hub on loopback that the tests script, playing the hub side of the websub.rocks subscriber checks.

Subscription requests (form POSTs) are recorded and answered 202; the hub then verifies the subscriber's intent as the
specification says (a GET of the callback with ``hub.mode``, ``hub.topic``, ``hub.challenge``, ``hub.lease_seconds``)
and keeps the subscription only if the challenge comes back. A test can make the hub redirect (307/308), verify with
another topic, grant a lease, deny, and deliver content signed in any way (or not at all).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.support.site import LocalSite


@dataclass
class Asked:
    """One subscription request as the hub got it, and how its verification went."""

    path: str
    form: dict[str, str]
    at: float
    verification: tuple[int, str] | None = None  # the callback's status and body, once verified
    verified_at: float | None = None

    @property
    def mode(self) -> str:
        return self.form.get("hub.mode", "")

    @property
    def topic(self) -> str:
        return self.form.get("hub.topic", "")

    @property
    def callback(self) -> str:
        return self.form.get("hub.callback", "")

    @property
    def confirmed(self) -> bool:
        return self.verification is not None and self.verification[0] == 200


@dataclass
class Subscriber:
    callback: str
    secret: str | None
    lease_seconds: int


@dataclass
class Behaviour:
    lease_seconds: int = 3600  # granted, whatever was asked
    verify_topic: str | None = None  # verify with this topic instead of the one asked for
    deny: bool = False  # answer the request with hub.mode=denied instead of verifying
    refuse: bool = False  # answer requests 500 (a hub that is down)
    silent: bool = False  # answer 202 and never verify (the test verifies, or forges, in its place)
    # Quote the request's form (hub.secret and all): "body", in a 400's body; "redirect", in a 307 to an ftp: URL.
    reflect: str | None = None
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (307/308, path)


class WebSubHub(LocalSite):
    def __init__(self) -> None:
        super().__init__()
        self.behaviour = Behaviour()
        self.asked: list[Asked] = []
        self.subscribers: dict[str, Subscriber] = {}  # topic -> the verified subscriber
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None

    @property
    def hub_url(self) -> str:
        return self.url("/hub")

    async def start(self) -> None:
        await super().start()
        self.session = aiohttp.ClientSession()
        self.route("/hub", self._request)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        await super().stop()

    def redirect(self, path: str, status: int) -> str:
        """A hub URL at ``path`` that answers ``status`` (307/308) towards ``/hub``."""
        self.behaviour.redirects[path] = (status, "/hub")
        self.route(path, self._request)
        return self.url(path)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def wait_asked(self, count: int, mode: str = "subscribe", timeout: float = 30.0) -> list[Asked]:
        """Until ``count`` requests of ``mode`` reached ``/hub`` and each has been verified (or refused)."""

        def done() -> bool:
            found = [a for a in self.asked if a.mode == mode and a.path == "/hub"]
            refused = self.behaviour.refuse
            return len(found) >= count and all(refused or a.verification is not None for a in found[:count])

        await self.wait_for(done, timeout)
        return [a for a in self.asked if a.mode == mode and a.path == "/hub"][:count]

    async def deliver(
        self, topic: str, body: bytes, content_type: str, *, sign: str | None = "sha256", secret: str | None = None,
        own: str | None = None,
    ) -> int:  # fmt: skip
        """POST ``body`` to the topic's subscriber, signed with ``sign`` (None: unsigned) by its secret (or by
        ``secret``, to sign badly), its Link ``rel=self`` the topic (or ``own``; none if ``own`` is ""). The callback's
        status."""
        subscriber = self.subscribers[topic]
        own = topic if own is None else own
        links = f'<{self.hub_url}>; rel="hub"' + (f', <{own}>; rel="self"' if own else "")
        headers = {"Content-Type": content_type, "Link": links}
        key = secret if secret is not None else subscriber.secret
        if sign is not None and key is not None:
            digest = hmac.new(key.encode(), body, getattr(hashlib, sign)).hexdigest()
            headers["X-Hub-Signature"] = f"{sign}={digest}"
        assert self.session is not None
        async with self.session.post(subscriber.callback, data=body, headers=headers) as answer:
            await answer.read()
            return answer.status

    async def _request(self, request: web.Request) -> web.StreamResponse:
        redirect = self.behaviour.redirects.get(request.path)
        form = {key: str(value) for key, value in (await request.post()).items()}
        asked = Asked(request.path, form, time.monotonic())
        self.asked.append(asked)
        await self._notify()
        if redirect is not None:
            status, target = redirect
            return web.Response(status=status, headers={"Location": self.url(target)})
        if self.behaviour.refuse:
            return web.Response(status=500, text="the hub is down")
        if self.behaviour.reflect == "body":
            return web.Response(status=400, text=f"cannot take {urlencode(form)}")
        if self.behaviour.reflect == "redirect":
            return web.Response(status=307, headers={"Location": f"ftp://127.0.0.1/?{urlencode(form)}"})
        if not form.get("hub.callback") or form.get("hub.mode") not in ("subscribe", "unsubscribe"):
            return web.Response(status=400, text="hub.callback and hub.mode are required")
        if self.behaviour.silent:
            return web.Response(status=202)
        task = asyncio.create_task(self._verify(asked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, asked: Asked) -> None:
        await asyncio.sleep(0.01)  # after the 202, as hubs do
        behaviour = self.behaviour
        if behaviour.deny:
            query = {"hub.mode": "denied", "hub.topic": asked.topic, "hub.reason": "not on this hub"}
        else:
            query = {
                "hub.mode": asked.mode, "hub.topic": behaviour.verify_topic or asked.topic,
                "hub.challenge": secrets.token_urlsafe(16),
            }  # fmt: skip
            if asked.mode == "subscribe":
                query["hub.lease_seconds"] = str(behaviour.lease_seconds)
        assert self.session is not None
        async with self.session.get(asked.callback, params=query) as answer:
            body = await answer.text()
        asked.verification, asked.verified_at = (answer.status, body), time.monotonic()
        if answer.status == 200 and body == query.get("hub.challenge"):
            if asked.mode == "subscribe":
                secret = asked.form.get("hub.secret")
                self.subscribers[asked.topic] = Subscriber(asked.callback, secret, behaviour.lease_seconds)
            else:
                self.subscribers.pop(asked.topic, None)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
