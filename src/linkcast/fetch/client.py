"""The shared HTTP client: one aiohttp session for every worker, redirects followed by hand so each hop is checked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import ada_url
import aiohttp

from linkcast.core.errors import FetchError
from linkcast.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


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
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=self.settings.per_host_concurrency, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9",
            },
            max_field_size=self.settings.max_header_bytes,
            max_line_size=self.settings.max_header_bytes,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> Page:
        try:
            async with asyncio.timeout(self.settings.fetch_timeout):
                return await self._follow(url)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self.settings.fetch_timeout:g} s", code="timeout") from None

    async def _follow(self, url: str) -> Page:
        assert self._session is not None, "Fetcher.open() first"
        target = url
        for _hop in range(self.settings.max_redirects + 1):
            try:
                async with self._session.get(target, allow_redirects=False) as response:
                    location = response.headers.get("Location")
                    if response.status in REDIRECT_STATUSES and location:
                        target = _redirect_target(target, location)
                        continue
                    return await self._read_page(url, target, response)
            except aiohttp.ClientConnectorDNSError as error:
                raise FetchError(f"cannot resolve host: {error.os_error}", code="dns") from None
            except aiohttp.ClientConnectorError as error:
                raise FetchError(f"cannot connect: {error.os_error}", code="connect") from None
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as error:
                raise FetchError(f"connection broken: {error}", code="connection_reset") from None
            except aiohttp.ClientResponseError as error:
                raise FetchError(f"invalid response: {error.message}", code="bad_response") from None
            except aiohttp.ClientError as error:
                raise FetchError(f"fetch failed: {error}", code="connect") from None
        raise FetchError(f"more than {self.settings.max_redirects} redirects", code="too_many_redirects")

    async def _read_page(self, url: str, final_url: str, response: aiohttp.ClientResponse) -> Page:
        if not 200 <= response.status < 300:
            raise FetchError(
                f"the server answered {response.status} {response.reason or ''}".strip(), code="http_status"
            )
        content_type = response.headers.get("Content-Type")
        if content_type is not None and response.content_type not in HTML_TYPES:
            raise FetchError(f"not an HTML page: {response.content_type}", code="not_html")
        body = await self._read_capped(response)
        return Page(url, final_url, response.status, content_type, body)

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await asyncio.wait_for(response.content.readany(), self.settings.read_timeout)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise FetchError(f"the body is larger than {cap} bytes", code="too_large")
            chunks.append(chunk)


def _redirect_target(current: str, location: str) -> str:
    try:
        target: str = ada_url.join_url(current, location)
    except ValueError:
        raise FetchError(f"redirect to an invalid URL: {location!r}", code="bad_redirect") from None
    if not target.startswith(("http:", "https:")):
        raise FetchError(f"redirect to a non-http URL: {target}", code="bad_redirect")
    return target
