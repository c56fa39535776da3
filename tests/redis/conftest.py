"""Fixtures for the Redis tests: a Redis (or a skip), a key prefix per test, and stores opened on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from linkcast.settings import Settings
from linkcast.store.redis import RedisStore

StoreFactory = Callable[..., Awaitable[RedisStore]]


@pytest.fixture
async def open_redis_store(redis_url: str, redis_prefix: str) -> AsyncIterator[StoreFactory]:
    """Open RedisStores on this test's prefix (each one stands for a process); all are closed afterwards."""
    opened: list[RedisStore] = []

    async def open_one(**settings: Any) -> RedisStore:
        store = RedisStore(Settings(store=redis_url, redis_prefix=redis_prefix, **settings))
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()
