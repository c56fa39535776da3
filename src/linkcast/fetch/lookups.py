"""Host-name lookups on threads of their own, bounded, so that a name whose DNS never answers cannot stall the service.

A ``getaddrinfo`` cannot be cancelled: when a name's DNS never answers, its lookup holds a thread for the system
resolver's whole timeout (glibc: 5 s x 2 attempts per nameserver), whatever fetch timeout gave up on it. The event
loop's ``getaddrinfo`` runs on threads every fetch shares: uvloop's (libuv's pool, which runs two lookups at once, and
through which even a connection to an IP address went), or asyncio's default executor (6 threads on 2 cores, which
reads feeds too). Two URLs of such a name stalled every other user's fetches, of names and IP addresses alike. Here:

- Lookups run on threads of their own, at most ``MAX_LOOKUPS`` at once, and at most ``MAX_LOOKUPS_PER_SITE`` for the
  names of one registrable domain (one attacker's zone, however many names it makes up). A lookup that finds no room
  waits for some ``ROOM_WAIT_SECONDS`` at most (answered lookups take milliseconds: a burst of a thousand feeds of one
  blog host's subdomains only queues), then fails (``LookupsBusy``, a ``dns`` error that is retried later) rather
  than queueing behind hung ones for as long as they hang.
- Lookups of one name at once share one thread: 1,000 URLs of a hung name hold one thread, not 1,000.
- An optional lookup (a registration's early check: each fetch checks again) starts only while at most half of
  ``MAX_LOOKUPS`` are in flight, so that API calls can never take the room fetches need.
- A name whose lookup failed slowly (the resolver timed out) fails at once for ``FAILED_NAME_SECONDS``; at most
  ``MAX_FAILED_NAMES`` are remembered.

The threads are daemons: a hung lookup must not hold the process's exit either. The bookkeeping is under a lock, not in
asyncio primitives, because one process-wide set of lookups serves every event loop that fetches.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from linkcast.crawl.scope import registrable_domain

# Lookups in flight at once, over all names: each holds a thread (blocked in the system resolver, mostly idle).
MAX_LOOKUPS = 32
# Lookups in flight at once for the names of one registrable domain: whoever owns a zone makes up its names.
MAX_LOOKUPS_PER_SITE = 4
# How long a lookup waits for room at most (looking again every ROOM_POLL_SECONDS), and then fails.
ROOM_WAIT_SECONDS = 3.0
ROOM_POLL_SECONDS = 0.01
# A lookup that failed after this long failed by a timeout, and would hold a thread as long again.
SLOW_FAILURE_SECONDS = 1.0
# How long a name that timed out fails at once, and how many such names are remembered (the oldest are forgotten).
FAILED_NAME_SECONDS = 30.0
MAX_FAILED_NAMES = 10_000

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
_NUMERIC = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV


class LookupsBusy(socket.gaierror):
    """No room for another lookup now (too many in flight, for all names or for this name's domain): a transient
    failure, worth another try later, and never a wait behind lookups that may never end."""


class HostLookups:
    """``getaddrinfo`` on bounded threads of its own; one thread for a name at once; names that timed out refused."""

    def __init__(
        self,
        max_lookups: int = MAX_LOOKUPS,
        max_per_site: int = MAX_LOOKUPS_PER_SITE,
        failed_name_seconds: float = FAILED_NAME_SECONDS,
        max_failed_names: int = MAX_FAILED_NAMES,
        room_wait_seconds: float = ROOM_WAIT_SECONDS,
    ) -> None:
        self.max_lookups = max_lookups
        self.max_per_site = max_per_site
        self.failed_name_seconds = failed_name_seconds
        self.max_failed_names = max_failed_names
        self.room_wait_seconds = room_wait_seconds
        self._lock = threading.Lock()
        self._running: dict[tuple[Any, ...], Future[list[AddrInfo]]] = {}
        self._busy_by_site: dict[str, int] = {}
        self._failed_until: OrderedDict[str, float] = OrderedDict()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return sum(self._busy_by_site.values())

    async def getaddrinfo(
        self, host: str, port: int, family: int, type_: int, flags: int, *, optional: bool = False
    ) -> list[AddrInfo]:
        """``socket.getaddrinfo``, or ``LookupsBusy`` when no room came for it within ``room_wait_seconds``
        (``optional``: at once, when half of the room is taken)."""
        deadline = time.monotonic() + (0.0 if optional else self.room_wait_seconds)
        while True:
            try:
                future = self._start(host, port, family, type_, flags, optional)
                break
            except LookupsBusy:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(ROOM_POLL_SECONDS)  # a thread of its own would wait as well, and cost a thread
        return await asyncio.wrap_future(future)

    def _start(
        self, host: str, port: int, family: int, type_: int, flags: int, optional: bool
    ) -> Future[list[AddrInfo]]:
        key = (host, port, family, type_, 0, flags)
        site = registrable_domain(host.lower())
        with self._lock:
            self._refuse_if_failed_lately(host)
            running = self._running.get(key)
            if running is not None:
                return running
            busy_for_site = self._busy_by_site.get(site, 0)
            if busy_for_site >= self.max_per_site:
                raise LookupsBusy(socket.EAI_AGAIN, f"{self.max_per_site} lookups of names of {site} are unanswered")
            if sum(self._busy_by_site.values()) >= (self.max_lookups // 2 if optional else self.max_lookups):
                raise LookupsBusy(socket.EAI_AGAIN, f"{self.max_lookups} DNS lookups are unanswered; try again later")
            future: Future[list[AddrInfo]] = Future()
            future.set_running_or_notify_cancel()  # so that a caller giving up cannot cancel it for the others
            self._running[key] = future
            self._busy_by_site[site] = busy_for_site + 1
        thread = threading.Thread(target=self._look_up, args=(key, site, future), name="linkcast-dns", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            self._finish(key, site, failed_slowly=False)
            busy = LookupsBusy(socket.EAI_AGAIN, "no thread could be started for a DNS lookup")
            future.set_exception(busy)  # for a lookup that joined it meanwhile, from another thread
            raise busy from None
        return future

    def _refuse_if_failed_lately(self, host: str) -> None:
        now = time.monotonic()
        while self._failed_until and next(iter(self._failed_until.values())) <= now:
            self._failed_until.popitem(last=False)
        if host in self._failed_until:
            raise socket.gaierror(
                socket.EAI_AGAIN,
                f"the DNS of {host} did not answer in time lately: not asked again for {self.failed_name_seconds:g} s",
            )

    def _look_up(self, key: tuple[Any, ...], site: str, future: Future[list[AddrInfo]]) -> None:
        began = time.monotonic()
        try:
            infos = socket.getaddrinfo(*key)
        except BaseException as error:
            self._finish(key, site, failed_slowly=time.monotonic() - began >= SLOW_FAILURE_SECONDS)
            future.set_exception(error)
        else:
            self._finish(key, site, failed_slowly=False)
            future.set_result(infos)

    def _finish(self, key: tuple[Any, ...], site: str, *, failed_slowly: bool) -> None:
        with self._lock:
            del self._running[key]
            left = self._busy_by_site[site] - 1
            if left:
                self._busy_by_site[site] = left
            else:
                del self._busy_by_site[site]
            if failed_slowly:
                host = key[0]
                self._failed_until.pop(host, None)  # kept in order of expiry: re-added at the end
                self._failed_until[host] = time.monotonic() + self.failed_name_seconds
                while len(self._failed_until) > self.max_failed_names:
                    self._failed_until.popitem(last=False)


# One for the process: the bound is on threads, which every fetcher and every event loop of the process share.
HOST_LOOKUPS = HostLookups()


class BoundedResolver(AbstractResolver):
    """aiohttp's ``ThreadedResolver``, on ``HostLookups`` rather than the event loop's default executor."""

    def __init__(self, lookups: HostLookups = HOST_LOOKUPS, *, optional: bool = False) -> None:
        self.lookups = lookups
        self.optional = optional

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self.lookups.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, socket.AI_ADDRCONFIG, optional=self.optional
        )
        results: list[ResolveResult] = []
        for found_family, _, proto, _, address in infos:
            if found_family == socket.AF_INET6:
                if len(address) < 3:
                    continue  # IPv6 not supported by this Python
                # A scope id (link-local) is kept as aiohttp keeps it, "fe80::1%eth0"; numeric: no DNS.
                found_host, found_port = socket.getnameinfo(address, _NUMERIC) if address[3] else address[:2]
            elif found_family == socket.AF_INET:
                found_host, found_port = address
            else:
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=found_host,
                    port=int(found_port),
                    family=found_family,
                    proto=proto,
                    flags=_NUMERIC,
                )
            )
        return results

    async def close(self) -> None:
        pass
