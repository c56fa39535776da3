"""A DNS resolver for aiohttp that checks every address against the policy before anyone connects to it.

aiohttp connects to exactly the addresses its resolver returns, so checking them here leaves no window between the
check and the connection for a DNS answer to change (DNS rebinding). IP literals never reach a resolver: the fetcher
checks those itself, on every hop, with ``AddressPolicy.check_url``.

Belt and braces, the socket factory checks each address again right before the socket connects to it, so a path
that skipped resolution (a cache, a future aiohttp) still cannot reach a refused address.

Every address a name resolves to is checked, but only the first ``MAX_ADDRESSES_PER_FAMILY`` of each family are
handed to aiohttp, which tries each one it has until one connects: a name with 250 addresses (a /24 of someone
else's) made one fetch 250 connection attempts to 250 hosts, three times over with retries, a port scan for the asking.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from linkcast.core.addresses import parse_address
from linkcast.core.errors import Blocked
from linkcast.core.policy import AddressPolicy
from linkcast.fetch.lookups import BoundedResolver

# Seconds a registration waits for DNS at most (refuse_resolved): past it, the name is left to each fetch's checks.
REGISTRATION_LOOKUP_SECONDS = 2.0
# Addresses of one family a fetch may try to connect to, in the resolver's order (RFC 6724): the second when the
# first is down, and both families kept for Happy Eyeballs.
MAX_ADDRESSES_PER_FAMILY = 2


class BlockedAddress(OSError):
    """Raised through aiohttp (which wraps resolver and socket ``OSError``s) to carry the refusal out of it."""

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.message)
        self.blocked = blocked


class GuardedResolver(AbstractResolver):
    """Resolve with the system resolver (on bounded threads of its own: ``fetch.lookups``), then refuse the whole
    host if any of its addresses is refused; give the first few of each family (``MAX_ADDRESSES_PER_FAMILY``) to
    connect to."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or BoundedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._inner.resolve(host, port, family)
        except UnicodeError as error:
            # The system resolver's IDNA codec refuses a label over 63 characters, or an empty one, that the URL
            # standard lets through: no DNS name at all, so a failed lookup (aiohttp and every caller expect OSError).
            raise socket.gaierror(socket.EAI_NONAME, f"no DNS name: a label is empty or too long ({error})") from None
        addresses = [ipaddress.ip_address(result["host"].split("%", 1)[0]) for result in results]
        try:
            self.policy.check_addresses(host, port, addresses)
        except Blocked as blocked:
            raise BlockedAddress(blocked) from None
        return first_of_each_family(results)

    async def close(self) -> None:
        await self._inner.close()


def first_of_each_family(results: list[ResolveResult]) -> list[ResolveResult]:
    """The first ``MAX_ADDRESSES_PER_FAMILY`` results of each address family, in their order."""
    taken: dict[int, int] = {}
    kept: list[ResolveResult] = []
    for result in results:
        family = int(result["family"])
        if taken.get(family, 0) < MAX_ADDRESSES_PER_FAMILY:
            taken[family] = taken.get(family, 0) + 1
            kept.append(result)
    return kept


# The host name and port being fetched, set by the fetcher before each request: the socket factory sees only the
# address, and the policy's allow rules by name need the name.
connecting_to: contextvars.ContextVar[tuple[str, int]] = contextvars.ContextVar("linkcast_connecting_to")

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


def guarded_socket_factory(policy: AddressPolicy) -> Callable[[AddrInfo], socket.socket]:
    """An aiohttp ``socket_factory`` that refuses to make a socket for a refused address."""

    def make_socket(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        host, port = connecting_to.get((str(address), int(sockaddr[1])))
        try:
            policy.check_addresses(host, port, [address])
        except Blocked as blocked:
            raise BlockedAddress(blocked) from None
        return socket.socket(family, type_, proto)

    return make_socket


async def refuse_resolved(
    policy: AddressPolicy,
    url: str,
    timeout: float = REGISTRATION_LOOKUP_SECONDS,
    resolver: AbstractResolver | None = None,
) -> None:
    """``Blocked`` if ``url`` is refused, or its host resolves now to an address ``policy`` refuses: the refusal every
    fetch of it would meet, brought forward to when the URL is registered (a webhook endpoint, which would otherwise
    be kept only to fail). A name that does not resolve in time, or at all, passes: each fetch checks again. So does
    one that finds the lookups half full (``LookupsBusy``, an optional lookup): an API call never waits for them, nor
    takes the room fetches need."""
    host, port = policy.check_url(url)
    if (policy.allow_private and not policy.denies_addresses) or parse_address(host) is not None:
        return
    try:
        async with asyncio.timeout(timeout):
            await GuardedResolver(policy, resolver or BoundedResolver(optional=True)).resolve(
                host, port, socket.AF_UNSPEC
            )
    except BlockedAddress as refused:
        raise refused.blocked from None
    except (OSError, TimeoutError):
        return
