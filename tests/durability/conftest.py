"""Fixtures for the durability tests: a service whose store outlives restarts, and pages that wait for a gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.service import Service
from tests.support.site import LocalSite

GATE_TIMEOUT = 60.0


class Gate:
    """Pages behind it answer only once it opens, so a test decides when fetches may finish."""

    def __init__(self, site: LocalSite) -> None:
        self.site = site
        self.opened = asyncio.Event()
        self.waiting = 0  # requests currently held

    def page(self, path: str, body: str) -> str:
        async def handler(_request: web.Request) -> web.StreamResponse:
            self.waiting += 1
            try:
                await asyncio.wait_for(self.opened.wait(), GATE_TIMEOUT)
            finally:
                self.waiting -= 1
            return web.Response(text=body, content_type="text/html")

        return self.site.route(path, handler)


@pytest.fixture
def gate(site: LocalSite) -> Gate:
    return Gate(site)


def serve(tmp_path: Path, *flags: str) -> Service:
    """A service on SQLite in ``tmp_path`` that may fetch the local site, with no rate limit on its one client (the
    tests submit thousands at once); restart it to test what survives."""
    service = Service(
        "--allow-private-networks",
        "--rate-limit",
        "0",
        *flags,
        store=f"sqlite:///{tmp_path}/linkcast.db",
        log_path=tmp_path / "serve.log",
    )
    return service


@pytest.fixture
async def durable(tmp_path: Path) -> AsyncIterator[Service]:
    running = serve(tmp_path, "--workers", "16", "--per-host-concurrency", "64")
    await running.start()
    yield running
    running.kill()


async def put_all(service: Service, urls: dict[str, str], concurrency: int = 32) -> dict[str, int]:
    """PUT every ``request_id -> url``; returns each request's HTTP status."""
    statuses: dict[str, int] = {}
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(request_id: str, url: str) -> None:
            async with limit:
                statuses[request_id], _body = await service.put(request_id, url, session=session)

        await asyncio.gather(*(one(rid, url) for rid, url in urls.items()))
    return statuses


def ids_of(frames: Iterable[dict[str, Any]]) -> list[int]:
    return [f["id"] for f in frames if "id" in f]
