"""``X-Hub-Signature`` (WebSub 8): ``method=signature``, an HMAC of the raw body with the subscription's secret, in
hex. The hub may use sha1, sha256, sha384 or sha512; any other method, or no header, is not a valid signature."""

from __future__ import annotations

import hashlib
import hmac

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
MAX_SIGNATURE_CHARS = 200  # sha512 in hex is 128 characters


def signature_valid(header: str | None, secret: str, body: bytes) -> bool:
    """Whether ``header`` is an HMAC of ``body`` with ``secret``, by a method the specification names (compared in
    constant time)."""
    if not header or len(header) > MAX_SIGNATURE_CHARS:
        return False
    method, _, given = header.strip().partition("=")
    algorithm = ALGORITHMS.get(method.strip().lower())
    if algorithm is None:
        return False
    given = given.strip().lower()
    if not given.isascii():  # a hex digest is ASCII; compare_digest refuses to compare str that is not
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, given)


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The header value a hub sends for ``body`` (what the tests' hub does)."""
    return f"{method}={hmac.new(secret.encode(), body, ALGORITHMS[method]).hexdigest()}"
