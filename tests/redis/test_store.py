"""The Redis store against a real Redis: the Store promises, and what only a shared store must add (reclaiming a dead
worker's jobs, one terminal event per request across deliveries, key prefixes)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import orjson
import pytest

from linkcast.core.crawls import CrawlOutcome, Discovered, page_body
from linkcast.core.errors import Conflict, FetchError
from linkcast.core.events import CRAWL_JOB, FEED_JOB, EventBody, Job, error_body, result_body, started_body
from linkcast.core.feeds import FeedRecord
from linkcast.core.webhooks import DELIVERY_DELIVERED, DELIVERY_FAILED, Delivery, Endpoint
from linkcast.core.websub import PUSH_SUBSCRIBED, Subscription
from linkcast.store.base import MAX_ATTEMPTS as MAX_DELIVERIES
from linkcast.store.listing import LISTING_BYTES
from linkcast.store.redis import INDEXED_REQUESTS_MAX, RedisStore
from linkcast.store.redis.events import FIRST_READ
from tests.redis.conftest import StoreFactory


def result_for(job: Job, link: str = "http://127.0.0.1/x") -> EventBody:
    return result_body(
        job.request_id, job.url, final_url=job.url, status_code=200, links=[link], links_truncated=False, timings={}
    )


async def take(store: RedisStore, worker: str = "w1", timeout: float = 5.0) -> Job:
    job = await store.next_job(worker, timeout)
    assert job is not None, "no job handed out"
    return job


async def test_submit_records_queues_and_announces(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    record, created = await store.submit("a", "http://127.0.0.1/a")
    assert created and record.state == "queued"
    assert await store.queue_depth() == 1
    [event] = await store.events_after(0)
    assert event.id == 1 and event.type == "accepted"
    assert orjson.loads(event.json) == {"id": 1, "type": "accepted", "request_id": "a", "url": "http://127.0.0.1/a"}
    stored = await store.get_request("a")
    assert stored is not None and (stored.url, stored.state, stored.attempts) == ("http://127.0.0.1/a", "queued", 0)
    assert await store.get_request("unknown") is None


async def test_submit_is_idempotent_and_refuses_another_url(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    await store.submit("a", "http://127.0.0.1/a")
    again, created = await store.submit("a", "http://127.0.0.1/a")
    assert not created and again.url == "http://127.0.0.1/a"
    with pytest.raises(Conflict):
        await store.submit("a", "http://127.0.0.1/other")
    assert await store.queue_depth() == 1
    assert await store.last_event_id() == 1


async def test_concurrent_submits_of_one_id_create_it_once(open_redis_store: StoreFactory) -> None:
    stores = [await open_redis_store() for _ in range(3)]
    answers = await asyncio.gather(*(s.submit("same", "http://127.0.0.1/s") for s in stores for _ in range(5)))
    assert sum(created for _, created in answers) == 1
    assert await stores[0].queue_depth() == 1


async def test_job_lifecycle_ends_in_one_terminal_event(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    await store.submit("a", "http://127.0.0.1/a")
    job = await take(store)
    assert (job.request_id, job.url, job.attempt) == ("a", "http://127.0.0.1/a", 1)
    assert await store.queue_depth() == 0
    running = await store.get_request("a")
    assert running is not None and running.state == "running" and running.started_at is not None
    started = await store.append_started(job, started_body(job.request_id, job.url, job.attempt))
    finished = await store.finish(job, result_for(job))
    assert finished is not None and started.id < finished.id
    assert await store.finish(job, result_for(job)) is None
    record = await store.get_request("a")
    assert record is not None and record.state == "done" and record.outcome is not None
    assert record.to_dict()["links"] == ["http://127.0.0.1/x"]
    assert [e.type for e in await store.events_after(0)] == ["accepted", "started", "result"]


async def test_error_outcome_marks_the_request_failed(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    await store.submit("a", "http://127.0.0.1/a")
    job = await take(store)
    event = await store.finish(job, error_body("a", job.url, FetchError("gone", code="timeout"), timings={}))
    assert event is not None and event.body()["error"] == {"code": "timeout", "message": "gone"}
    record = await store.get_request("a")
    assert record is not None and record.state == "failed" and record.to_dict()["error"]["code"] == "timeout"


async def test_dead_workers_job_is_reclaimed_and_finished_once(open_redis_store: StoreFactory) -> None:
    dying = await open_redis_store(job_visibility_timeout=0.3)
    survivor = await open_redis_store(job_visibility_timeout=0.3)
    await dying.submit("a", "http://127.0.0.1/a")
    first = await take(dying, "dying-0")
    await dying.close()  # it stops refreshing its job, as a killed process would
    second = await take(survivor, "survivor-0")
    assert (second.request_id, second.attempt) == ("a", 2)
    # Both deliveries run to the end: the first finish wins, the other appends nothing.
    outcomes = await asyncio.gather(
        survivor.finish(second, result_for(second)),
        *(survivor.finish(first, result_for(first)) for _ in range(5)),
    )
    assert sum(outcome is not None for outcome in outcomes) == 1
    terminal = [e for e in await survivor.events_after(0) if e.is_terminal]
    assert len(terminal) == 1
    assert await survivor.next_job("survivor-0", timeout=0.5) is None  # acknowledged: not handed out again


async def test_job_that_every_worker_dies_with_ends_in_an_error(open_redis_store: StoreFactory) -> None:
    holder = await open_redis_store(job_visibility_timeout=0.1)
    await holder.submit("a", "http://127.0.0.1/a")
    for attempt in range(1, MAX_DELIVERIES + 1):
        job = await take(holder, f"w{attempt}")
        assert job.attempt == attempt
        await holder.close()
        holder = await open_redis_store(job_visibility_timeout=0.1)
    assert await holder.next_job("last", timeout=0.5) is None
    record = await holder.get_request("a")
    assert record is not None and record.state == "failed" and record.to_dict()["error"]["code"] == "worker_lost"
    assert [e.type for e in await holder.events_after(0) if e.is_terminal] == ["error"]


async def test_live_worker_keeps_its_job_past_the_visibility_timeout(open_redis_store: StoreFactory) -> None:
    holder = await open_redis_store(job_visibility_timeout=0.3)
    other = await open_redis_store(job_visibility_timeout=0.3)
    await holder.submit("a", "http://127.0.0.1/a")
    await take(holder, "holder-0")
    # Three visibility timeouts pass while the holder lives (it refreshes its claim): nobody else gets the job.
    assert await other.next_job("other-0", timeout=1.0) is None


async def test_released_job_is_handed_out_again_at_once(open_redis_store: StoreFactory) -> None:
    draining = await open_redis_store()  # visibility timeout 60 s: only the release can make this fast
    other = await open_redis_store()
    await draining.submit("a", "http://127.0.0.1/a")
    job = await take(draining, "draining-0")
    await draining.release(job)
    record = await other.get_request("a")
    assert record is not None and record.state == "queued"
    again = await take(other, "other-0", timeout=5.0)
    assert (again.request_id, again.attempt) == ("a", 2)


async def test_jobs_are_shared_not_duplicated_between_workers(open_redis_store: StoreFactory) -> None:
    stores = [await open_redis_store() for _ in range(2)]
    for n in range(20):
        await stores[0].submit(f"r{n}", f"http://127.0.0.1/{n}")

    async def drain(store: RedisStore, worker: str) -> list[str]:
        taken = []
        while (job := await store.next_job(worker, timeout=0.2)) is not None:
            taken.append(job.request_id)
            await store.finish(job, result_for(job))
        return taken

    lists = await asyncio.gather(*(drain(stores[n % 2], f"w{n}") for n in range(4)))
    taken = [rid for each in lists for rid in each]
    assert sorted(taken) == sorted(f"r{n}" for n in range(20))


async def test_workers_recover_when_redis_lost_the_queue(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    await store.submit("lost", "http://127.0.0.1/lost")
    async for key in store.redis.scan_iter(match=f"{store.prefix}:*"):  # a Redis restarted without persistence
        await store.redis.delete(key)
    waiting = asyncio.create_task(store.next_job("w1", timeout=5.0))
    await store.submit("a", "http://127.0.0.1/a")
    job = await asyncio.wait_for(waiting, 10.0)
    assert job is not None and job.request_id == "a"


async def test_the_log_epoch_is_shared_and_changes_once_redis_lost_its_data(open_redis_store: StoreFactory) -> None:
    """What lets a hub tell a log started over from one that grew past its position."""
    store, other = await open_redis_store(), await open_redis_store()
    epoch = await store.log_epoch()
    await store.submit("a", "http://127.0.0.1/a")
    assert epoch and await other.log_epoch() == epoch == await store.log_epoch()
    async for key in store.redis.scan_iter(match=f"{store.prefix}:*"):  # a Redis restarted without persistence
        await store.redis.delete(key)
    renewed = await other.log_epoch()
    assert renewed != epoch and await store.log_epoch() == renewed


async def test_a_crawl_page_finished_after_redis_lost_its_data_is_no_page_of_the_crawl_made_again(
    open_redis_store: StoreFactory,
) -> None:
    """A worker held a page of crawl c when Redis restarted empty, and c was asked for again (a client's retry):
    the old job's outcome was taken as the new crawl's, though the new one never admitted its URL. Its page event
    came, its count took the new crawl's queue to 0, and crawl.done was sent while the seed was still to fetch (whose
    outcome was then refused: a crawl that had ended)."""
    store = await open_redis_store()
    site = "https://site.example"
    spec = {"urls": [f"{site}/"], "max_depth": 2, "max_pages": 10}
    await store.create_crawl("c", spec, [f"{site}/"])
    seed = await store.next_job("w1", timeout=5.0)
    assert seed is not None
    await store.finish_crawl_page(seed, CrawlOutcome(_page(seed), "fetched", [Discovered(f"{site}/a", 1, seed.url)]))
    held = await store.next_job("w1", timeout=5.0)
    assert held is not None and held.url == f"{site}/a"
    async for key in store.redis.scan_iter(match=f"{store.prefix}:*"):  # a Redis restarted without persistence
        await store.redis.delete(key)
    await store.create_crawl("c", spec, [f"{site}/"])

    assert not await store.finish_crawl_page(held, CrawlOutcome(_page(held), "fetched"))
    record = await store.get_crawl("c")
    assert record is not None and record.state != "done" and record.counts.queued == 1, record
    assert [e.type for e in await store.events_after(0, ["c"])] == ["crawl.accepted"]
    seed = await store.next_job("w2", timeout=5.0)
    assert seed is not None and seed.url == f"{site}/"
    assert await store.finish_crawl_page(seed, CrawlOutcome(_page(seed), "fetched"))
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done" and record.counts.fetched == 1, record


def _page(job: Job) -> EventBody:
    return page_body(job.request_id, job.url, depth=job.data.get("depth", 0), referrer=job.data.get("referrer"),
                     status_code=200, final_url=job.url, links=[])  # fmt: skip


async def test_a_flow_is_forgotten_once_the_virtual_time_has_reached_its_last_tag(
    open_redis_store: StoreFactory,
) -> None:
    store = await open_redis_store()
    for n in range(3):
        await store.submit(f"r{n}", f"http://h{n}.example/", flow=f"client:{n}")
    assert await store.redis.zcard(store.key("flows")) == 3
    jobs = [await take(store) for _ in range(3)]
    assert await store.redis.zcard(store.key("flows")) == 0  # each one's last tag was taken: the same as none
    for job in jobs:  # the job keeps its flow (a reclaimed or requeued one is tagged in it again)
        assert (
            await store.redis.hget(store.key("job", job.receipt.split("/")[0]), "f") == f"client:{job.url[8]}".encode()
        )


async def test_events_after_honours_since_until_filter_and_limit(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    for n in range(6):
        await store.submit(f"r{n}", f"http://127.0.0.1/{n}")
    assert [e.id for e in await store.events_after(2)] == [3, 4, 5, 6]
    assert [e.id for e in await store.events_after(2, until=4)] == [3, 4]
    assert [e.id for e in await store.events_after(0, limit=2)] == [1, 2]
    assert [e.request_id for e in await store.events_after(0, {"r1", "r4"})] == ["r1", "r4"]
    assert [e.request_id for e in await store.events_after(0, {"r1", "r4"}, limit=1)] == ["r1"]
    assert await store.events_after(6) == []


async def test_filtered_reads_by_index_and_by_scan_agree(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    for n in range(20):
        await store.submit(f"r{n}", f"http://127.0.0.1/{n}")
    for _ in range(5):
        job = await take(store)
        await store.append_started(job, started_body(job.request_id, job.url, job.attempt))
        await store.finish(job, result_for(job))
    few = {"r1", "r3", "r12"}
    expected = [e for e in await store.events_after(0) if e.request_id in few]
    assert [e.type for e in expected] == ["accepted", "accepted", "accepted", "started", "result", "started", "result"]
    many = few | {f"unknown{n}" for n in range(INDEXED_REQUESTS_MAX)}  # too many to look up: the log is scanned
    for wanted in (few, many):
        assert await store.events_after(0, wanted) == expected
        assert await store.events_after(expected[1].id, wanted, limit=2) == expected[2:4]
        assert await store.events_after(0, wanted, until=expected[3].id) == expected[:4]
    await store.prune(0.0, keep_events=await store.last_event_id() - expected[2].id + 1)
    for wanted in (few, many):
        assert await store.events_after(0, wanted, limit=3) == expected[2:5]  # trimmed events are skipped


async def test_wait_events_wakes_on_append_and_times_out_when_idle(open_redis_store: StoreFactory) -> None:
    tail, writer = await open_redis_store(), await open_redis_store()
    assert await tail.wait_events(0, timeout=0.1) == []
    waiting = asyncio.create_task(tail.wait_events(0, timeout=10.0))
    await writer.submit("a", "http://127.0.0.1/a")
    events = await asyncio.wait_for(waiting, 10.0)
    assert [(e.id, e.request_id) for e in events] == [(1, "a")]


async def test_ids_on_an_empty_log(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    assert (await store.first_event_id(), await store.last_event_id()) == (1, 0)


async def test_prune_by_count_and_by_age(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    for n in range(5):
        await store.submit(f"r{n}", f"http://127.0.0.1/{n}")
    assert await store.prune(0.0, keep_events=2) == 3
    assert await store.first_event_id() == 4
    job = await take(store)
    await store.finish(job, result_for(job))
    assert await store.prune(time.time() + 1, keep_events=100) == 3
    assert (await store.first_event_id(), await store.last_event_id()) == (7, 6)
    assert await store.get_request(job.request_id) is None  # finished and old: pruned
    assert await store.get_request("r4") is not None  # not finished: kept
    assert (await store.submit("r5", "http://127.0.0.1/5"))[1]
    assert [e.id for e in await store.events_after(0)] == [7]


async def test_deliveries_that_ended_before_their_times_were_kept_are_pruned_by_age_too(
    open_redis_store: StoreFactory,
) -> None:
    """A Redis of before ``P:whended`` holds ended deliveries it does not list: the first prune puts them in it."""
    store = await open_redis_store()
    old = time.time() - 3600
    await store.save_webhook(Endpoint("e", "https://hooks.example/", ["result"], "whsec_c2VjcmV0"), 0)
    made = [Delivery("e", n, "result", "{}", created_at=old) for n in (1, 2, 3)]
    await store.add_webhook_deliveries("e", 0, 3, made)
    await store.save_webhook_delivery(dataclasses.replace(made[0], state=DELIVERY_DELIVERED, delivered_at=old))
    await store.save_webhook_delivery(dataclasses.replace(made[1], state=DELIVERY_FAILED, last_try_at=time.time()))
    await store.redis.delete(store.key("whended"), store.key("whended_filled"))  # as a Redis of before has it
    await store.prune(time.time() - 60, keep_events=1_000_000)
    assert [d.event_id for d in (await store.webhook_deliveries("e", None, 10)).items] == [2, 3]
    assert await store.redis.exists(store.key("whended_filled"))


async def test_prune_by_age_keeps_recent_events(open_redis_store: StoreFactory) -> None:
    store = await open_redis_store()
    for n in range(3):
        await store.submit(f"old{n}", f"http://127.0.0.1/{n}")
    cutoff = await store.redis.time()
    boundary = cutoff[0] + cutoff[1] / 1e6
    for n in range(2):
        await store.submit(f"new{n}", f"http://127.0.0.1/n{n}")
    assert await store.prune(boundary, keep_events=100) == 3
    assert [e.request_id for e in await store.events_after(0)] == ["new0", "new1"]


async def test_prefixes_keep_deployments_apart(open_redis_store: StoreFactory, redis_url: str) -> None:
    ours = await open_redis_store()
    theirs = RedisStore(ours.settings.replace(redis_prefix=ours.prefix + "-other"))
    await theirs.open()
    try:
        await theirs.submit("a", "http://127.0.0.1/theirs")
        assert await ours.get_request("a") is None
        assert await ours.last_event_id() == 0
        keys = [key.decode() async for key in theirs.redis.scan_iter(match=f"{theirs.prefix}*")]
        assert keys and all(key.startswith(f"{theirs.prefix}:") for key in keys)
    finally:
        await theirs.redis.delete(*[key async for key in theirs.redis.scan_iter(match=f"{theirs.prefix}:*")])
        await theirs.close()


async def test_feed_and_crawl_jobs_come_with_what_their_handlers_read_first(open_redis_store: StoreFactory) -> None:
    """``Job.preread``, read by the claim script: a poll or a crawl page needs no round trip before it fetches."""
    store = await open_redis_store()
    url = "https://news.example/feed.xml"
    await store.create_feed(FeedRecord("f", {"url": url}, url))
    expires = time.time() + 60
    assert await store.swap_subscription("f", 0, Subscription("f", "https://hub.example/", url, "t", "00" * 32,
                                                              state=PUSH_SUBSCRIBED, expires_at=expires))  # fmt: skip
    poll = await take(store)
    assert poll.kind == FEED_JOB and poll.preread == (await store.get_feed_and_subscription("f"),)
    await store.create_crawl("c", {"max_pages": 10}, ["https://site.example/"])
    page = await take(store)
    assert page.kind == CRAWL_JOB and page.preread == (await store.get_crawl("c"),)
    assert page.preread[0] is not None and page.preread[0].state == "running"


async def test_the_live_tail_reads_about_a_listing_s_worth_of_large_events_at_once(
    open_redis_store: StoreFactory,
) -> None:
    """The hub's live read takes about 32 MiB of events at most: a backlog of large results (8 MiB of links each, at
    most) is read a few at a time, never ten thousand at once; small events still come in batches of thousands."""
    store = await open_redis_store()
    large = b'{"links":["' + b"x" * (4 * 1024 * 1024) + b'"]}'  # a 4 MiB result
    for n in range(30):
        await store._append(EventBody("result", f"big{n}", large))
    read = 0
    sizes: list[int] = []
    while read < 30:
        events = await store.wait_events(read, timeout=5.0)
        assert events, "the tail read nothing"
        sizes.append(len(events))
        read = events[-1].id
    # About 32 MiB a read, whatever the backlog (or the first read's 16, taken blind as a page's first step is).
    assert max(sizes) * len(large) <= max(LISTING_BYTES + len(large), FIRST_READ * len(large))
    for n in range(3000):
        await store._append(EventBody("accepted", f"small{n}", b"{}"))
    assert len(await store.wait_events(read, timeout=5.0)) == 3000  # small ones: all of the backlog at once


async def test_a_request_retried_while_a_prune_is_under_way_is_kept(
    open_redis_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prune reads which finished requests to drop, then drops them: a retry in between (the request queued again,
    its job queued) must keep its record, or the job ends with no request to finish and the retry with no outcome."""
    store = await open_redis_store()
    await store.submit("a", "http://127.0.0.1/a")
    job = await take(store)
    await store.finish(job, error_body("a", job.url, FetchError("refused", code="connect"), timings={}))
    read_finished = store.redis.zrange

    async def retried_meanwhile(*args: object, **kwargs: object) -> object:
        found = await read_finished(*args, **kwargs)  # type: ignore[arg-type]
        monkeypatch.undo()
        await store.retry("a")
        return found

    monkeypatch.setattr(store.redis, "zrange", retried_meanwhile)
    await store.prune(time.time() + 1, keep_events=0)
    record = await store.get_request("a")
    assert record is not None and record.state == "queued"
    again = await take(store)
    assert await store.finish(again, result_for(again)) is not None
    record = await store.get_request("a")
    assert record is not None and record.state == "done"
