"""Politeness: at most N requests in flight to one host (host and port), and an optional pause between two starts."""

from __future__ import annotations

import asyncio
import time
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

    def slot(self, key: str) -> _Slot:
        """``async with gate.slot("host:port")``: wait for a free slot of the host (and its spacing), hold it inside."""
        return _Slot(self, key)

    async def _enter(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(max(1, self.concurrency)))
        host.users += 1
        try:
            await host.semaphore.acquire()
        except BaseException:
            self._leave(key, host, acquired=False)
            raise
        if self.delay > 0:
            now = time.monotonic()
            start = max(now, host.next_start)
            host.next_start = start + self.delay  # reserve the next start before sleeping: no two share it
            if start > now:
                try:
                    await asyncio.sleep(start - now)
                except BaseException:
                    self._leave(key, host, acquired=True)
                    raise
        return host

    def _leave(self, key: str, host: _Host, *, acquired: bool) -> None:
        if acquired:
            host.semaphore.release()
        host.users -= 1
        if host.users == 0:
            self._forget_idle(key, host)

    def _forget_idle(self, key: str, host: _Host) -> None:
        """Drop the host that just went idle once its spacing has passed; then any other idle host whose spacing has
        passed since (with no spacing, that one is the only idle host there can be: each goes as it goes idle)."""
        now = time.monotonic()
        if host.next_start <= now:
            del self._hosts[key]
        if self.delay > 0:
            for other in [k for k, h in self._hosts.items() if h.users == 0 and h.next_start <= now]:
                del self._hosts[other]

    def __len__(self) -> int:
        return len(self._hosts)


class _Slot:
    """One request's hold on its host's slot: a plain async context manager (a generator-based one costs a few
    microseconds more on every fetch)."""

    __slots__ = ("_gate", "_host", "_key")

    def __init__(self, gate: HostGate, key: str) -> None:
        self._gate, self._key = gate, key
        self._host: _Host | None = None

    async def __aenter__(self) -> None:
        self._host = await self._gate._enter(self._key)

    async def __aexit__(self, *_exc: object) -> None:
        assert self._host is not None
        self._gate._leave(self._key, self._host, acquired=True)
