"""Writes on behalf of a single request go ahead of background writes, where the backend queues its writes.

SQLite has one writer thread, and a crawl at full speed keeps a queue of its page outcomes in front of it: a single
request's writes (stored, started, its result) would wait behind them. Code that works for a single request marks its
context ``urgent()``; the SQLite writer runs such writes before the queued ones, in a transaction of their own. A
context variable, so that no store method needs a flag and each task marks only itself. Redis runs each operation as
it comes (a script each): nothing to reorder there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_URGENT: ContextVar[bool] = ContextVar("linkcast_urgent_writes", default=False)


def is_urgent() -> bool:
    return _URGENT.get()


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """The store's writes made in this context (this task, and tasks it starts) go first."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)
