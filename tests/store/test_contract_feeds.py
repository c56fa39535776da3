"""The store's contract for feeds, proven against every backend of ``tests/store/conftest.py``."""

from __future__ import annotations

import dataclasses
import time

import pytest

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import FEED_JOB, PAGE_JOB, Event, Job, result_body
from linkcast.core.feeds import FEED_GONE, FeedPoll, FeedRecord, PolledEntry, feed_event
from linkcast.store import Store, feed_ledger
from linkcast.store.redis import feeds as redis_feeds
from tests.store.conftest import Backend

WAIT = 10.0
FEED = "https://news.example/feed.xml"


def watched(feed_id: str = "f", follow: bool = False) -> FeedRecord:
    return FeedRecord(feed_id, {"url": FEED, "follow": follow, "watch": "feed"}, FEED)


def entry(entry_id: str, fingerprint: str = "v1") -> PolledEntry:
    return PolledEntry(entry_id, fingerprint, {"title": entry_id, "link": f"https://news.example/{entry_id}"})


async def take(store: Store, worker: str = "w") -> Job:
    job = await store.next_job(worker, timeout=WAIT)
    assert job is not None, "a queued job was not handed out"
    return job


async def poll(store: Store, *entries: PolledEntry, next_in: float = 0.0, **changes: object) -> Job:
    """Take the feed's poll job and end it with ``entries``, its next poll ``next_in`` seconds away."""
    job = await take(store)
    assert job.kind == FEED_JOB
    record = await store.get_feed(job.request_id)
    assert record is not None
    after = dataclasses.replace(record, polls=record.polls + 1, last_poll=time.time(),
                                next_poll=time.time() + next_in, **changes)  # fmt: skip
    await store.finish_feed_poll(job, FeedPoll(after, list(entries)))
    return job


async def entries_sent(store: Store) -> list[dict[str, object]]:
    return [e.body() for e in await store.events_after(0, ["f"], limit=10_000) if e.type == "feed.entry"]


async def test_a_feed_is_recorded_with_an_accepted_event_and_polled_at_once(store: Store) -> None:
    record, created = await store.create_feed(watched())
    assert created and record.created_at > 0 and (await store.get_feed("f")) is not None
    [accepted] = await store.events_after(0, ["f"])
    assert accepted.type == "feed.accepted" and accepted.body()["url"] == FEED
    job = await take(store)
    assert (job.kind, job.request_id, job.url) == (FEED_JOB, "f", FEED)


async def test_the_same_feed_again_is_a_repeat_and_another_spec_conflicts(store: Store) -> None:
    await store.create_feed(watched())
    record, created = await store.create_feed(watched())
    assert not created and record.feed_id == "f"
    with pytest.raises(Conflict):
        await store.create_feed(watched(follow=True))


async def test_entries_are_sent_once_however_the_feed_reorders_removes_and_readds_them(store: Store) -> None:
    await store.create_feed(watched())
    await poll(store, entry("a"), entry("b"))
    first = await entries_sent(store)
    assert [(e["entry_id"], e.get("backlog")) for e in first] == [("a", True), ("b", True)]
    await poll(store, entry("b"), entry("a"))  # reordered
    await poll(store, entry("a"))  # b removed
    await poll(store, entry("c"), entry("b"), entry("a"))  # c new, b back
    sent = await entries_sent(store)
    assert [(e["entry_id"], e.get("backlog"), e.get("changed")) for e in sent[2:]] == [("c", None, None)]
    record = await store.get_feed("f")
    assert record is not None and record.entry_count == 3


async def test_only_a_poll_that_brings_entries_forgets_ids_unseen_too_long(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every id not seen in this very poll counts as unseen too long (each backend reads the retention at its poll).
    monkeypatch.setattr(feed_ledger, "SEEN_RETENTION_SECONDS", 0)
    monkeypatch.setattr(redis_feeds, "SEEN_RETENTION_SECONDS", 0)
    await store.create_feed(watched())
    await poll(store, entry("a"))
    await poll(store)  # a 304: its entries are still in the feed, and still known
    await poll(store, entry("a"))
    await poll(store, entry("b"))  # a is forgotten here
    await poll(store, entry("a"))
    assert [e["entry_id"] for e in await entries_sent(store)] == ["a", "b", "a"]


async def test_a_known_entry_that_changed_is_sent_again_as_changed(store: Store) -> None:
    await store.create_feed(watched())
    await poll(store, entry("a"))
    await poll(store, entry("a", fingerprint="v2"))
    await poll(store, entry("a", fingerprint="v2"))
    sent = await entries_sent(store)
    assert [(e["entry_id"], e.get("changed")) for e in sent] == [("a", None), ("a", True)]


async def test_the_next_poll_waits_for_its_time(store: Store) -> None:
    await store.create_feed(watched())
    await poll(store, next_in=0.6)
    assert await store.next_job("w", timeout=0.2) is None
    began = time.monotonic()
    await take(store)
    assert time.monotonic() - began < WAIT
    record = await store.get_feed("f")
    assert record is not None and record.polls == 1


async def test_a_poll_that_ends_after_its_lease_lapsed_leaves_the_new_holders_poll_alone(backend: Backend) -> None:
    """The late poll's outcome is recorded, but the feed keeps one poll job, the new holder's, which queues the next."""
    store = await backend.open(job_visibility_timeout=0.3)
    await store.create_feed(watched())
    late = await take(store, "w1")
    store.forget(late)  # its worker stalled: the lease lapses and the feed's job goes to another worker
    current = await take(store, "w2")
    assert current.request_id == "f"
    record = await store.get_feed("f")
    assert record is not None
    now = time.time()
    await store.finish_feed_poll(late, FeedPoll(dataclasses.replace(record, polls=1, last_poll=now, next_poll=now)))
    assert await store.next_job("w3", timeout=0.5) is None, "the late poll queued a second poll of the feed"
    await store.finish_feed_poll(current, FeedPoll(dataclasses.replace(record, polls=2, last_poll=now, next_poll=now)))
    following = await take(store, "w3")
    assert (following.kind, following.request_id, following.url) == (FEED_JOB, "f", FEED)
    assert await store.next_job("w4", timeout=0.5) is None, "the feed has more than one poll queued"
    stored = await store.get_feed("f")
    assert stored is not None and stored.polls == 2


async def test_the_poll_of_a_feed_removed_while_its_worker_was_lost_is_handed_out_and_ends(backend: Backend) -> None:
    """The job outlives its feed (a held job is not dropped with it): handed out again, it reads as no feed (what a
    handler then ends quietly), rather than failing every claim that meets it."""
    store = await backend.open(job_visibility_timeout=0.3)
    await store.create_feed(watched())
    lost = await take(store, "w1")
    store.forget(lost)  # its worker died holding it
    await store.remove_feed("f")
    again = await take(store, "w2")
    assert (again.kind, again.request_id) == (FEED_JOB, "f")
    assert again.preread in (None, (None,))
    await store.finish_feed_poll(again, FeedPoll(FeedRecord("f", {}, FEED, FEED_GONE)))
    assert await store.next_job("w3", timeout=0.5) is None


async def test_a_feed_that_is_gone_is_polled_no_more(store: Store) -> None:
    await store.create_feed(watched())
    job = await take(store)
    record = await store.get_feed("f")
    assert record is not None
    gone = dataclasses.replace(record, state=FEED_GONE, last_status=410)
    await store.finish_feed_poll(job, FeedPoll(gone, events=[feed_event("feed.gone", "f", url=FEED)]))
    assert await store.next_job("w", timeout=0.3) is None
    stored = await store.get_feed("f")
    assert stored is not None and stored.state == FEED_GONE
    assert [e.type for e in await store.events_after(0, ["f"])][-1] == "feed.gone"


async def test_followed_entries_become_requests_naming_the_feed_and_entry(store: Store) -> None:
    await store.create_feed(watched(follow=True))
    await poll(store, entry("a"))
    page = await take(store)
    assert page.kind == PAGE_JOB and page.url == "https://news.example/a"
    assert page.data == {"feed_id": "f", "entry_id": "a"}
    request = await store.get_request(page.request_id)
    assert request is not None and request.url == "https://news.example/a"


async def test_a_followed_entry_whose_request_id_is_taken_takes_the_next_one(store: Store) -> None:
    """A feed removed and watched again numbers its entries from 1 again, and anyone may PUT /urls/f~1: an entry
    whose id was another URL's request was silently not followed. Its request now takes f~1.2 (and so on); an id
    that is this URL's request already is followed already."""
    assert (await store.submit("f~1", "https://elsewhere.example/1"))[1]
    assert (await store.submit("f~2", "https://news.example/b"))[1]
    for _ in range(2):  # those requests' own jobs
        assert (await take(store, "urls")).kind == PAGE_JOB
    await store.create_feed(watched(follow=True))
    await poll(store, entry("a"), entry("b"), next_in=3600)
    page = await take(store)
    assert (page.kind, page.request_id, page.url) == (PAGE_JOB, "f~1.2", "https://news.example/a")
    assert await store.next_job("w2", timeout=0.5) is None, "b's page was followed twice"
    taken = await store.get_request("f~1")
    assert taken is not None and taken.url == "https://elsewhere.example/1"


async def test_a_removed_feed_is_forgotten_and_not_polled(store: Store) -> None:
    await store.create_feed(watched())
    record = await store.remove_feed("f")
    assert record.feed_id == "f" and await store.get_feed("f") is None
    assert await store.next_job("w", timeout=0.3) is None
    events: list[Event] = await store.events_after(0, ["f"])
    assert events[-1].type == "feed.removed"
    with pytest.raises(NotFound):
        await store.remove_feed("f")


async def test_a_poll_that_ends_after_its_feed_was_removed_changes_nothing(store: Store) -> None:
    await store.create_feed(watched())
    job = await take(store)
    record = await store.get_feed("f")
    assert record is not None
    await store.remove_feed("f")
    await store.finish_feed_poll(job, FeedPoll(record, [entry("a")]))
    assert await store.get_feed("f") is None and await entries_sent(store) == []
    assert await store.next_job("w", timeout=0.3) is None


@pytest.mark.parametrize("url", [FEED, "https://elsewhere.example/feed.xml"], ids=["same-url", "other-url"])
async def test_a_poll_of_a_feed_removed_and_added_again_meanwhile_leaves_the_new_feed_alone(
    store: Store, url: str
) -> None:
    """DELETE then PUT of the same id while a poll runs: the late poll is of the feed that was removed. Its entries
    are not the new feed's, its record (the old options) does not replace the new one, and the new feed keeps one
    poll job, at its own URL."""
    await store.create_feed(watched())
    job = await take(store)
    old = await store.get_feed("f")
    assert old is not None
    await store.remove_feed("f")
    new = FeedRecord("f", {"url": url, "follow": True, "watch": "feed"}, url)
    await store.create_feed(new)
    now = time.time()
    late = dataclasses.replace(old, polls=1, last_poll=now, next_poll=now)
    many = [entry(f"a{n}") for n in range(150)]  # more than one of the Redis backend's steps (64 entries each)
    await store.finish_feed_poll(job, FeedPoll(late, many))
    stored = await store.get_feed("f")
    assert stored is not None and stored.spec == new.spec and stored.url == url and stored.polls == 0
    assert await entries_sent(store) == []
    following = await take(store, "w2")
    assert (following.kind, following.request_id, following.url) == (FEED_JOB, "f", url)
    assert await store.next_job("w3", timeout=0.5) is None, "the feed has more than one poll queued"


async def test_a_late_poll_of_a_removed_feed_does_not_poll_its_successor_once_gone(store: Store) -> None:
    """The feed made again under the id (another URL) is polled, and is gone, before the old feed's poll ends: that
    end queues no poll of it."""
    await store.create_feed(watched())
    job = await take(store)
    old = await store.get_feed("f")
    assert old is not None
    await store.remove_feed("f")
    elsewhere = "https://elsewhere.example/feed.xml"
    await store.create_feed(FeedRecord("f", {"url": elsewhere, "follow": False, "watch": "feed"}, elsewhere))
    its_own = await take(store, "w2")
    new = await store.get_feed("f")
    assert its_own.url == elsewhere and new is not None
    await store.finish_feed_poll(its_own, FeedPoll(dataclasses.replace(new, state=FEED_GONE, last_status=410)))
    await store.finish_feed_poll(job, FeedPoll(dataclasses.replace(old, polls=1, next_poll=time.time())))
    assert await store.next_job("w3", timeout=0.5) is None, "a gone feed was polled again"


async def test_a_page_of_entries_stops_at_its_byte_budget_and_reads_on(store: Store) -> None:
    """An entry may keep 256 KiB of links: a thousand read at once would be a quarter of a gigabyte for one GET."""
    await store.create_feed(watched())
    big = [
        PolledEntry(name, "v1", {"title": name, "links": ["https://news.example/" + "x" * 10_000]}) for name in "abcde"
    ]
    await poll(store, *big)
    sizes: list[int] = []
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.feed_entries("f", cursor, 100, max_bytes=15_000)
        sizes.append(len(page.items))
        seen += [item["entry_id"] for item in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == list("abcde") and max(sizes) == 2, sizes
    assert len((await store.feed_entries("f", None, 100, max_bytes=1)).items) == 1, "never an empty page"


async def test_an_entry_listed_is_its_event_without_the_event_id(store: Store) -> None:
    """GET /feeds/<id>/entries lists each feed.entry event's body under its seq: the memory store also listed an
    "id" of 0 (the event framed with a made-up id), which no event has and no other store gives."""
    await store.create_feed(watched())
    await poll(store, entry("a"))
    [sent] = await entries_sent(store)
    [listed] = (await store.feed_entries("f", None, 10)).items
    assert listed == {"seq": 1, **{key: value for key, value in sent.items() if key != "id"}}


async def test_entries_and_feeds_are_read_a_page_at_a_time(store: Store) -> None:
    await store.create_feed(watched())
    await store.create_feed(watched("g"))
    await poll(store, *(entry(name) for name in "abcde"))
    first = await store.feed_entries("f", None, 2)
    rest = await store.feed_entries("f", first.next, 10)
    assert [item["entry_id"] for item in first.items + rest.items] == list("abcde")
    assert first.next is not None and rest.next is None
    feeds = await store.list_feeds(None, 1)
    more = await store.list_feeds(feeds.next, 1)
    assert [r.feed_id for r in feeds.items + more.items] == ["f", "g"] and more.next is None


@pytest.mark.parametrize("etag", ['W/"x-1"', '"a, b" c=d;', "unquoted", '"é ☃"', '""'])
async def test_validators_are_kept_verbatim_and_each_dropped_on_its_own(store: Store, etag: str) -> None:
    """What the next poll sends back (If-None-Match, If-Modified-Since), across a restart: exactly what was stored."""
    await store.create_feed(watched())
    await poll(store, etag=etag, last_modified="last Tuesday, around noon ")
    record = await store.get_feed("f")
    assert record is not None and (record.etag, record.last_modified) == (etag, "last Tuesday, around noon ")
    await poll(store, etag=None)
    record = await store.get_feed("f")
    assert record is not None and (record.etag, record.last_modified) == (None, "last Tuesday, around noon ")
    await poll(store, etag=etag, last_modified=None)
    record = await store.get_feed("f")
    assert record is not None and (record.etag, record.last_modified) == (etag, None)


async def test_the_hours_a_feed_skips_are_kept_until_a_poll_says_otherwise(store: Store) -> None:
    """RSS skipHours and skipDays (feeds.skips) are read from a 200 only: a 304's next poll keeps out of them too."""
    await store.create_feed(watched())
    mask = 1 << 3 | 1 << 23 | 1 << 30
    await poll(store, skip_mask=mask)
    record = await store.get_feed("f")
    assert record is not None and record.skip_mask == mask
    await poll(store, skip_mask=0)
    record = await store.get_feed("f")
    assert record is not None and record.skip_mask == 0


async def test_a_feed_s_followed_entries_on_many_hosts_do_not_hold_up_a_client_s_url(store: Store) -> None:
    await store.create_feed(watched(follow=True))
    entries = [PolledEntry(f"e{n}", "v1", {"title": "e", "link": f"https://s{n}.example/"}) for n in range(30)]
    await poll(store, *entries, next_in=3600)  # 30 page jobs, one flow: the feed's
    await store.submit("b", "https://z.example/", flow="client:b")  # a host named to come last among ties
    taken = [(await take(store)).request_id for _ in range(3)]
    assert "b" in taken[:2], taken


async def test_prune_drops_the_entries_sent_before_its_cutoff_and_listing_reads_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--retain-days bounds what a feed keeps on every backend: a feed watched for months kept 10,000 entries on
    Redis and in memory, however old (SQLite dropped them). Redis prunes in steps (one feed, two entries here)."""
    monkeypatch.setattr(redis_feeds, "FEEDS_PER_PRUNE", 1)
    monkeypatch.setattr(redis_feeds, "ENTRIES_PER_PRUNE", 2)
    await store.create_feed(watched())
    await store.create_feed(watched("g"))
    assert (await poll(store, entry("a"), entry("b"))).request_id == "f"
    assert (await poll(store, *(entry(f"old{n}") for n in range(5)), next_in=3600)).request_id == "g"
    first = await store.feed_entries("f", None, 1)
    cutoff = time.time()
    assert (await poll(store, entry("a"), entry("b"), entry("c"))).request_id == "f"
    await store.prune(cutoff, keep_events=1_000_000)
    assert [item["entry_id"] for item in (await store.feed_entries("f", None, 10)).items] == ["c"]
    assert (await store.feed_entries("g", None, 10)).items == []
    after_pruned = await store.feed_entries("f", first.next, 10)  # a cursor at an entry pruned since
    assert [(item["seq"], item["entry_id"]) for item in after_pruned.items] == [(3, "c")]


async def test_an_entry_sent_after_every_entry_was_pruned_numbers_on(store: Store) -> None:
    """A client reading on from the last seq it saw sees the next entry: on SQLite the numbering began again at 1
    once a prune had left a feed no entry, and such a client missed as many new entries as it had read."""
    await store.create_feed(watched())
    await poll(store, entry("a"), entry("b"))
    seen = await store.feed_entries("f", None, 10)
    last_seq = str(seen.items[-1]["seq"])
    await store.prune(time.time() + 60, keep_events=1_000_000)
    await poll(store, entry("c"))
    assert [item["entry_id"] for item in (await store.feed_entries("f", last_seq, 10)).items] == ["c"]


async def test_a_feed_listing_cursor_read_before_removals_misses_no_feed_added_after_them(store: Store) -> None:
    """On SQLite a new feed took the rowid of the newest one removed (the listing's cursor)."""
    for name in ("a", "b", "c"):
        await store.create_feed(watched(name))
    first = await store.list_feeds(None, 1)
    for name in ("a", "b", "c"):
        await store.remove_feed(name)
    for name in ("x", "y", "z"):
        await store.create_feed(watched(name))
    assert [record.feed_id for record in (await store.list_feeds(first.next, 10)).items] == ["x", "y", "z"]


async def test_a_request_or_crawl_pruned_leaves_the_history_of_a_feed_of_its_id_alone(store: Store) -> None:
    """Requests, crawls and feeds are named apart (``/urls/x``, ``/crawls/x``, ``/feeds/x``) but share the event
    log's ``request_id``: on Redis, a request or a crawl pruned took the index of that id's events with it, and a
    replay filtered by the feed's id found none of its events."""
    await store.submit("x", "https://news.example/page")
    page = await take(store)
    body = result_body("x", page.url, final_url=page.url, status_code=200, links=[], links_truncated=False, timings={})
    await store.finish(page, body)
    await store.create_crawl("x", {"urls": ["https://news.example/"], "max_pages": 1}, ["https://news.example/"])
    await store.cancel_crawl("x")
    cutoff = time.time()
    await store.create_feed(watched("x"))
    await poll(store, entry("a"))
    await store.prune(cutoff, keep_events=1_000_000)
    assert (await store.get_request("x"), await store.get_crawl("x")) == (None, None)
    history = [event.type for event in await store.events_after(0, ["x"])]
    assert history == ["feed.accepted", "feed.entry"], history


async def test_feeds_are_counted_as_they_are_added_repeated_and_removed(store: Store) -> None:
    """What ``--max-feeds`` is checked against: every record, a repeat of one counted once, a removed one not."""
    assert await store.count_feeds() == 0
    for name in ("a", "b", "c"):
        await store.create_feed(watched(name))
    await store.create_feed(watched("a"))  # the same feed again
    assert await store.count_feeds() == 3
    await store.remove_feed("b")
    assert await store.count_feeds() == 2


async def test_a_feed_polled_by_a_time_is_due_then_with_one_poll_queued(store: Store) -> None:
    """A hub that stops pushing a feed (it denied the subscription) leaves it polled at --feed-max-interval: its
    poll is brought forward."""
    await store.create_feed(watched())
    await poll(store, next_in=3600)
    assert await store.next_job("w", timeout=0.2) is None
    now = time.time()
    assert await store.poll_feed_by("f", now)
    record = await store.get_feed("f")
    assert record is not None and record.next_poll == pytest.approx(now)
    job = await take(store)
    assert (job.kind, job.request_id, job.url) == (FEED_JOB, "f", FEED)
    assert await store.next_job("w2", timeout=0.3) is None, "the poll due in an hour is still queued"


async def test_polling_a_feed_by_a_time_never_puts_its_poll_off_nor_touches_a_running_or_gone_one(
    store: Store,
) -> None:
    await store.create_feed(watched())
    await poll(store, next_in=0.3)
    assert not await store.poll_feed_by("f", time.time() + 3600)
    job = await take(store)
    assert not await store.poll_feed_by("f", time.time()), "a running poll queues its next itself"
    record = await store.get_feed("f")
    assert record is not None
    gone = dataclasses.replace(record, state=FEED_GONE, polls=1, last_poll=time.time(), next_poll=None)
    await store.finish_feed_poll(job, FeedPoll(gone))
    assert not await store.poll_feed_by("f", time.time())
    assert not await store.poll_feed_by("unknown", time.time())
    assert await store.next_job("w", timeout=0.3) is None
    stored = await store.get_feed("f")
    assert stored is not None and stored.next_poll is None
