"""A fetch's time bound (``--fetch-timeout``), less the waits that are not the server's: a crawl's wait for a host's
``Crawl-delay`` turn before a redirect's hop is politeness, and counted in the fetch it would make a polite crawl of a
site that asks for a long delay end in timeouts.

API::

    async with fetch_bound(seconds):   # TimeoutError once the time counted passes ``seconds`` (asyncio.timeout)
        async with not_counted():      # the bound stopped meanwhile, then running again with the time it had left
            ...
        paused()                       # the seconds not counted so far in the current bound (0 outside one)

Each bound is its own: a fetch made inside another's ``not_counted`` (none is) or its hook (a hop's robots.txt) has
its own bound, and its time counts in the outer one's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class _Bound:
    timeout: asyncio.Timeout
    paused: float = 0.0


_CURRENT: ContextVar[_Bound | None] = ContextVar("linkcast_fetch_bound", default=None)


@contextlib.asynccontextmanager
async def fetch_bound(seconds: float) -> AsyncIterator[None]:
    async with asyncio.timeout(seconds) as timeout:
        token = _CURRENT.set(_Bound(timeout))
        try:
            yield
        finally:
            _CURRENT.reset(token)


@contextlib.asynccontextmanager
async def not_counted() -> AsyncIterator[None]:
    bound = _CURRENT.get()
    when = None if bound is None else bound.timeout.when()
    if bound is None or when is None:  # outside a fetch (a seed's sitemaps between their fetches): nothing to stop
        yield
        return
    loop = asyncio.get_running_loop()
    began = loop.time()
    left = when - began
    bound.timeout.reschedule(None)
    try:
        yield
    finally:
        bound.paused += loop.time() - began
        bound.timeout.reschedule(loop.time() + left)


def paused() -> float:
    bound = _CURRENT.get()
    return 0.0 if bound is None else bound.paused
