"""Request bodies: JSON objects read with one set of rules, and the URLs in them checked before anything is queued."""

from __future__ import annotations

from typing import Any

import orjson
from quart import request

from linkcast.core.errors import InvalidInput, UnsupportedMediaType
from linkcast.core.inputs import validate_url
from linkcast.web.current import runtime

# curl -d sends this type unless told otherwise: accepted when the body is JSON, to keep curl recipes working.
LENIENT_TYPES = frozenset({"", "application/x-www-form-urlencoded"})


async def read_json_object(example: str) -> dict[str, Any]:
    """The body as a JSON object, or an ``InvalidInput`` (``UnsupportedMediaType``) that says what is wrong and
    shows ``example``, the shape expected."""
    raw = await request.get_data(cache=False)
    if not raw:
        raise InvalidInput(f"the body is empty: send {example}", code="missing_body")
    mimetype = request.mimetype or ""
    if mimetype not in LENIENT_TYPES and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"the body must be JSON (application/json), not {mimetype}")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise InvalidInput(f"the body must be a JSON object: {example}", code="invalid_body")
    return payload


def fetchable_url(value: object) -> str:
    """``value`` as a normalised http(s) URL that the address policy does not refuse outright.

    What can be refused without resolving (an IP literal in a refused range, a denied name) is a 400 now rather than
    an error event later; names are checked against their resolved addresses when fetched.
    """
    url = validate_url(value)
    runtime().fetcher.policy.check_url(url)
    return url
