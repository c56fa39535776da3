"""The HTTP API as client commands call it: one call, its JSON answer or the error the answer says.

A server that cannot be reached at the first try is an error at once (``Unreachable``): the user has the wrong
``--server``, or it is not running. Once it has answered, an idempotent call (PUT, GET, DELETE) is retried with growing
delays while the server restarts (503, or a connection refused or lost), since repeating it changes nothing; the
caller bounds the whole with its own timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import yarl

from linkcast.cli.endpoint import Endpoint, answer_error, describe_failure, reconnect_delay
from linkcast.cli.errors import ServerError, Unreachable
from linkcast.cli.report import say

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})  # DELETE /crawls/<id> again answers the same record
RESTARTING = 503  # what a draining server answers; another status is its last word
TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


def session() -> aiohttp.ClientSession:
    """A session for ``call``: every request bounded (30 s, 10 s to connect)."""
    return aiohttp.ClientSession(timeout=TIMEOUT)


async def call(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    method: str,
    *segments: str,
    json: Any = None,
    notice: Callable[[str], None] = say,
) -> Any:
    """``method`` on the path of ``segments`` (each percent-encoded); the JSON answer, or ``ServerError`` saying why
    not. ``notice`` hears of each retry."""
    # encoded=True: the path goes out as built, never with dot segments resolved (/urls/.. would become /).
    url = yarl.URL(endpoint.url(*segments), encoded=True)
    retry = method in IDEMPOTENT
    reached = False
    attempt = 0
    while True:
        try:
            async with session.request(method, url, json=json, headers=endpoint.headers) as response:
                reached = True
                body = await response.read()
                if response.status < 400:
                    return _json(body, response.status, method, url)
                error = answer_error(response.status, body, response.reason or "")
                if response.status != RESTARTING or not retry:
                    raise error
                failure = f"{error.code}: {error.message}"
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as unreachable:
            cause = getattr(unreachable, "os_error", unreachable)
            if not reached or not retry:
                raise Unreachable(f"cannot connect to {endpoint.base}: {describe_failure(cause)}") from None
            failure = describe_failure(cause)
        except (aiohttp.ClientError, TimeoutError) as lost:
            if not retry:
                raise Unreachable(f"{method} {url} failed: {describe_failure(lost)}") from None
            reached = True  # connected, then lost: the server is there, maybe restarting
            failure = describe_failure(lost)
        delay = reconnect_delay(attempt)
        if attempt == 0:
            notice(f"{method} {url.path} failed ({failure}); retrying")
        attempt += 1
        await asyncio.sleep(delay)


def _json(body: bytes, status: int, method: str, url: yarl.URL) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise ServerError(
            status, "not_linkcast", f"the answer to {method} {url} is not JSON: is --server a linkcast server?"
        ) from None
