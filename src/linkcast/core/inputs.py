"""What the API accepts: request ids and target URLs, checked before anything is queued."""

from __future__ import annotations

import re

import ada_url

from linkcast.core.errors import InvalidInput

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")
MAX_URL_BYTES = 8 * 1024
FETCHABLE_SCHEMES = frozenset({"http:", "https:"})


def validate_request_id(request_id: str) -> str:
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise InvalidInput(
            "request_id must be 1 to 128 characters from A-Z a-z 0-9 . _ ~ -",
            code="invalid_request_id",
        )
    return request_id


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
