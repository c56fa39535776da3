"""Room for new feeds under ``--max-feeds``. A feed is polled for as long as it is kept, unlike a request or a crawl,
which end and are pruned: without a bound, anyone could make a server poll without end as many feeds as they cared
to add. Checked before a feed is stored, so additions racing each other may pass it by as many as raced, as
``--max-webhooks`` may."""

from __future__ import annotations

from linkcast.core.errors import Conflict
from linkcast.store.base import Store


class FeedRoom:
    """The feeds that may still be added, counted in the store once: an OPML import of 10,000 outlines counts once,
    then takes its room outline by outline."""

    def __init__(self, left: int | None, max_feeds: int) -> None:
        self.left, self.max_feeds = left, max_feeds  # left: None when there is no bound

    @classmethod
    async def of(cls, store: Store, max_feeds: int) -> FeedRoom:
        return cls(max(0, max_feeds - await store.count_feeds()) if max_feeds else None, max_feeds)

    def take(self) -> None:
        """Room for one more feed; ``Conflict`` (``too_many_feeds``) if there is none."""
        if self.left is None:
            return
        if self.left <= 0:
            raise Conflict(
                f"this server keeps at most {self.max_feeds} feeds (--max-feeds): remove one to add another",
                code="too_many_feeds",
            )
        self.left -= 1
