"""The ceiling of feed polling: a bare aiohttp loop sending conditional GETs, nothing else.

``concurrency`` tasks take the feeds in turn, round and round, each GET carrying the validators that feed's last 200
sent (``If-None-Match``, ``If-Modified-Since``), the body read and dropped. No parsing, no store, no scheduler: what
linkcast's polling is measured against, at the same concurrency, against the same server.
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp


async def poll_until(urls: list[str], concurrency: int, stop: asyncio.Event) -> int:
    """Poll ``urls`` round and round with ``concurrency`` tasks until ``stop`` is set; the polls done."""
    validators: dict[str, dict[str, str]] = {}
    turn = itertools.cycle(urls)
    done = 0

    async def poller(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while not stop.is_set():
            url = next(turn)
            async with session.get(url, headers=validators.get(url, {})) as response:
                await response.read()
                if response.status == 200:
                    sent = {"If-None-Match": response.headers.get("ETag"),
                            "If-Modified-Since": response.headers.get("Last-Modified")}  # fmt: skip
                    validators[url] = {name: value for name, value in sent.items() if value is not None}
            done += 1

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(poller(session) for _ in range(concurrency)))
    return done
