"""Every backend of the store, behind one fixture: the contract suite runs once per backend.

Adding a backend is one line in ``BACKENDS``: its name, the fixture that gives the ``Settings`` of a fresh, empty
store of that kind, and whether what it holds survives a reopen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from linkcast.settings import Settings
from linkcast.store import Store, open_store

# name -> (fixture giving the Settings of a fresh store, persistent across reopen)
BACKENDS: dict[str, tuple[str, bool]] = {
    "memory": ("memory_settings", False),
    "sqlite": ("sqlite_settings", True),
    "redis": ("redis_settings", True),
}


@pytest.fixture
def memory_settings() -> Settings:
    return Settings(store="memory://")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{tmp_path}/linkcast.db")


@pytest.fixture
def redis_settings(redis_url: str, redis_prefix: str) -> Settings:
    """A Redis store under a key prefix of this test alone (skipped, or failed under strict mode, without Redis)."""
    return Settings(store=redis_url, redis_prefix=redis_prefix)


@dataclass
class Backend:
    """One backend under test: opens stores on the same data (each stands for a process) and closes them after."""

    name: str
    settings: Settings
    persistent: bool
    opened: list[Store] = field(default_factory=list)

    async def open(self, **changes: Any) -> Store:
        store = open_store(self.settings.replace(**changes) if changes else self.settings)
        await store.open()
        self.opened.append(store)
        return store

    async def reopen(self, store: Store) -> Store:
        """Close ``store`` and open the same data again, as a restarted process would."""
        await store.close()
        self.opened.remove(store)
        return await self.open()


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    fixture_name, persistent = BACKENDS[request.param]
    under_test = Backend(request.param, request.getfixturevalue(fixture_name), persistent)
    yield under_test
    for store in under_test.opened:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
