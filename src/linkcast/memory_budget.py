"""A process's bytes of one kind of large buffer, handed out in shares: what bounds the memory of answers, replays and
webhook payloads whatever the number of clients or endpoints asking at once (``web/answer_memory.py``,
``replay_budget.py``, ``webhooks/payload_memory.py``).

A share larger than the whole budget is the whole budget: it waits until nothing else holds any, and is then had, so
that nothing is refused for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class MemoryBudget:
    def __init__(self, total_bytes: int) -> None:
        self.total = total_bytes
        self.free = total_bytes
        self._freed = asyncio.Event()

    def available(self, size: int) -> bool:
        """Whether a share of ``size`` bytes would be had at once."""
        return self.free >= min(size, self.total)

    def try_take(self, size: int) -> Share | None:
        """A share of ``size`` bytes now, or None if the budget has not that much free."""
        return self._share(size) if self.available(size) else None

    async def take(self, size: int) -> Share:
        """A share of ``size`` bytes, once other shares have been given back if need be."""
        while not self.available(size):
            self._freed.clear()
            await self._freed.wait()
        return self._share(size)

    @contextlib.asynccontextmanager
    async def held(self, size: int) -> AsyncIterator[None]:
        """Hold a share of ``size`` bytes while inside."""
        share = await self.take(size)
        try:
            yield
        finally:
            share.give_back()

    def _share(self, size: int) -> Share:
        share = Share(self, min(size, self.total))
        self.free -= share.size
        return share

    def _give_back(self, size: int) -> None:
        self.free += size
        self._freed.set()


class Share:
    """Bytes held of a budget, until ``give_back`` (which may be called more than once: the first one counts)."""

    def __init__(self, budget: MemoryBudget, size: int) -> None:
        self.budget, self.size = budget, size
        self.given_back = False

    def give_back(self) -> None:
        if not self.given_back:
            self.given_back = True
            self.budget._give_back(self.size)
