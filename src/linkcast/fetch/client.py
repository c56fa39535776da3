"""The shared HTTP client: one aiohttp session for every worker, with every limit a hostile server could abuse.

- Every hop is checked against the address policy: IP literals here, resolved names in ``GuardedResolver`` (so
  aiohttp connects only to checked addresses). Redirects are followed by hand for that reason, with a count limit and
  loop detection.
- The body is streamed and counted after decompression (aiohttp inflates at most 256 KiB at a time, so a gzip or
  brotli bomb is stopped at the cap, not after it has filled memory); a declared length past the cap and a type
  that is not HTML are refused before any of the body is read.
- ``fetch_timeout`` bounds the whole fetch (hops, retries and back-off included), less what its ``before_redirect``
  and ``before_retry`` hooks wait in ``budget.not_counted()`` (a crawl's wait for a host's ``Crawl-delay`` turn:
  politeness, no slowness of the server's); ``read_timeout`` bounds every wait for the next bytes, the headers
  included.
- Per-host concurrency and spacing (``HostGate``); retries with back-off for transient failures only (``retry``),
  each hop retried on its own, so that a failure after a redirect does not start over from the first URL.

Three ways in, sharing all of the above:

- ``fetch(url, before_redirect=None, before_retry=None) -> Page``: an HTML page (or one Chromium renders as an XML
  document), or ``FetchError`` (``http_status``, ``not_html``...).
- ``fetch_resource(url, max_bytes=..., truncate=False, max_redirects=None, accept="*/*", before_redirect=None,
  headers=None, retry=True) -> Resource``: anything (robots.txt, sitemaps, feeds) with its status, headers, body and
  the redirects that led to it, whatever the status; a body past ``max_bytes`` (never more than
  ``--max-body-bytes``) is ``too_large``, or cut there with ``truncate=True``. ``FetchError`` still ends what got no
  answer at all (``timeout``, ``connect``, ``dns``, ``blocked``...). A 429 or 503 is retried like a page's, then
  returned; with ``retry=False`` nothing is retried (a feed's poller schedules its own next try).
- ``post_form(url, form, max_bytes=...) -> Resource``: a form POST (a WebSub hub), following only 307 and 308.
- ``post(url, body, sign, max_bytes=..., timeout=...) -> Resource``: a POST that follows no redirect at all (a
  webhook: a redirect could lead a signed event anywhere), its body cut at ``max_bytes``, and not read at all after
  a 2xx.

``before_redirect`` is awaited with each redirect target before it is requested; a ``LinkcastError`` it raises ends
the fetch with that error (a crawl refuses a redirect to a page it has already fetched); ``before_retry`` likewise
with the URL about to be asked again, before each retry of a transient failure (a crawl cancelled meanwhile asks
nothing more; a crawl waits for that URL's host's turn in its ``Crawl-delay``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ada_url
import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, LineTooLong
from multidict import CIMultiDict, CIMultiDictProxy

from linkcast.core.addresses import server_host
from linkcast.core.errors import FetchError
from linkcast.core.loops import LOOP_HEADER, LOOP_ID
from linkcast.core.xhtml import XML_DOCUMENT_TYPES
from linkcast.fetch.budget import fetch_bound, paused
from linkcast.fetch.dns import BlockedAddress, GuardedResolver, connecting_to, guarded_socket_factory
from linkcast.fetch.lookups import LookupsBusy
from linkcast.fetch.politeness import HostGate
from linkcast.fetch.retry import RETRY_STATUSES, Backoff, TransientFetchError, parse_retry_after
from linkcast.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
# What no field value kept or sent may hold: a control character but HTAB (RFC 9110 5.5), or a byte that is not
# UTF-8 (aiohttp hands those over as lone surrogates, which neither SQLite's text nor JSON can hold).
_NOT_FIELD_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
# A page is what Chromium renders as a document with links: HTML, or XML (text/xml... with XHTML in it).
PAGE_TYPES = frozenset({"text/html"}) | XML_DOCUMENT_TYPES
# What a page's fetch accepts: HTML first, the XML documents Chromium reads as pages after it (as Chromium asks).
PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9"
MAX_RESPONSE_HEADERS = 128
# The socket timeouts of an exchange bounded as a whole (a webhook's POST): none, its own bound is the only one.
_OWN_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None)

RedirectHook = Callable[[str], Awaitable[None]]
# Awaited before each retry of a transient failure: a LinkcastError it raises ends the fetch with that error.
RetryHook = Callable[[str], Awaitable[None]]
T = TypeVar("T")
# Reads one final (non-redirect) response: (the URL asked for, the URL answered, the response) -> what the caller gets.
Reader = Callable[[str, str, aiohttp.ClientResponse], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTML (or XML) document: where it ended up and its raw bytes."""

    url: str
    final_url: str
    status_code: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Resource:
    """Any fetched resource, whatever its status: where it ended up, the answer's headers and its (bounded) body."""

    url: str
    final_url: str
    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    truncated: bool  # the body was longer than the bytes asked for, and cut there
    redirects: tuple[tuple[int, str], ...] = ()  # each redirect followed: its status and where it led, in order

    @property
    def content_type(self) -> str | None:
        """The media type, lower case and without parameters (``text/plain``), if the answer gave one."""
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() or None if value else None

    @property
    def permanent_url(self) -> str:
        """Where the resource lives from now on: the target of the redirects it began with that were permanent (301,
        308), up to the first that was not; ``url`` if none was. A 302 or 307 says to keep asking the URL asked
        (RFC 9110 15.4.3, 15.4.8), whatever it then led to."""
        moved = self.url
        for status, location in self.redirects:
            if status not in PERMANENT_REDIRECTS:
                break
            moved = location
        return moved

    def header_values(self, name: str) -> list[str]:
        """Every value of a header that may come more than once (``Link``), in order."""
        return header_values(self.headers, name)


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of a header that may come more than once (``Link``, ``Cache-Control``), in order."""
    getall = getattr(headers, "getall", None)  # aiohttp's multidict; a plain mapping holds one
    if getall is not None:
        return list(getall(name, []))
    return [headers[name]] if name in headers else []


@dataclass(frozen=True, slots=True)
class _Ask:
    """What each hop sends: the method, headers and body, and which redirects are followed (others are answers)."""

    headers: Mapping[str, str]
    method: str = "GET"
    body: bytes | None = None
    follow: frozenset[int] = REDIRECT_STATUSES
    timeout: float | None = None  # seconds for the exchange once the host's turn came (None: the fetch's bound only)
    sign: Callable[[], Mapping[str, str]] | None = None  # headers made once the host's turn came
    before_retry: RetryHook | None = None  # awaited before each retry of a transient failure


class _RetryableAnswer(TransientFetchError):
    """A 429 or 503 worth another try, carrying the answer to return when the retries are spent."""

    def __init__(self, resource: Resource, retry_after: float | None) -> None:
        super().__init__(f"the server answered {resource.status_code}", code="http_status", retry_after=retry_after)
        self.resource = resource


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
                "Accept": PAGE_ACCEPT,
                # So that linkcast's own API, wherever a URL leads to it, knows the request for one of its own.
                LOOP_HEADER: LOOP_ID,
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

    async def fetch(
        self, url: str, *, before_redirect: RedirectHook | None = None, before_retry: RetryHook | None = None
    ) -> Page:
        """Fetch an HTML page, or raise ``FetchError`` (``Blocked`` for a refused target) saying why."""
        ask = _Ask({}, before_retry=before_retry)
        return await self._bounded(url, self._read_page, ask, self.settings.max_redirects, before_redirect)

    async def fetch_resource(
        self,
        url: str,
        *,
        max_bytes: int,
        truncate: bool = False,
        max_redirects: int | None = None,
        accept: str = "*/*",
        before_redirect: RedirectHook | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        before_retry: RetryHook | None = None,
    ) -> Resource:
        """Fetch anything and return its answer whatever the status; raise ``FetchError`` only for no answer at all.

        The body is read up to ``max_bytes`` (at most ``--max-body-bytes``), counted after decompression: past it the
        fetch fails with ``too_large``, or with ``truncate`` the body is cut there. ``max_redirects`` defaults to
        ``--max-redirects`` (robots.txt asks for 5, RFC 9309 2.3.1.2).
        """
        cap = min(max_bytes, self.settings.max_body_bytes)
        read = functools.partial(self._read_resource, cap=cap, truncate=truncate)
        hops = self.settings.max_redirects if max_redirects is None else max_redirects
        # A header that cannot be sent (a validator an older release kept as a server sent it) is left out, not an
        # error: aiohttp would raise ValueError, which is no FetchError, out of the caller's poll.
        sendable = {name: value for name, value in (headers or {}).items() if not _NOT_FIELD_TEXT.search(value)}
        sent = _Ask({"Accept": accept, **sendable}, before_retry=before_retry)
        return await self._bounded(url, read, sent, hops, before_redirect, retry)

    async def post_form(self, url: str, form: Mapping[str, str], *, max_bytes: int) -> Resource:
        """POST ``form`` (``application/x-www-form-urlencoded``) and return the answer whatever its status, as
        ``fetch_resource`` does. Only 307 and 308 are followed, with the same POST (RFC 9110 15.4.8/9); any other
        redirect is the answer. Nothing is retried: the caller decides when to ask again."""
        body = urllib.parse.urlencode(form).encode()
        sent = _Ask({"Content-Type": "application/x-www-form-urlencoded"}, "POST", body, frozenset({307, 308}))
        read = functools.partial(self._read_resource, cap=min(max_bytes, self.settings.max_body_bytes), truncate=True)
        return await self._bounded(url, read, sent, self.settings.max_redirects, None, retry=False)

    async def post(
        self, url: str, body: bytes, sign: Callable[[], Mapping[str, str]], *, max_bytes: int, timeout: float
    ) -> Resource:
        """POST ``body`` with the headers ``sign()`` makes once the host's turn has come (``HostGate``: a signature's
        timestamp is that of the sending, not of the wait), and return the answer whatever its status (a redirect is
        an answer: none is followed), its body cut at ``max_bytes``; nothing is retried. The exchange has ``timeout``
        seconds from that turn: the wait for it is no slowness of the server's. The body of a 2xx is not read: the
        status is the whole answer (a webhook's receiver has the event once it said 2xx), so a connection broken or
        a body that never ends after it is no failure of the POST."""
        # Any answer will do (not the HTML a page fetch asks for: a receiver that negotiates would answer 406).
        sent = _Ask({"Accept": "*/*"}, "POST", body, frozenset(), timeout, sign)
        read = functools.partial(self._read_resource, cap=min(max_bytes, self.settings.max_body_bytes), truncate=True)
        try:
            return await self._follow(url, functools.partial(_unless_2xx, read), sent, 0, None, retry=False)
        except TimeoutError:
            raise FetchError(f"no complete answer within {timeout:g} s", code="timeout") from None

    async def _bounded(
        self,
        url: str,
        read: Reader[T],
        ask: _Ask,
        max_redirects: int,
        hook: RedirectHook | None,
        retry: bool = True,
        timeout: float | None = None,
    ) -> T:
        limit = self.settings.fetch_timeout if timeout is None else timeout
        try:
            async with fetch_bound(limit):
                return await self._follow(url, read, ask, max_redirects, hook, retry)
        except TimeoutError:
            raise FetchError(f"no complete answer within {limit:g} s", code="timeout") from None

    async def _follow(
        self,
        url: str,
        read: Reader[T],
        ask: _Ask,
        max_redirects: int,
        hook: RedirectHook | None,
        retry: bool,
    ) -> T:
        deadline = asyncio.get_running_loop().time() + self.settings.fetch_timeout
        seen = {url}
        target = url
        redirects: list[tuple[int, str]] = []
        while True:
            answer, location, status = await self._with_retries(url, target, read, ask, deadline, retry)
            if location is None:
                if isinstance(answer, Resource) and redirects:
                    return dataclasses.replace(answer, redirects=tuple(redirects))  # type: ignore[return-value]
                return answer  # type: ignore[return-value]  # a final answer always comes with no location
            redirects.append((status, location))
            if location in seen:
                raise FetchError(f"redirect loop: {target} leads back to {location}", code="redirect_loop")
            if len(seen) > max_redirects:
                raise FetchError(f"more than {max_redirects} redirects", code="too_many_redirects")
            seen.add(location)
            if hook is not None:
                await hook(location)
            target = location

    async def _with_retries(
        self, url: str, target: str, read: Reader[T], ask: _Ask, deadline: float, retry: bool = True
    ) -> tuple[T | None, str | None, int]:
        """One hop, retried with back-off while its failures are transient and the fetch's time allows (``deadline``,
        moved by the hooks' waits not counted: ``budget.paused``): the answer, or where it redirects to, and its
        status."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await self._request(url, target, read, ask)
            except TransientFetchError as error:
                wait = self.backoff.wait(attempt, error) if retry else None
                if wait is None or loop.time() + wait >= deadline + paused():
                    if isinstance(error, _RetryableAnswer):
                        answer: Any = error.resource  # only the resource reader raises it: T is Resource
                        return answer, None, error.resource.status_code
                    raise FetchError(error.message, code=error.code) from None
                attempt += 1
                await asyncio.sleep(wait)
                if ask.before_retry is not None:
                    await ask.before_retry(target)

    async def _request(self, url: str, target: str, read: Reader[T], ask: _Ask) -> tuple[T | None, str | None, int]:
        """One hop: the answer, or where it redirects to; and its status."""
        assert self._session is not None, "Fetcher.open() first"
        host, port = self.policy.check_url(target)
        connecting_to.set((host, port))
        try:
            async with (
                self.gate.slot(f"{server_host(host)}:{port}"),  # one slot per server, however it is spelled
                asyncio.timeout(ask.timeout),
                self._session.request(
                    ask.method,
                    target,
                    allow_redirects=False,
                    data=ask.body,
                    headers=ask.headers if ask.sign is None else {**ask.headers, **ask.sign()},
                    # An exchange with a timeout of its own has all of it: --read-timeout does not cut it shorter.
                    timeout=self._session.timeout if ask.timeout is None else _OWN_TIMEOUT,
                ) as response,
            ):
                location = response.headers.get("Location")
                if response.status in ask.follow and location:
                    return None, _redirect_target(target, location), response.status
                return await read(url, target, response), None, response.status
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
        if content_type is not None and response.content_type not in PAGE_TYPES:
            response.close()  # without reading the body
            raise FetchError(f"not an HTML page: {response.content_type}", code="not_html")
        declared = response.content_length
        if declared is not None and declared > cap and "Content-Encoding" not in response.headers:
            response.close()
            raise FetchError(f"the body is {declared} bytes, more than the {cap} allowed", code="too_large")
        body, _ = await self._read_capped(response, cap)
        return Page(url, final_url, response.status, content_type, body)

    async def _read_resource(
        self, url: str, final_url: str, response: aiohttp.ClientResponse, *, cap: int, truncate: bool
    ) -> Resource:
        declared = response.content_length
        if not truncate and declared is not None and declared > cap and "Content-Encoding" not in response.headers:
            response.close()
            raise FetchError(f"the body is {declared} bytes, more than the {cap} allowed", code="too_large")
        body, truncated = await self._read_capped(response, cap, truncate=truncate)
        resource = Resource(url, final_url, response.status, _text_fields(response.headers), body, truncated)
        if response.status in RETRY_STATUSES:
            raise _RetryableAnswer(resource, parse_retry_after(response.headers.get("Retry-After")))
        return resource

    async def _read_capped(
        self, response: aiohttp.ClientResponse, cap: int, *, truncate: bool = False
    ) -> tuple[bytes, bool]:
        """The body up to ``cap`` bytes, and whether there was more; past the cap: ``too_large`` unless ``truncate``."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            if size + len(chunk) > cap:
                response.close()  # the rest is never read
                if not truncate:
                    raise FetchError(f"the body is larger than {cap} bytes (after decompression)", code="too_large")
                chunks.append(chunk[: cap - size])
                return b"".join(chunks), True
            size += len(chunk)
            chunks.append(chunk)
        return b"".join(chunks), False


async def _unless_2xx(read: Reader[Resource], url: str, final_url: str, response: aiohttp.ClientResponse) -> Resource:
    """The answer as ``read`` makes it, but a 2xx's body left unread: its status alone. The connection goes back to
    be used again if the body had all come with the status, and is closed otherwise (aiohttp's ``release``)."""
    if not 200 <= response.status < 300:
        return await read(url, final_url, response)
    response.release()
    return Resource(url, final_url, response.status, _text_fields(response.headers), b"", truncated=False)


def _translate(error: aiohttp.ClientError) -> FetchError:
    """One aiohttp failure as the error clients see; transient ones are marked for a retry."""
    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(error.os_error, BlockedAddress):
        return error.os_error.blocked
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        if isinstance(error.os_error, LookupsBusy):
            return TransientFetchError(f"cannot resolve host now: {error.os_error}", code="dns")
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
    if isinstance(error, aiohttp.ClientPayloadError) and _caused_by(error, ContentEncodingError):
        # The body cannot be decoded as its Content-Encoding says (corrupt, or a gzip of too many members): the same
        # bytes again would fail the same way, so it is no transient failure to fetch (and decode) twice more.
        return FetchError(f"the body cannot be decoded: {error}", code="bad_response")
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


def _text_fields(headers: CIMultiDictProxy[str]) -> CIMultiDictProxy[str]:
    """The answer's header fields but those whose value is no text (``_NOT_FIELD_TEXT``): such a value, an ETag say,
    could be neither stored nor sent back, and one kept would break every later use of it. Taken as not sent."""
    if not any(_NOT_FIELD_TEXT.search(value) for value in headers.values()):
        return headers
    return CIMultiDictProxy(CIMultiDict((k, v) for k, v in headers.items() if not _NOT_FIELD_TEXT.search(v)))
