"""The service in this test's own process, on the memory store: its app's test client and its runtime, for tests
that reach into the store (prune on demand, a write refused) while the workers fetch real pages on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from quart.typing import TestClientProtocol as Client

from linkcast.runtime import Runtime
from linkcast.settings import Settings
from linkcast.web.app import create_app


@contextlib.asynccontextmanager
async def in_process_service(**overrides: Any) -> AsyncIterator[tuple[Client, Runtime]]:
    defaults: dict[str, Any] = {"store": "memory://", "allow_private_networks": True, "workers": 2, "rate_limit": 0}
    settings = Settings(**{**defaults, **overrides})
    runtime = Runtime(settings, serves_clients=False)
    app = create_app(settings, runtime)
    async with app.test_app() as test_app:
        yield test_app.test_client(), runtime
