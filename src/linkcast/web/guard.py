"""Who may call, and how often: the bearer token, the WebSocket Origin allow-list, the per-client submission rate.

- ``--token`` (``LINKCAST_TOKEN``): every HTTP call but the public ones (health, the page, the API description)
  needs ``Authorization: Bearer <token>``; the WebSocket takes the header or ``?token=`` (browsers cannot set headers
  on a WebSocket). Compared in constant time.
- The ``Host`` header must name this server: an IP address, ``localhost`` (or a name under it), or a name listed in
  ``--server-names``; with ``--token`` and no list, any name. A web page whose own name was made to resolve to this
  server's address (DNS rebinding) sends that name, so it is refused before it can submit or read anything.
- The WebSocket and the submissions (``PUT``, ``POST``) refuse an ``Origin`` that is neither the server's own host
  (the ``Host`` header's name; ports may differ, so a page on another port of the same host works) nor listed in
  ``--allowed-origins`` (``*``: any), against cross-site WebSocket hijacking and cross-site form posts. Clients that
  send no Origin (curl, scripts) are not browsers and are let in.
- ``--rate-limit`` submissions per second per client address, with bursts of ``--rate-burst``: a token bucket; an
  empty bucket answers 429 with ``Retry-After``.
- A submission that linkcast itself sent (``CDN-Loop: linkcast``: a webhook, a hub request or a fetch that a URL led
  back here) is refused with 403 ``loop_detected`` (``core.loops``); reads stay open.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from quart import Quart, current_app, request
from quart.wrappers import Websocket

from linkcast.core.errors import Forbidden, InvalidInput, RateLimited, Unauthorized
from linkcast.core.loops import LOOP_HEADER, sent_by_linkcast
from linkcast.settings import Settings
from linkcast.web.connections import client_key, peer_address

PUBLIC_PATHS = frozenset({"/", "/healthz", "/openapi.json", "/docs"})
# The page's files, Swagger UI's for /docs, and the WebSub callback (hubs have no token: the callback's own token and
# each delivery's signature stand for it).
PUBLIC_PREFIXES = ("/static/", "/docs/", "/websub/")
# Methods that change something: refused from another site's page (a browser sends a form post cross-site with no
# preflight; the others are refused too, whatever a CORS preflight would have said).
SUBMITTING_METHODS = frozenset({"PUT", "POST", "DELETE"})
# Buckets kept at most; the least recently seen clients are forgotten first (a full bucket is the default anyway).
MAX_TRACKED_CLIENTS = 100_000


def bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def read_host(host_header: str) -> tuple[str, int] | None:
    """A ``Host`` header's name and port (0: none given): ``[::1]:80`` -> ``("::1", 80)``; None if it names no host
    (``[::1``, ``localhost:port``)."""
    try:
        parsed = urlsplit(f"//{host_header}")
        name, port = (parsed.hostname or "").lower(), parsed.port or 0
    except ValueError:
        return None
    return (name, port) if name else None


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: ``localhost:8080`` -> ``localhost``; "" if it names no host."""
    host = read_host(host_header)
    return host[0] if host else ""


def is_local_or_address(name: str) -> bool:
    """Whether a host name cannot be a name some other site controls: an IP address, or ``localhost`` and the names
    under it (which browsers resolve to loopback themselves, never through DNS)."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass
class TokenBucket:
    rate: float
    burst: int
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)  # key -> (tokens, at)

    def take(self, key: str, count: int = 1, now: float | None = None) -> float:
        """Spend ``count`` tokens of ``key``'s bucket: 0.0 if it had them, else the seconds until it will. A count over
        the burst (an OPML list of 1,500 feeds against a burst of 1,000) is spent once the bucket is full, and the
        rest is owed: the bucket refills from below zero, so the client's next submission waits until the whole count
        has been paid at the rate. (Refused until it fits, it would never be accepted.)"""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= min(count, self.burst):
            self._buckets[key] = (tokens - count, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (min(count, self.burst) - tokens) / self.rate
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class Guard:
    """The checks, each raising the typed error that the app's one error handler answers."""

    def __init__(self, settings: Settings) -> None:
        self.token = settings.token
        self.origins = frozenset(origin.rstrip("/").lower() for origin in settings.allowed_origins)
        self.server_names = settings.server_name_rules  # None: any name
        self.limiter = TokenBucket(settings.rate_limit, max(1, settings.rate_burst)) if settings.rate_limit else None

    def token_ok(self, presented: str | None) -> bool:
        if not self.token:
            return True
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    def origin_ok(self, origin: str | None, host_header: str) -> bool:
        if origin is None or "*" in self.origins:
            return True
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        try:
            parsed = urlsplit(origin)
        except ValueError:  # "http://[::1" and the like: no browser sends it, and it names no host to match
            return False
        return (
            parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.hostname == host_name(host_header)
        )

    def host_ok(self, host_header: str) -> bool:
        """Whether the ``Host`` header names this server (no header at all: not a browser, which always sends one)."""
        if self.server_names is None or not host_header:
            return True
        host = read_host(host_header)
        if host is None:
            return False
        name, port = host
        return is_local_or_address(name) or any(rule.matches(name, port) for rule in self.server_names)

    def check_host(self, host_header: str) -> None:
        if self.host_ok(host_header):
            return
        host = read_host(host_header)
        if host is None:
            raise InvalidInput(f"the Host header {host_header!r} names no host", code="unknown_host")
        raise InvalidInput(
            f"this server does not answer to the name {host[0]!r} (start it with --server-names {host[0]})",
            code="unknown_host",
        )

    def check_token(self, presented: str | None) -> None:
        if not self.token_ok(presented):
            raise Unauthorized("a valid bearer token is required")

    def check_origin(self, origin: str | None, host_header: str, what: str) -> None:
        if not self.origin_ok(origin, host_header):
            raise Forbidden(f"a page from this Origin may not {what}", code="forbidden_origin")

    def limit_submission(self, client: str, count: int = 1) -> None:
        """Raise ``RateLimited`` when ``client`` (the peer's address) has spent its submissions for now (``count``
        URLs at once). Clients are counted as connections count them, an IPv6 one by its /64: a subscriber is given a
        /64 at least, and counted by address it had a rate of its own for each of its 2^64 addresses."""
        if self.limiter is None:
            return
        ip = peer_address(client)
        wait = self.limiter.take(client_key(ip) if ip is not None else client, count)
        if wait > 0:
            raise RateLimited(
                f"too many submissions: at most {self.limiter.rate:g} URLs a second, {self.limiter.burst} at once",
                retry_after=math.ceil(wait),
            )

    def check_websocket(self, ws: Websocket) -> None:
        """Refuse this WebSocket handshake (raising) unless its Host, token and Origin pass."""
        host = ws.headers.get("Host", "")
        self.check_host(host)
        self.check_token(bearer_token(ws.headers.get("Authorization")) or ws.args.get("token"))
        self.check_origin(ws.headers.get("Origin"), host, "open the stream")


def guard() -> Guard:
    found: Guard = current_app.extensions["linkcast.guard"]
    return found


def install_guard(app: Quart, settings: Settings) -> None:
    """Keep a ``Guard`` on the app, and check before every HTTP request: the Host, that a submission is not linkcast's
    own, then the token (unless the path is public), then the Origin of a submission."""
    app.extensions["linkcast.guard"] = Guard(settings)

    @app.before_request
    async def check_request() -> None:
        checks = guard()
        host = request.headers.get("Host", "")
        checks.check_host(host)
        if request.method in SUBMITTING_METHODS and sent_by_linkcast(request.headers.getlist(LOOP_HEADER)):
            raise Forbidden(
                "this request was sent by linkcast (CDN-Loop: linkcast): a webhook, WebSub hub or URL that leads back "
                "to this API may not submit to it, or each event would make another request without end",
                code="loop_detected",
            )
        path = request.path
        if not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            checks.check_token(bearer_token(request.headers.get("Authorization")))
        if request.method in SUBMITTING_METHODS:
            checks.check_origin(request.headers.get("Origin"), host, "submit")
