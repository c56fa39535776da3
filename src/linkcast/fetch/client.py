"""The shared HTTP client: one aiohttp session for every worker, with every limit a hostile server could abuse.

- Every hop is checked against the address policy: IP literals here, resolved names in ``GuardedResolver`` (so
  aiohttp connects only to checked addresses). Redirects are followed by hand for that reason, with a count limit and
  loop detection.
- The body is streamed and counted after decompression (aiohttp inflates at most 256 KiB at a time, so a gzip or
  brotli bomb is stopped at the cap, not after it has filled memory); a declared length past the cap and a type
  that is not HTML are refused before any of the body is read.
- ``fetch_timeout`` bounds the whole fetch (hops, retries and back-off included); ``read_timeout`` bounds every
  wait for the next bytes, the headers included.
- Per-host concurrency and spacing (``HostGate``); retries with back-off for transient failures only (``retry``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import ada_url
import aiohttp
from aiohttp.http_exceptions import LineTooLong

from linkcast.core.errors import FetchError
from linkcast.fetch.dns import BlockedAddress, GuardedResolver, connecting_to, guarded_socket_factory
from linkcast.fetch.politeness import HostGate
from linkcast.fetch.retry import RETRY_STATUSES, Backoff, TransientFetchError, parse_retry_after
from linkcast.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MAX_RESPONSE_HEADERS = 128


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTML document: where it ended up and its raw bytes."""

    url: str
    final_url: str
    status_code: int
    content_type: str | None
    body: bytes


class Fetcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy = settings.address_policy
        self.gate = HostGate(settings.per_host_concurrency, settings.per_host_delay)
        self.backoff = Backoff(settings.retries)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=0,
            ttl_dns_cache=60,
            resolver=GuardedResolver(self.policy),
            socket_factory=guarded_socket_factory(self.policy),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9",
            },
            # Cookies set by one user's fetch must never be sent with another's.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.settings.read_timeout, sock_read=self.settings.read_timeout
            ),
            # aiohttp limits each header line, and their count; together they bound the header block.
            max_field_size=self.settings.max_header_bytes,
            max_line_size=self.settings.max_header_bytes,
            max_headers=MAX_RESPONSE_HEADERS,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> Page:
        """Fetch an HTML page, or raise ``FetchError`` (``Blocked`` for a refused target) saying why."""
        try:
            async with asyncio.timeout(self.settings.fetch_timeout):
                return await self._fetch_with_retries(url)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self.settings.fetch_timeout:g} s", code="timeout") from None

    async def _fetch_with_retries(self, url: str) -> Page:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.fetch_timeout
        attempt = 0
        while True:
            try:
                return await self._follow(url)
            except TransientFetchError as error:
                wait = self.backoff.wait(attempt, error)
                if wait is None or loop.time() + wait >= deadline:
                    raise FetchError(error.message, code=error.code) from None
                attempt += 1
                await asyncio.sleep(wait)

    async def _follow(self, url: str) -> Page:
        seen = {url}
        target = url
        for _hop in range(self.settings.max_redirects + 1):
            page, location = await self._request(url, target)
            if page is not None:
                return page
            assert location is not None
            if location in seen:
                raise FetchError(f"redirect loop: {target} leads back to {location}", code="redirect_loop")
            seen.add(location)
            target = location
        raise FetchError(f"more than {self.settings.max_redirects} redirects", code="too_many_redirects")

    async def _request(self, url: str, target: str) -> tuple[Page | None, str | None]:
        """One hop: the page, or where it redirects to."""
        assert self._session is not None, "Fetcher.open() first"
        host, port = self.policy.check_url(target)
        connecting_to.set((host, port))
        try:
            async with (
                self.gate.slot(f"{host}:{port}"),
                self._session.get(target, allow_redirects=False) as response,
            ):
                location = response.headers.get("Location")
                if response.status in REDIRECT_STATUSES and location:
                    return None, _redirect_target(target, location)
                return await self._read_page(url, target, response), None
        except aiohttp.ClientError as error:
            raise _translate(error) from None

    async def _read_page(self, url: str, final_url: str, response: aiohttp.ClientResponse) -> Page:
        cap = self.settings.max_body_bytes
        if not 200 <= response.status < 300:
            response.close()
            message = f"the server answered {response.status} {response.reason or ''}".strip()
            if response.status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise TransientFetchError(message, code="http_status", retry_after=retry_after)
            raise FetchError(message, code="http_status")
        content_type = response.headers.get("Content-Type")
        if content_type is not None and response.content_type not in HTML_TYPES:
            response.close()  # without reading the body
            raise FetchError(f"not an HTML page: {response.content_type}", code="not_html")
        declared = response.content_length
        if declared is not None and declared > cap and "Content-Encoding" not in response.headers:
            response.close()
            raise FetchError(f"the body is {declared} bytes, more than the {cap} allowed", code="too_large")
        body = await self._read_capped(response, cap)
        return Page(url, final_url, response.status, content_type, body)

    async def _read_capped(self, response: aiohttp.ClientResponse, cap: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                response.close()
                raise FetchError(f"the body is larger than {cap} bytes (after decompression)", code="too_large")
            chunks.append(chunk)
        return b"".join(chunks)


def _translate(error: aiohttp.ClientError) -> FetchError:
    """One aiohttp failure as the error clients see; transient ones are marked for a retry."""
    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(error.os_error, BlockedAddress):
        return error.os_error.blocked
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return FetchError(f"cannot resolve host: {error.os_error}", code="dns")
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return TransientFetchError(f"cannot connect: {error}", code="timeout")
    if isinstance(error, aiohttp.ServerTimeoutError):
        return FetchError(f"no bytes received for too long: {error}", code="timeout")
    if isinstance(error, aiohttp.ClientConnectorError):
        return TransientFetchError(f"cannot connect: {error.os_error}", code="connect")
    if isinstance(error, aiohttp.InvalidURL):
        return FetchError(f"not a fetchable URL: {error}", code="invalid_url")
    if isinstance(error, aiohttp.ClientResponseError):
        if _caused_by(error, LineTooLong):
            return FetchError(f"response headers too large: {error.message}", code="headers_too_large")
        return FetchError(f"invalid response: {error.message}", code="bad_response")
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return TransientFetchError(f"connection broken: {error}", code="connection_reset")
    return FetchError(f"fetch failed: {error}", code="connect")


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain of causes (aiohttp re-wraps parser errors twice)."""
    cause: BaseException | None = error
    for _ in range(5):
        if cause is None:
            return False
        if isinstance(cause, kind):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _redirect_target(current: str, location: str) -> str:
    try:
        target: str = ada_url.join_url(current, location)
    except ValueError:
        raise FetchError(f"redirect to an invalid URL: {location!r}", code="bad_redirect") from None
    if not target.startswith(("http:", "https:")):
        raise FetchError(f"redirect to a non-http URL: {target}", code="bad_redirect")
    return target
