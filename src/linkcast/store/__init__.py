"""Where jobs and the event log live: one interface, several backends chosen by URL."""

from __future__ import annotations

from linkcast.core.errors import ConfigurationError
from linkcast.settings import Settings
from linkcast.store.base import Store

# The store URLs of the one backend that several processes can share (API replicas and ``linkcast worker``).
SHARED_STORE_SCHEMES = ("redis:", "rediss:", "unix:")


def open_store(settings: Settings) -> Store:
    """Make the backend that ``settings.store`` names (not yet opened)."""
    url = settings.store
    if url.startswith("memory:"):
        from linkcast.store.memory import MemoryStore

        return MemoryStore(settings)
    if url.startswith("sqlite:"):
        from linkcast.store.sqlite import SQLiteStore

        return SQLiteStore(settings)
    if url.startswith(SHARED_STORE_SCHEMES):
        from linkcast.store.redis import RedisStore

        return RedisStore(settings)
    raise ConfigurationError(f"unknown store URL {url!r}: use sqlite:///PATH, memory:// or redis://HOST:PORT/DB")


__all__ = ["SHARED_STORE_SCHEMES", "Store", "open_store"]
