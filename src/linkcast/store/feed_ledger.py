"""What happens in the store when one poll of a feed ends, written once for the backends that run Python inside their
transaction (memory, SQLite; Redis says the same in Lua, ``redis/feed_scripts.py``):

1. A feed that was removed takes nothing: the poll's job just ends. Nor does one removed and added again since the
   poll began (DELETE and PUT of the same id; ``is_of_stored_feed``): its outcome is the old feed's, and the new feed's
   own poll is queued instead of it (with the same URL, the running job was that poll).
2. The poll's own events (``feed.moved``, ``feed.gone``, ``feed.error``) are appended.
3. Each entry is looked up in the feed's seen-set by its id: a new one is a ``feed.entry`` (``"backlog": true`` until
   the feed's first successful poll has been recorded) and, with ``follow``, a request for its page; a known one
   whose fingerprint changed is a ``feed.entry`` with ``"changed": true``; any other is only marked seen now. So
   reordering, removing and re-adding entries never sends one twice.
4. If the poll (or a delivery) brought entries, ids not seen for ``SEEN_RETENTION_SECONDS``, and the oldest beyond
   ``SEEN_MAX`` per feed, leave the seen-set. A poll without entries (a 304, an error) leaves it as it is: it grew by
   nothing, and the entries of a feed that answers 304 are still in it even though they were last seen at its last
   200.
5. The record is stored and, unless the feed is gone, its next poll is queued (one job per feed: never two polls of
   one feed at once).

A hub's delivery (WebSub) is steps 3 and 4 (``apply_push``): pushed and polled entries share the seen-set, and
pushes keep it bounded as polls do (a hub may push new ids while the feed's URL answers 304 to every poll).
"""

from __future__ import annotations

from typing import Protocol

from linkcast.core.events import EventBody
from linkcast.core.feeds import FEED_GONE, FeedPoll, FeedRecord, PolledEntry, entry_event, entry_key

# How long an entry id is remembered after it left its feed, and the most ids remembered per feed.
SEEN_RETENTION_SECONDS = 90 * 86400
SEEN_MAX = 20_000
# The ids a followed entry's request may take: ``<feed>~<entry number>``, else (another URL's request has it: a feed
# removed and watched again numbers its entries from 1 again, and anyone may PUT /urls/<feed>~1) the next free of
# ``<feed>~<number>.2`` and on, this many in all. Before, such an entry's page was silently not followed.
FOLLOW_ID_TRIES = 8


class StoredCounts(Protocol):
    """What a poll's outcome needs of the stored record (a ``FeedRecord`` has them; a backend may read just these)."""

    @property
    def entry_count(self) -> int: ...

    @property
    def polls(self) -> int: ...


class FeedBook(Protocol):
    """One feed's rows, inside the backend's transaction."""

    def fingerprint_of(self, key: bytes) -> str | None:
        """The fingerprint the seen-set holds for the entry ``key``, None if unseen."""

    def remember(self, key: bytes, fingerprint: str) -> None:
        """Mark the entry seen now, with this fingerprint."""

    def record_entry(self, body: EventBody) -> None:
        """Append a ``feed.entry`` event to the log and keep it among the feed's entries."""

    def append(self, body: EventBody) -> None:
        """Append an event to the log."""

    def follow(self, request_ids: list[str], url: str, entry_id: str) -> None:
        """Submit a request for an entry's page (as ``PUT /urls/<request_id>`` would), naming the feed and entry,
        under the first of ``request_ids`` that no request has, unless one before it is this URL's already."""

    def forget_seen(self, older_than: float, keep: int) -> None:
        """Drop seen ids last seen before ``older_than``, and the oldest beyond the newest ``keep``."""

    def save(self, record: FeedRecord) -> None:
        """Store the record."""

    def schedule(self, record: FeedRecord) -> None:
        """Queue the feed's next poll at ``record.next_poll``, for ``record.url``."""


def is_of_stored_feed(poll: FeedPoll, stored_created_at: float) -> bool:
    """Whether ``poll`` is of the feed stored now, not of one removed since under the same id (step 1)."""
    return poll.record.created_at == stored_created_at


def apply_poll(book: FeedBook, stored: StoredCounts, poll: FeedPoll, now: float) -> None:
    record = poll.record
    record.entry_count = stored.entry_count
    for body in poll.events:
        book.append(body)
    if poll.entries:
        take_entries(book, record, poll.entries, backlog=stored.polls == 0)
        book.forget_seen(now - SEEN_RETENTION_SECONDS, SEEN_MAX)
    book.save(record)
    if record.state != FEED_GONE:
        book.schedule(record)


def apply_push(book: FeedBook, stored: FeedRecord, entries: list[PolledEntry], now: float) -> None:
    """A hub's delivery: its entries go through the same seen-set as a poll's (so neither repeats the other), which
    then forgets as after a poll; the record keeps everything but its entry count, and the poll schedule is left as
    it is."""
    if entries:
        take_entries(book, stored, entries, backlog=False)
        book.forget_seen(now - SEEN_RETENTION_SECONDS, SEEN_MAX)
    book.save(stored)


def take_entries(book: FeedBook, record: FeedRecord, entries: list[PolledEntry], *, backlog: bool) -> None:
    """Step 3 of the module's list: each entry sent once, again only when changed; ``record.entry_count`` kept."""
    follow = bool(record.spec.get("follow"))
    for entry in entries:
        key = entry_key(entry.entry_id)
        known = book.fingerprint_of(key)
        if known is None:
            record.entry_count += 1
            book.record_entry(entry_event(record.feed_id, entry, backlog=backlog, changed=False))
            link = entry.fields.get("link")
            if follow and link:
                book.follow(followed_ids(record.feed_id, record.entry_count), link, entry.entry_id)
        elif known != entry.fingerprint:
            book.record_entry(entry_event(record.feed_id, entry, backlog=False, changed=True))
        book.remember(key, entry.fingerprint)


def followed_ids(feed_id: str, number: int) -> list[str]:
    """The ids the request of a feed's ``number``-th entry may take, the first free one (``FOLLOW_ID_TRIES``)."""
    base = f"{feed_id}~{number}"
    return [base, *(f"{base}.{n}" for n in range(2, FOLLOW_ID_TRIES + 1))]
