"""JSON answers, serialised with orjson (compact UTF-8, about 26x the standard library on a result), and the app's
response class."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Request, Response


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status=status, headers=headers, content_type="application/json")


class AppResponse(Response):
    """Quart's response, but a suffix range (``Range: bytes=-N``, the last N bytes) of a served file is ignored and
    the whole file sent, as RFC 9110 14.2 allows: Quart hands such a range on as a negative offset, which werkzeug's
    ``ContentRange`` asserts against, so that anyone asking for a public file (``/static/``, ``/docs/``) so got a
    500. The override is of a Quart internal; ``tests/web/test_openapi.py`` asks for such ranges."""

    async def _process_range_request(
        self, request: Request, complete_length: int | None = None, accept_ranges: str | None = None
    ) -> bool:
        requested = request.range
        if requested is not None and any(start < 0 for start, _stop in requested.ranges):
            return False
        return await super()._process_range_request(request, complete_length, accept_ranges)
