"""The HTTP API as client commands call it: one call, its JSON answer or the error the answer says.

A server that cannot be reached at the first try, or that drops the connection without an answer, is an error at
once (``Unreachable``): the user has the wrong ``--server``, or it is not running. Once it has answered, an idempotent
call (PUT, GET, DELETE) is retried with growing delays while the server restarts (503, or a connection refused or
lost), since repeating it changes nothing; the caller bounds the whole with its own timeout (``within`` does it for a
command's calls).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import orjson
import yarl

from linkcast.cli.endpoint import Endpoint, describe_failure, reconnect_delay
from linkcast.cli.errors import ServerError, Unreachable
from linkcast.cli.report import say

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})  # DELETE /crawls/<id> again answers the same record
RESTARTING = 503  # what a draining server answers; another status is its last word
TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
# Seconds a command gives the server to answer its calls, retries included (a restart takes a few).
CALL_TIMEOUT = 60.0


def session() -> aiohttp.ClientSession:
    """A session for ``call``: every request bounded (30 s, 10 s to connect)."""
    return aiohttp.ClientSession(timeout=TIMEOUT)


@contextlib.asynccontextmanager
async def within(what: str, then: str = "", timeout: float = CALL_TIMEOUT) -> AsyncIterator[aiohttp.ClientSession]:
    """A session whose calls, retries included, must all end within ``timeout``: past it, ``Unreachable`` saying
    that the server did not ``what`` (say, "list the feeds") in time, and ``then`` what the user may do about it."""
    try:
        async with asyncio.timeout(timeout), session() as client:
            yield client
    except TimeoutError:
        advice = f"; {then}" if then else ""
        raise Unreachable(f"the server did not {what} within {timeout:g} s{advice}") from None


async def call(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    method: str,
    *segments: str,
    json: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
    query: Mapping[str, str] | None = None,
    notice: Callable[[str], None] = say,
) -> Any:
    """``method`` on the path of ``segments`` (each percent-encoded); the JSON answer, or ``ServerError`` saying why
    not. ``notice`` hears of each retry."""
    status, body = await send(
        session, endpoint, method, *segments,
        json=json, data=data, content_type=content_type, query=query, notice=notice,
    )  # fmt: skip
    return _json(body, status, method, request_url(endpoint, segments, query))


async def send(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    method: str,
    *segments: str,
    json: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
    query: Mapping[str, str] | None = None,
    notice: Callable[[str], None] = say,
) -> tuple[int, bytes]:
    """``call``, but the answer's status and body as they came (an OPML file is not JSON); ``data`` is sent as the
    body instead of ``json``, of ``content_type``."""
    url = request_url(endpoint, segments, query)
    headers = endpoint.headers | ({"Content-Type": content_type} if content_type else {})
    retry = method in IDEMPOTENT
    reached = False
    attempt = 0
    while True:
        try:
            async with session.request(method, url, json=json, data=data, headers=headers) as response:
                reached = True
                body = await response.read()
                if response.status < 400:
                    return response.status, body
                error = endpoint.refusal(response.status, body, response.reason or "")
                if response.status != RESTARTING or not retry:
                    raise error
                failure = f"{error.code}: {error.message}"
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as unreachable:
            cause = getattr(unreachable, "os_error", unreachable)
            if not reached or not retry:
                raise Unreachable(f"cannot connect to {endpoint.base}: {describe_failure(cause)}") from None
            failure = describe_failure(cause)
        except aiohttp.TooManyRedirects:
            raise Unreachable(f"{method} {url} was redirected without end: is --server a linkcast server?") from None
        except aiohttp.ClientResponseError:  # else raised by the parser alone (nothing here raises for a status)
            raise Unreachable(f"{endpoint.base} did not answer in HTTP: is --server a linkcast server?") from None
        except (aiohttp.ClientError, TimeoutError) as lost:
            if not retry:
                raise Unreachable(f"{method} {url} failed: {describe_failure(lost)}") from None
            if not reached and not isinstance(lost, TimeoutError):
                # Connected, then cut without an answer, and again on aiohttp's own second try: something that
                # takes connections and drops them (not linkcast, or a proxy with nothing behind it), which
                # trying for a minute will not change. A linkcast that restarts refuses connections, or answers.
                raise Unreachable(
                    f"{endpoint.base} closed the connection without answering ({describe_failure(lost)}): "
                    "is --server a linkcast server?"
                ) from None
            reached = True  # it answered before, or is slow to: the server is there, maybe restarting
            failure = describe_failure(lost)
        delay = reconnect_delay(attempt)
        if attempt == 0:
            notice(f"{method} {url.path} failed ({failure}); retrying")
        attempt += 1
        await asyncio.sleep(delay)


def request_url(endpoint: Endpoint, segments: tuple[str, ...], query: Mapping[str, str] | None) -> yarl.URL:
    # encoded=True: the path goes out as built, never with dot segments resolved (/urls/.. would become /).
    url = yarl.URL(endpoint.url(*segments), encoded=True)
    return url.with_query(query) if query else url


def _json(body: bytes, status: int, method: str, url: yarl.URL) -> Any:
    """The answer's JSON object: linkcast answers every call with one (or nothing). Anything else (a page, a list,
    a number) is another server's, which the commands must not read as linkcast's."""
    try:
        answer = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise _not_linkcast(status, method, url, "JSON") from None
    if answer is not None and not isinstance(answer, dict):
        raise _not_linkcast(status, method, url, "a JSON object")
    return answer


def _not_linkcast(status: int, method: str, url: yarl.URL, what: str) -> ServerError:
    return ServerError(
        status, "not_linkcast", f"the answer to {method} {url} is not {what}: is --server a linkcast server?"
    )
