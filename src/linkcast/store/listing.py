"""How much one page of a listing holds: ``limit`` items, and no more than about ``LISTING_BYTES`` of them.

A request's outcome, or a crawl page's event, may hold ``--max-result-bytes`` (8 MiB) of links: a page of 1,000 of
them read whole would be 8 GiB in memory for one GET, which any client can ask for. So a page also stops after the
item that takes the bytes read past its budget (never before its first item: a page always moves on), and its
``next`` reads on from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from linkcast.core.events import Event

T = TypeVar("T")

LISTING_BYTES = 32 * 1024 * 1024


def cut_short(events: Sequence[Event], limit: int, max_bytes: int = LISTING_BYTES) -> bool:
    """Whether a page of events read with ``limit`` and ``max_bytes`` may have stopped before the last event there
    is: it holds ``limit`` of them, or its events (as sent) take it past ``max_bytes``."""
    return len(events) >= limit or sum(len(event.json) for event in events) > max_bytes


def within_budget(items: Iterable[T], limit: int, max_bytes: int, size: Callable[[T], int]) -> tuple[list[T], bool]:
    """The first of ``items`` (read lazily), up to ``limit`` of them and up to the one whose ``size`` takes the total
    past ``max_bytes``; and whether any item was left."""
    taken: list[T] = []
    total = 0
    for item in items:
        if len(taken) == limit or total > max_bytes:
            return taken, True
        taken.append(item)
        total += size(item)
    return taken, False
