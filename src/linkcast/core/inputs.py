"""What the API accepts: request ids and target URLs, checked before anything is queued."""

from __future__ import annotations

import re

import ada_url

from linkcast.core.addresses import server_host
from linkcast.core.errors import InvalidInput
from linkcast.core.policy import DEFAULT_PORTS, URL_SERVER

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")
# Path segments that clients resolve away (RFC 3986 dot segments): /urls/.. is sent as /, so such an id could be
# submitted by a raw client but never read back by an ordinary one.
DOT_SEGMENTS = frozenset({".", ".."})
MAX_URL_BYTES = 8 * 1024
FETCHABLE_SCHEMES = frozenset({"http:", "https:"})
# Event ids are SQLite integers and Redis counters, both 64-bit: 19 digits hold every one. The bound keeps a
# 5,000-digit ``since`` from costing a big-integer parse, and ``[0-9]`` (not ``str.isdigit``, which accepts
# superscripts and other scripts' digits) keeps ``int()`` from failing or reading ``٣`` as 3.
SINCE_PATTERN = re.compile(r"[0-9]{1,19}")
# The largest id a store holds (SQLite's INTEGER, Redis's INCR): one past it is no id, and SQLite cannot even bind it
# (OverflowError).
MAX_STORE_ID = 2**63 - 1
# Request ids one stream connection may filter on: each is checked against every event the connection is offered.
MAX_STREAM_FILTERS = 100


def validate_request_id(request_id: str, kind: str = "request") -> str:
    """``request_id`` if it may be one; ``kind`` (``crawl``, ``feed``) names the id and route its message speaks of,
    its code staying ``invalid_request_id``: a crawl's or a feed's id is the ``request_id`` of its events."""
    name = f"{kind}_id"
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise InvalidInput(f"{name} must be 1 to 128 characters from A-Z a-z 0-9 . _ ~ -", code="invalid_request_id")
    if request_id in DOT_SEGMENTS:
        route = f"/{'url' if kind == 'request' else kind}s/{request_id}"
        raise InvalidInput(
            f"{name} may not be {request_id!r}: clients rewrite {route}, so it could never be read back",
            code="invalid_request_id",
        )
    return request_id


def store_id(text: str) -> int | None:
    """``text`` as an id a store can hold (ASCII digits, 0 to ``MAX_STORE_ID``), or None."""
    if not SINCE_PATTERN.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_STORE_ID else None


def validate_since(since: str) -> int:
    """The event id a stream replays after, from ``?since=``: ASCII digits, at most 19 of them. One past the largest
    id is still read (as past the newest event): no id exceeds it, so nothing is replayed for it either way."""
    if not SINCE_PATTERN.fullmatch(since):
        raise InvalidInput(
            "'since' must be a non-negative integer event id (ASCII digits, at most 19)", code="invalid_since"
        )
    return int(since)


def validate_stream_filters(request_ids: list[str]) -> list[str]:
    """The ``?request_id=`` filters of one stream connection: each a valid id, at most ``MAX_STREAM_FILTERS``."""
    if len(request_ids) > MAX_STREAM_FILTERS:
        raise InvalidInput(
            f"at most {MAX_STREAM_FILTERS} request_id filters per connection, not {len(request_ids)}: "
            "open several connections, or one without filters, which receives every event",
            code="too_many_filters",
        )
    return [validate_request_id(request_id) for request_id in request_ids]


def validate_url(url: object) -> str:
    """Return the WHATWG-normalised form of an absolute http(s) URL, or raise ``InvalidInput`` saying why."""
    if not isinstance(url, str):
        raise InvalidInput("'url' must be a string", code="invalid_url")
    if len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise InvalidInput(f"'url' is longer than {MAX_URL_BYTES} bytes", code="url_too_long")
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        raise InvalidInput("'url' is not an absolute URL", code="invalid_url") from None
    if parsed.protocol not in FETCHABLE_SCHEMES:
        raise InvalidInput("'url' must use http or https", code="invalid_url")
    if not parsed.hostname:
        raise InvalidInput("'url' has no host", code="invalid_url")
    normalised: str = parsed.href
    return normalised


def host_key(url: str) -> str:
    """The server ``url`` is fetched from, for per-host politeness: ``host:port`` with the scheme's default port
    applied (``example.com:443``, ``[::1]:80``). Jobs of one key share its concurrency and spacing.

    A trailing dot is dropped (``example.com.`` is the same DNS name, so the same server: a page must not double its
    rate by spelling it both ways), and an IPv6 literal carrying an IPv4 address is that address (``server_host``).
    ``ValueError`` if ``url`` is not an absolute http(s) URL."""
    parsed = ada_url.parse_url(url, attributes=URL_SERVER)  # one call into ada, not one per part
    default_port = DEFAULT_PORTS.get(parsed["protocol"])  # the policy's: {"http:": 80, "https:": 443}
    if default_port is None:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{server_host(parsed['hostname'])}:{parsed['port'] or default_port}"
