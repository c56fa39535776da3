"""A local site that holds one answer until the test releases it: a race on the service made deterministic (the test
acts, a cancel or a removal, while the service waits for that answer)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable

from aiohttp import web

from tests.support.site import LocalSite


class HeldSite(LocalSite):
    """Counts the requests to each path (``asked``). The request to ``held`` sets ``reached`` and waits for
    ``release``, then gets ``held_answer()``; every other path of ``paths`` is an HTML ``page``."""

    def __init__(
        self,
        held: str,
        held_answer: Callable[[], web.StreamResponse],
        paths: Iterable[str],
        page: str = "<p>a page</p>",
    ) -> None:
        super().__init__()
        self.held, self.held_answer, self.page_text = held, held_answer, page
        self.asked: Counter[str] = Counter()
        self.reached, self.release = asyncio.Event(), asyncio.Event()
        for path in (held, *paths):
            self.route(path, self._answer)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.asked[request.path] += 1
        if request.path != self.held:
            return web.Response(text=self.page_text, content_type="text/html")
        self.reached.set()
        await self.release.wait()
        return self.held_answer()
