"""A DNS resolver for aiohttp that checks every address against the policy before anyone connects to it.

aiohttp connects to exactly the addresses its resolver returns, so checking them here leaves no window between the
check and the connection for a DNS answer to change (DNS rebinding). IP literals never reach a resolver: the fetcher
checks those itself, on every hop, with ``AddressPolicy.check_url``.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from linkcast.core.errors import Blocked
from linkcast.core.policy import AddressPolicy


class BlockedAddress(OSError):
    """Raised through aiohttp (which wraps resolver ``OSError``s) to carry the policy's refusal out of it."""

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.message)
        self.blocked = blocked


class GuardedResolver(AbstractResolver):
    """Resolve with the system resolver, then refuse the whole host if any of its addresses is refused."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        addresses = [ipaddress.ip_address(result["host"].split("%", 1)[0]) for result in results]
        try:
            self.policy.check_addresses(host, port, addresses)
        except Blocked as blocked:
            raise BlockedAddress(blocked) from None
        return results

    async def close(self) -> None:
        await self._inner.close()
