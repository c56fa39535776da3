"""A feed's WebSub subscription as the store keeps it: which hub, which topic, its callback and secret, where it
stands with the hub, and when its job next has to act (subscribe, check, renew, unsubscribe).

One subscription per feed, keyed by the feed id; it outlives its feed while an unsubscription is pending. Every
change is a compare-and-swap on ``version`` (``Store.swap_subscription``): the hub's verification arrives on any API
replica while a worker may be acting on the same subscription, and neither may undo the other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

# Where a subscription stands.
PUSH_OFF = "off"  # the feed names a hub, but --public-url is not set: hubs could not reach this server
PUSH_REQUESTED = "requested"  # asked for; the hub has not verified it yet
PUSH_SUBSCRIBED = "subscribed"  # verified, until expires_at
PUSH_DENIED = "denied"  # the hub refused it (hub.mode=denied)
PUSH_FAILED = "failed"  # the hub could not be asked, answered an error, or never verified
PUSH_EXPIRED = "expired"  # the lease ran out before a renewal was verified
PUSH_UNSUBSCRIBING = "unsubscribing"  # the feed was removed; the hub is asked to stop

# What a pending request to the hub asks for (the mode a verification must carry to be answered).
MODE_SUBSCRIBE = "subscribe"
MODE_UNSUBSCRIBE = "unsubscribe"

# RFC 3986 2.3 and 2.2: characters that are never percent-encoded in a normal URI, and those whose encoding matters.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RESERVED = frozenset(":/?#[]@!$&'()*+,;=")
_ESCAPE_OR_CHAR = re.compile(r"%([0-9A-Fa-f]{2})|(.)", re.DOTALL)


def same_topic(given: str, topic: str) -> bool:
    """Whether a hub's ``given`` topic URL names ``topic``: the same once the percent-encoding of both is normalized.
    Hubs MUST decode non-reserved characters of the topic (WebSub 5.1.1), so a hub asked for ``/%7Euser/feed`` says
    ``/~user/feed``, and one that quotes what the URL standard leaves as it is says ``%7C`` for ``|``."""
    return given == topic or _normal_encoding(given) == _normal_encoding(topic)


def _normal_encoding(url: str) -> str:
    """``url`` with its percent-encoding normalized (RFC 3986 6.2.2.1-2): unreserved characters decoded, every other
    escape in upper case, and characters a URI may not hold as they are (``|``, a space, ``é``) encoded as UTF-8."""

    def one(found: re.Match[str]) -> str:
        escape, char = found.group(1), found.group(2)
        if escape is not None:
            decoded = chr(int(escape, 16))
            return decoded if decoded in _UNRESERVED else f"%{escape.upper()}"
        if char in _UNRESERVED or char in _RESERVED:
            return char
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))

    return _ESCAPE_OR_CHAR.sub(one, url)


@dataclass
class Subscription:
    feed_id: str
    hub: str
    topic: str
    callback: str  # the token that ends the callback URL: /websub/<feed id>/<callback>
    secret: str  # hex of 32 random bytes: the key of X-Hub-Signature
    state: str = PUSH_REQUESTED
    pending: str | None = None  # the mode asked of the hub and not yet verified
    asked_at: float | None = None  # when the hub last accepted a request (None: not yet sent)
    due_at: float | None = None  # when the subscription's job next acts (None: nothing to do)
    lease_seconds: int | None = None  # as the hub granted it
    expires_at: float | None = None
    verified_at: float | None = None
    failures: int = 0  # requests in a row that failed: the back-off's exponent
    reason: str | None = None  # why it is off, denied, failed or expired
    pushes: int = 0  # deliveries accepted
    dropped: int = 0  # deliveries dropped (unsigned, badly signed, too large, unreadable)
    last_push_at: float | None = None
    # The push budget (callbacks.py): entries taken from deliveries since window_start, one window per
    # --feed-min-interval, at most --max-entries-per-poll in each, as polls would bring.
    window_start: float | None = None
    window_entries: int = 0
    # Where the last poll read the feed from (its final URL). A delivery is read against it, not against the topic:
    # a page or feed whose rel=self is another URL (websub.rocks 200) would otherwise resolve its relative links
    # elsewhere than its polls did, and each of its entries that a link names would come again, as new.
    content_url: str | None = None
    # Every hub the feed named when last polled, in its order: once the subscription's hub has failed or denied it, the
    # next one is asked (lifecycle.next_hub). Empty in records stored before it was kept: the hub alone, then.
    hubs: list[str] = field(default_factory=list)
    version: int = 0  # set by the store: 0 is "not stored"

    def active(self, now: float) -> bool:
        """Whether the hub is pushing to us now (verified, and its lease not run out)."""
        return self.state == PUSH_SUBSCRIBED and self.expires_at is not None and self.expires_at > now

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str, version: int) -> Subscription:
        fields: dict[str, Any] = orjson.loads(data)
        fields["version"] = version
        return cls(**fields)

    def public(self, now: float) -> dict[str, Any]:
        """What ``GET /feeds/<id>`` shows as ``push``: never the secret, nor the callback token."""
        lapsed = self.state == PUSH_SUBSCRIBED and not self.active(now)
        return {
            "state": PUSH_EXPIRED if lapsed else self.state,
            "hub": self.hub,
            "topic": self.topic,
            "pending": self.pending,
            "lease_seconds": self.lease_seconds,
            "expires_at": self.expires_at,
            "verified_at": self.verified_at,
            "reason": self.reason,
            "pushes": self.pushes,
            "dropped": self.dropped,
            "last_push_at": self.last_push_at,
        }
