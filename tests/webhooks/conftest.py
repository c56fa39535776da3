"""A runtime (store, workers, webhook deliveries) in this process, and a receiver on loopback for its webhooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from linkcast.core.webhooks import Endpoint, new_secret
from linkcast.runtime import Runtime
from linkcast.settings import Settings
from linkcast.store import Store
from tests.support.webhook_receiver import WebhookReceiver

FAST = {
    "allow_private_networks": True,
    "workers": 2,
    "webhook_timeout": 1.0,
    "webhook_retry_base": 0.05,
    "serves_clients": False,
}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    local = WebhookReceiver()
    local.page("/page", "<a href='/next'>next</a>")
    await local.start()
    yield local
    await local.stop()


RuntimeFactory = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def make_runtime() -> AsyncIterator[RuntimeFactory]:
    started: list[Runtime] = []

    async def make(**changes: Any) -> Runtime:
        options = {**FAST, **changes}
        serves = options.pop("serves_clients")
        runtime = Runtime(Settings(store="memory://").replace(**options), serves_clients=serves)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


async def add_endpoint(store: Store, endpoint_id: str, url: str, **fields: Any) -> Endpoint:
    """An endpoint that takes the events appended from now on (as ``PUT /webhooks`` makes one)."""
    events = fields.pop("events", ["result", "error"])
    created_at = fields.pop("created_at", time.time())
    made = Endpoint(endpoint_id, url, events, new_secret(), created_at=created_at, **fields)
    made.cursor = await store.last_event_id()
    assert await store.save_webhook(made, 0)
    return made


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Wait until ``check()`` holds (the store's state, changed by a run in flight), failing after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)
