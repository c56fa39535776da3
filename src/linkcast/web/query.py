"""Query-string arguments shared by the listings: ``after`` (a cursor) and ``limit``, checked and bounded."""

from __future__ import annotations

from quart import request

from linkcast.core.errors import InvalidInput
from linkcast.core.inputs import store_id

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def page_args() -> tuple[str | None, int]:
    """``(after, limit)`` of a listing: the cursor is an id a store holds (what a page's ``next`` gave; past the
    largest, SQLite could not even compare it), the limit 1 to ``MAX_PAGE`` (default ``DEFAULT_PAGE``)."""
    after = request.args.get("after")
    if after is not None and store_id(after) is None:
        raise bad_cursor()
    return after, limit_arg()


def bad_cursor() -> InvalidInput:
    """The error of an ``after`` that no page's ``next`` can have been."""
    return InvalidInput("'after' must be the 'next' cursor of a previous page", code="invalid_cursor")


def limit_arg() -> int:
    """A listing's ``limit``: 1 to ``MAX_PAGE`` (default ``DEFAULT_PAGE``)."""
    raw_limit = request.args.get("limit")
    if raw_limit is None:
        return DEFAULT_PAGE
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4 and 1 <= int(raw_limit) <= MAX_PAGE):
        raise InvalidInput(f"'limit' must be a whole number from 1 to {MAX_PAGE}", code="invalid_limit")
    return int(raw_limit)
