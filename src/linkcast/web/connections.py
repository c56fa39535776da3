"""Who may hold a connection: at most ``--max-connections`` in all and ``--max-connections-per-client`` per client.

Why: every open connection costs a file descriptor, and a slow client can hold one for as long as it keeps sending a
byte now and then. Without bounds, one address opening thousands of them takes every descriptor and nobody else gets
in, ``/healthz`` included. With them, a client over its share is refused at once, and the total stays below the
process's open-file limit so that the store, the fetches and the logs always have descriptors left. When the total
is reached, the connection waiting longest for a request head gives way to the new one (``ConnectionGuard.admit``).

Clients are counted by address; an IPv6 client by its /64, which is what one subscriber is usually given (counting
single IPv6 addresses would let anyone open 2**64 "clients"). Connections from ``--trusted-proxies`` are not capped
per client: every client behind the proxy comes through them. They count in the total like all others.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import resource
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from linkcast.core.flows import NO_FLOW, client_flow
from linkcast.settings import Settings
from linkcast.web.limit_log import LimitLog

log = logging.getLogger("linkcast.connections")

# Descriptors kept for everything but client connections (store, fetches, extraction children, logs): the larger of
# these, but never more than half the limit.
MIN_RESERVED_FILES = 256
RESERVED_FILES_FRACTION = 0.1
# An "unlimited" hard limit cannot be set as the soft one; Linux's default fs.nr_open is 2**20.
MAX_FILE_LIMIT = 2**20

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (the default soft limit is often 1024); return the soft limit
    now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_FILE_LIMIT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return MAX_FILE_LIMIT if soft == resource.RLIM_INFINITY else soft


def default_max_connections(file_limit: int) -> int:
    """Connections allowed when ``--max-connections`` is 0: the open-file limit less a reserve."""
    reserve = min(max(MIN_RESERVED_FILES, int(file_limit * RESERVED_FILES_FRACTION)), file_limit // 2)
    return file_limit - reserve


def peer_address(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A peer's address, an IPv4-mapped IPv6 one as the IPv4 address it is; None if it is none."""
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_key(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The key a client is counted by: its IPv4 address, or its IPv6 /64."""
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def submitter_flow(peer: str | None) -> str:
    """The scheduler's flow (``core/flows.py``) of what the client at ``peer`` submits: the client as connections
    count it (an IPv6 one by its /64: one subscriber), so that one address's many URLs share one turn. ``peer`` is the
    address the server saw, or the one a ``--trusted-proxies`` proxy forwarded (never a header otherwise); a peer that
    is no address (a Unix socket) has no flow."""
    ip = peer_address(peer) if peer else None
    return client_flow(client_key(ip)) if ip is not None else NO_FLOW


class Evictable(Protocol):
    def evict(self) -> None:
        """Close the connection at once and release its slot now."""


@dataclass
class Slot:
    """One admitted connection's place in the counts; released exactly once, whichever protocol ends up holding it
    (the HTTP protocol, or the WebSocket protocol it hands the connection to)."""

    guard: ConnectionGuard
    key: str | None
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.guard._release(self.key)


@dataclass
class ConnectionGuard:
    """The connection counts and limits of one server, shared by all its connections."""

    max_connections: int
    max_per_client: int
    max_header_bytes: int
    header_timeout: float
    stall_timeout: float = 60.0  # --send-stall-timeout
    trusted: tuple[Network, ...] | None = ()  # None: every peer is a trusted proxy ('*')
    limit_log: LimitLog = field(default_factory=LimitLog)
    open: int = 0
    _per_client: Counter[str] = field(default_factory=Counter)
    _waiting: dict[Evictable, None] = field(default_factory=dict)  # oldest first

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionGuard:
        file_limit = raise_open_file_limit()
        limit = settings.max_connections or default_max_connections(file_limit)
        if limit > default_max_connections(file_limit):
            log.warning(
                "--max-connections %d leaves fewer than %d of the %d open files for the store and fetches",
                limit, file_limit - default_max_connections(file_limit), file_limit,
            )  # fmt: skip
        log.info(
            "at most %d connections (open-file limit %d), %s per client; request heads: %d bytes within %g s",
            limit, file_limit, settings.max_connections_per_client or "no cap", settings.max_request_header_bytes,
            settings.header_timeout,
        )  # fmt: skip
        return cls(
            max_connections=limit,
            max_per_client=settings.max_connections_per_client,
            max_header_bytes=settings.max_request_header_bytes,
            header_timeout=settings.header_timeout,
            stall_timeout=settings.send_stall_timeout,
            trusted=settings.trusted_proxy_networks,
        )

    def admit(self, peer: str | None) -> Slot | None:
        """A slot for a new connection from ``peer`` (its address; None for a Unix socket), or None (and a log
        line) if it would go over a limit: the caller closes the connection.

        When all ``max_connections`` are taken, the connection that has waited longest for a request head is closed
        to make room, if there is one: connections that do nothing but hold their place give way to new ones, so a
        client that sends its request at once gets in even while slow connections from many addresses fill the
        server. Only when every connection is busy (a request under way, a WebSocket) is the new one refused."""
        key = self._key(peer)
        if key is not None and self.max_per_client and self._per_client[key] >= self.max_per_client:
            self.limit_log.hit(
                "--max-connections-per-client", peer or "?", f"over {self.max_per_client}, connection refused"
            )
            return None
        if self.open >= self.max_connections:
            if not self._waiting:
                self.limit_log.hit("--max-connections", peer or "?", f"all {self.max_connections} busy, refused")
                return None
            victim = next(iter(self._waiting))
            del self._waiting[victim]
            victim.evict()
            self.limit_log.hit(
                "--max-connections", peer or "?", f"all {self.max_connections} taken, closed the longest waiting"
            )
        self.open += 1
        if key is not None:
            self._per_client[key] += 1
        return Slot(self, key)

    def waiting(self, connection: Evictable) -> None:
        """``connection`` now waits for a request head (from its opening or since its last response): the first
        to give way when the server is full."""
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def not_waiting(self, connection: Evictable) -> None:
        self._waiting.pop(connection, None)

    def _key(self, peer: str | None) -> str | None:
        """Whom ``peer`` counts as; None for no one (a Unix socket, a trusted proxy)."""
        if peer is None or self.trusted is None:
            return None
        ip = peer_address(peer)
        if ip is None:
            return peer
        if any(ip in network for network in self.trusted):
            return None
        return client_key(ip)

    def _release(self, key: str | None) -> None:
        self.open -= 1
        if key is not None:
            self._per_client[key] -= 1
            if self._per_client[key] <= 0:
                del self._per_client[key]
