"""Politeness: at most N requests in flight to one host (host and port), and an optional pause between two starts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    users: int = 0
    next_start: float = 0.0  # monotonic time before which no new request to this host may start


@dataclass
class HostGate:
    """Per-host concurrency and spacing. Entries of idle hosts are dropped, so the table never grows without bound."""

    concurrency: int
    delay: float = 0.0
    _hosts: dict[str, _Host] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(max(1, self.concurrency)))
        host.users += 1
        try:
            async with host.semaphore:
                if self.delay > 0:
                    now = time.monotonic()
                    start = max(now, host.next_start)
                    host.next_start = start + self.delay  # reserve the next start before sleeping: no two share it
                    if start > now:
                        await asyncio.sleep(start - now)
                yield
        finally:
            host.users -= 1
            if host.users == 0:
                self._forget_idle()

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for key in [k for k, h in self._hosts.items() if h.users == 0 and h.next_start <= now]:
            del self._hosts[key]

    def __len__(self) -> int:
        return len(self._hosts)
