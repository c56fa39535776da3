"""A webhook receiver on loopback: every POST is recorded (path, headers, body), and each path answers as a test
says (``answer``: a status, a status for the first n only, a hang, a redirect)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from standardwebhooks import Webhook

from tests.support.site import LocalSite


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float = field(default_factory=time.perf_counter)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict[str, object]:
        """The body, checked by the reference package with ``secret`` (raises if the signature does not match)."""
        parsed: dict[str, object] = Webhook(secret).verify(self.body, self.headers)
        return parsed


class WebhookReceiver(LocalSite):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self._by_path: dict[str, list[Received]] = {}
        self.hang = asyncio.Event()  # set: hanging paths answer (the test is over)
        self.released = asyncio.Event()  # set: a held POST (``hold``) answers
        self._holds: dict[str, tuple[int, asyncio.Event]] = {}
        self._arrived = asyncio.Event()
        self._plans: dict[str, Callable[[int], tuple[int, dict[str, str]]]] = {}

    def answer(self, path: str, status: int = 200, *, first: int = 0, then: int = 200) -> str:
        """``path`` answers ``status`` (with ``first``: the first ``first`` POSTs, and ``then`` after them)."""

        def plan(seen: int) -> tuple[int, dict[str, str]]:
            return (status if not first or seen <= first else then), {}

        return self._add(path, plan)

    def redirect(self, path: str, to: str) -> str:
        return self._add(path, lambda _seen: (307, {"Location": to}))

    def hanging(self, path: str) -> str:
        return self._add(path, lambda _seen: (0, {}))

    def hold(self, path: str, nth: int, gate: asyncio.Event | None = None) -> None:
        """The ``nth`` POST to ``path`` waits for ``gate`` (default: ``released``) before it is answered."""
        self._holds[path] = (nth, gate or self.released)

    def _add(self, path: str, plan: Callable[[int], tuple[int, dict[str, str]]]) -> str:
        self._plans[path] = plan
        return self.route(path, self._receive)

    async def stop(self) -> None:
        self.hang.set()
        self.released.set()
        await super().stop()

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        got = Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        self.received.append(got)
        self._by_path.setdefault(request.path, []).append(got)
        self._arrived.set()
        seen = len(self.at(request.path))
        nth, gate = self._holds.get(request.path, (0, self.released))
        if nth == seen:
            await gate.wait()
        status, headers = self._plans[request.path](seen)
        if status == 0:
            await self.hang.wait()
            status = 200
        return web.Response(status=status, headers=headers, text="x" * 10_000 if status >= 400 else "ok")

    def at(self, path: str) -> list[Received]:
        """What ``path`` received, in order (the list itself: a bench counts thousands)."""
        return self._by_path.get(path, [])

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._arrived.clear()
                if condition():
                    return
                await self._arrived.wait()
