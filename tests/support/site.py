"""A local site on loopback to scrape: routes are plain aiohttp handlers or fixed pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

from tests.support.ports import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LocalSite:
    """An aiohttp server on 127.0.0.1; add pages with ``page()`` or any handler with ``route()``."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.port = free_port()
        self.runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = {}
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str, handler: Handler) -> str:
        self._handlers[path] = handler
        return self.url(path)

    def page(
        self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200
    ) -> str:
        data = body.encode() if isinstance(body, str) else body

        async def handler(_request: web.Request) -> web.StreamResponse:
            return web.Response(body=data, status=status, headers={"Content-Type": content_type})

        return self.route(path, handler)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self._handlers.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
