"""The answer that found a feed, kept for its first poll: adding a feed then costs its server one unconditional GET,
not two (the discovery's, then the first poll's, seconds apart), and every later request is conditional.

The API process keeps the answer and its workers take it (``linkcast serve`` runs both; a separate ``linkcast worker``
finds nothing here and fetches, as before). Bounded in count, bytes and age: an answer not taken soon is dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from linkcast.fetch import Resource

# Kept at most: answers, bytes of their bodies and header fields in all, and seconds after the feed was found.
MAX_ANSWERS = 256
MAX_BYTES = 16 * 1024 * 1024
MAX_AGE_SECONDS = 60.0


class FirstAnswers:
    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._kept: OrderedDict[str, tuple[float, Resource, int]] = OrderedDict()
        self._bytes = 0

    def keep(self, feed_url: str, answer: Resource) -> None:
        """Keep ``answer``, the feed's document fetched to find it, for the first poll of ``feed_url``."""
        size = _size(answer)
        if size > MAX_BYTES:
            return
        self._drop(feed_url)
        self._kept[feed_url] = (time.monotonic(), answer, size)
        self._bytes += size
        while len(self._kept) > MAX_ANSWERS or self._bytes > MAX_BYTES:
            self._drop(next(iter(self._kept)))

    def take(self, feed_url: str) -> Resource | None:
        """The answer kept for ``feed_url`` if it is recent, once (None: fetch it)."""
        found = self._kept.get(feed_url)
        if found is None:
            return None
        self._drop(feed_url)
        kept_at, answer, _size = found
        return answer if time.monotonic() - kept_at <= self.max_age else None

    def __len__(self) -> int:
        return len(self._kept)

    def _drop(self, feed_url: str) -> None:
        found = self._kept.pop(feed_url, None)
        if found is not None:
            self._bytes -= found[2]


def _size(answer: Resource) -> int:
    """The bytes an answer holds: its body, and its header fields, which may be 128 of 32 KiB (4 MiB) beside a body
    of a few hundred bytes."""
    return len(answer.body) + sum(len(name) + len(value) for name, value in answer.headers.items())
