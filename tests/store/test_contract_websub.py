"""The store's contract for WebSub: pushed entries share the feed's seen-set with polls, and a subscription changes
only by compare-and-swap, with its job queued for when it next acts. Proven against every backend."""

from __future__ import annotations

import dataclasses
import time

import pytest

from linkcast.core.events import FEED_JOB, WEBSUB_JOB, Job
from linkcast.core.feeds import FeedPoll, FeedRecord, PolledEntry
from linkcast.core.websub import PUSH_REQUESTED, PUSH_SUBSCRIBED, Subscription
from linkcast.store import Store, feed_ledger
from linkcast.store.redis import feeds as redis_feeds

WAIT = 10.0
FEED = "https://news.example/feed.xml"
HUB = "https://hub.example/"


def watched(follow: bool = False) -> FeedRecord:
    return FeedRecord("f", {"url": FEED, "follow": follow, "watch": "feed"}, FEED)


def entry(entry_id: str, fingerprint: str = "v1") -> PolledEntry:
    return PolledEntry(entry_id, fingerprint, {"title": entry_id, "link": f"https://news.example/{entry_id}"})


def subscription(**changes: object) -> Subscription:
    return dataclasses.replace(Subscription("f", HUB, FEED, "token", "00" * 32), **changes)


async def take(store: Store, kind: str) -> Job:
    job = await store.next_job("w", timeout=WAIT)
    assert job is not None and job.kind == kind, f"expected a {kind} job, got {job}"
    return job


async def sent(store: Store) -> list[tuple[object, object, object]]:
    events = await store.events_after(0, ["f"], limit=1000)
    return [(e.body()["entry_id"], e.body().get("backlog"), e.body().get("changed")) for e in events
            if e.type == "feed.entry"]  # fmt: skip


async def test_pushed_entries_and_polled_ones_are_sent_once_between_them(store: Store) -> None:
    await store.create_feed(watched())
    job = await take(store, FEED_JOB)
    record = await store.get_feed("f")
    assert record is not None
    polled = dataclasses.replace(record, polls=1, next_poll=time.time() + 3600)
    await store.finish_feed_poll(job, FeedPoll(polled, [entry("a")]))
    assert await store.record_pushed_entries("f", [entry("a"), entry("b")])
    assert await store.record_pushed_entries("f", [entry("b", "v2"), entry("c")])
    job = await store.next_job("w", timeout=0.2)
    assert job is None, "a push must not bring the next poll forward"
    assert await sent(store) == [("a", True, None), ("b", None, None), ("b", None, True), ("c", None, None)]
    record = await store.get_feed("f")
    assert record is not None and record.entry_count == 3 and record.polls == 1


async def test_pushes_alone_keep_the_seen_set_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub may push new ids for ever while the feed's URL answers 304 to every poll (which forgets nothing): each
    push forgets the oldest ids beyond the bound, as a poll with entries does. Seen here as an id forgotten."""
    monkeypatch.setattr(feed_ledger, "SEEN_MAX", 2)
    monkeypatch.setattr(redis_feeds, "SEEN_MAX", 2)
    await store.create_feed(watched())
    for name in ("a", "b", "c", "a"):
        assert await store.record_pushed_entries("f", [entry(name)])
    assert [entry_id for entry_id, _backlog, _changed in await sent(store)] == ["a", "b", "c", "a"]


async def test_pushed_entries_of_a_followed_feed_become_requests(store: Store) -> None:
    await store.create_feed(watched(follow=True))
    assert await store.record_pushed_entries("f", [entry("a")])
    page = await store.get_request("f~1")
    assert page is not None and page.url == "https://news.example/a"


async def test_a_push_for_an_unknown_feed_records_nothing(store: Store) -> None:
    assert not await store.record_pushed_entries("nobody", [entry("a")])
    assert await store.events_after(0, ["nobody"]) == []


async def test_a_feed_is_read_with_its_subscription_as_each_is_read_alone(store: Store) -> None:
    assert await store.get_feed_and_subscription("f") is None
    await store.create_feed(watched())
    assert await store.get_feed_and_subscription("f") == (await store.get_feed("f"), None)
    expires = time.time() + 3600
    assert await store.swap_subscription("f", 0, subscription(state=PUSH_SUBSCRIBED, expires_at=expires))
    found = await store.get_feed_and_subscription("f")
    assert found == (await store.get_feed("f"), await store.get_subscription("f"))
    assert found is not None and found[1] is not None and (found[1].version, found[1].expires_at) == (1, expires)


async def test_a_feed_job_read_with_its_claim_holds_what_a_read_then_would(store: Store) -> None:
    """``Job.preread``: a backend that reads a poll's feed in the claim's own transaction reads what
    ``get_feed_and_subscription`` would; one that does not leaves it None."""
    await store.create_feed(watched())
    assert await store.swap_subscription("f", 0, subscription(state=PUSH_SUBSCRIBED, expires_at=time.time() + 60))
    job = await store.next_job("w", timeout=WAIT)
    assert job is not None and job.kind == FEED_JOB
    if job.preread is not None:
        assert job.preread == (await store.get_feed_and_subscription("f"),)


async def test_a_subscription_without_its_feed_reads_as_no_feed(store: Store) -> None:
    assert await store.swap_subscription("f", 0, subscription())
    assert await store.get_feed_and_subscription("f") is None


async def test_a_subscription_is_read_back_with_every_field_it_was_stored_with(store: Store) -> None:
    stored = subscription(
        state=PUSH_SUBSCRIBED, lease_seconds=86400, expires_at=time.time() + 86400, verified_at=time.time(),
        pushes=3, dropped=1, window_start=time.time(), window_entries=2, content_url="https://news.example/feed?x=1",
    )  # fmt: skip
    assert await store.swap_subscription("f", 0, stored)
    assert await store.get_subscription("f") == dataclasses.replace(stored, version=1)


async def test_a_subscription_changes_only_from_the_version_it_was_read_at(store: Store) -> None:
    assert await store.get_subscription("f") is None
    assert not await store.swap_subscription("f", 1, subscription())
    assert await store.swap_subscription("f", 0, subscription())
    first = await store.get_subscription("f")
    assert first is not None and first.version == 1 and first.state == PUSH_REQUESTED
    assert await store.swap_subscription("f", 1, dataclasses.replace(first, state=PUSH_SUBSCRIBED))
    assert not await store.swap_subscription("f", 1, dataclasses.replace(first, state="failed"))
    now = await store.get_subscription("f")
    assert now is not None and (now.version, now.state, now.secret) == (2, PUSH_SUBSCRIBED, "00" * 32)
    assert await store.swap_subscription("f", 2, None)
    assert await store.get_subscription("f") is None


async def test_a_subscription_job_is_queued_for_when_it_is_due_and_only_once(store: Store) -> None:
    assert await store.swap_subscription("f", 0, subscription(due_at=time.time() + 3600))
    found = await store.get_subscription("f")
    assert found is not None
    assert await store.next_job("w", timeout=0.2) is None, "a job due in an hour was handed out"
    assert await store.swap_subscription("f", 1, dataclasses.replace(found, due_at=time.time()))
    job = await take(store, WEBSUB_JOB)
    assert (job.request_id, job.url) == ("f", HUB)
    assert await store.next_job("w2", timeout=0.2) is None, "the job due later was not replaced"
    assert await store.swap_subscription("f", 2, dataclasses.replace(found, due_at=None))
    await store.finish_subscription_job(job)
    assert await store.next_job("w", timeout=0.2) is None, "a job finished with nothing due came back"


async def test_a_change_while_the_job_runs_queues_its_next_when_it_finishes(store: Store) -> None:
    assert await store.swap_subscription("f", 0, subscription(due_at=time.time()))
    job = await take(store, WEBSUB_JOB)
    found = await store.get_subscription("f")
    assert found is not None
    assert await store.swap_subscription("f", 1, dataclasses.replace(found, due_at=time.time()))
    assert await store.next_job("w2", timeout=0.2) is None, "two jobs of one subscription at once"
    await store.finish_subscription_job(job)
    again = await take(store, WEBSUB_JOB)
    assert again.request_id == "f"


async def test_deleting_a_subscription_drops_its_queued_job(store: Store) -> None:
    assert await store.swap_subscription("f", 0, subscription(due_at=time.time() + 0.3))
    assert await store.swap_subscription("f", 1, None)
    assert await store.next_job("w", timeout=0.8) is None
    assert await store.queue_depth() == 0


async def test_a_delivery_read_for_a_feed_removed_and_added_again_meanwhile_is_not_the_new_feeds(store: Store) -> None:
    """DELETE and PUT of the same id while a hub's delivery was read: its entries are of the feed that was removed."""
    old, _ = await store.create_feed(watched())
    await store.remove_feed("f")
    elsewhere = "https://elsewhere.example/feed.xml"
    new, _ = await store.create_feed(FeedRecord("f", {"url": elsewhere, "follow": False, "watch": "feed"}, elsewhere))
    many = [entry(f"a{n}") for n in range(150)]  # more than one of the Redis backend's steps (64 entries each)
    assert not await store.record_pushed_entries("f", many, created_at=old.created_at)
    assert await sent(store) == []
    assert await store.record_pushed_entries("f", [entry("b")], created_at=new.created_at)
    assert [e[0] for e in await sent(store)] == ["b"]
