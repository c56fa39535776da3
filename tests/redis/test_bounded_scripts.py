"""Redis runs one command at a time: a script whose work grows with what a client sends holds every replica, every
worker and every stream until it ends. These tests attack at the documented caps on a Redis of their own and count
the scripts the work took (``scripts_run``: the unbounded scripts were one or two, the steps are tens to hundreds,
each a few milliseconds). Its SLOWLOG also records every command that held it for ``SLOW_MS`` or more: a bound no
step comes near, generous for a loaded machine (a step measured 113 ms once while the whole suite ran beside it), so
that the check cannot fail by the clock alone."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from linkcast.core.crawls import CrawlOutcome, Discovered, page_body
from linkcast.core.events import EventBody, Job, result_body
from linkcast.core.feeds import FeedPoll, FeedRecord, PolledEntry
from linkcast.core.inputs import host_key
from linkcast.core.webhooks import Endpoint, scoped_endpoint_id
from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.support.redis import RedisServer

SLOW_MS = 1000
# Scripts an attack at the caps takes at least, in steps (the unbounded ones it replaces took one or two).
STEPS = 10
SITE = "https://site.example"


@pytest.fixture(scope="module")
def own_redis() -> Iterator[str]:
    """A ``redis-server`` of this module alone (its SLOWLOG is configured here, which a shared Redis forbids)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is needed to measure scripts on a Redis of the test's own")
    server = RedisServer()
    try:
        server.start()
        with redis.Redis.from_url(server.url) as client:
            client.config_set("slowlog-log-slower-than", SLOW_MS * 1000)
        yield server.url
    finally:
        server.remove()


@pytest.fixture
async def store(own_redis: str) -> AsyncIterator[RedisStore]:
    with redis.Redis.from_url(own_redis) as client:
        client.flushdb()  # this module's own server: nothing of anyone else's is there
        client.slowlog_reset()
    opened = RedisStore(Settings(store=own_redis, redis_prefix="bounded", max_crawl_pages=10_000))
    await opened.open()
    yield opened
    await opened.close()


def scripts_run(url: str) -> int:
    """How many scripts this Redis has run since it started."""
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("eval", "evalsha"))


def slow_commands(url: str) -> list[tuple[int, str]]:
    """The commands that held Redis ``SLOW_MS`` or more: (milliseconds, the command's start)."""
    with redis.Redis.from_url(url) as client:
        return [(entry["duration"] // 1000, entry["command"][:60].decode()) for entry in client.slowlog_get(128)]


async def seed_page_with_links(store: RedisStore, count: int, max_pages: int) -> tuple[Job, CrawlOutcome]:
    """Crawl ``c`` of ``max_pages``, its seed's job taken, and the outcome of that page: ``count`` new links."""
    await store.create_crawl("c", {"urls": [f"{SITE}/"], "max_depth": 2, "max_pages": max_pages}, [f"{SITE}/"])
    seed = await store.next_job("w", timeout=5.0)
    assert seed is not None
    links = [f"https://h{n % 50}.example/{n}" for n in range(count)]
    body = page_body("c", seed.url, depth=0, referrer=None, status_code=200, final_url=seed.url, links=[])
    return seed, CrawlOutcome(body, "fetched", [Discovered(link, 1, seed.url) for link in links])


async def test_a_page_with_the_most_links_is_admitted_in_bounded_steps(store: RedisStore, own_redis: str) -> None:
    # --max-links (100,000) on one page, all new, to a crawl at --max-crawl-pages: one script admitting them held
    # Redis for 0.4 s; each step now takes a few ms, and the outcome is the same.
    seed, outcome = await seed_page_with_links(store, 100_000, max_pages=10_000)
    before = scripts_run(own_redis)
    assert await store.finish_crawl_page(seed, outcome)
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    record = await store.get_crawl("c")
    assert record is not None and record.counts.queued == 9_999 and record.counts.fetched == 1
    assert record.counts.skipped["page_limit"] == 100_000 - 9_999


async def test_cancelling_a_crawl_drops_its_queued_jobs_in_bounded_steps(store: RedisStore, own_redis: str) -> None:
    # A crawl with 100,000 URLs queued (a deployment's --max-crawl-pages may allow that many): the cancel's one
    # script dropping them all held Redis for about a second (0.1 s for the default cap's 10,000).
    seed, outcome = await seed_page_with_links(store, 99_999, max_pages=100_000)
    assert await store.finish_crawl_page(seed, outcome)
    assert await store.queue_depth() == 99_999
    with redis.Redis.from_url(own_redis) as client:
        client.slowlog_reset()
    before = scripts_run(own_redis)
    record = await store.cancel_crawl("c")
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    assert record.state == "cancelled" and record.counts.queued == 0
    assert await store.queue_depth() == 0 and await store.next_job("w", timeout=0.1) is None


async def test_waking_every_webhook_endpoint_goes_a_page_at_a_time(store: RedisStore, own_redis: str) -> None:
    # Each request submitted with a webhook has an endpoint of its own, kept as long as the request: 20,000 of them
    # woken at once (as every waker does when it starts) held Redis for 0.36 s in one script.
    count = 20_000
    gate = asyncio.Semaphore(32)

    async def made(n: int) -> bool:
        async with gate:
            endpoint_id = scoped_endpoint_id("urls", f"r{n}")
            endpoint = Endpoint(endpoint_id, f"https://hooks.example/{n}", ["result"], "whsec_x", [f"r{n}"])
            return await store.save_webhook(endpoint, 0)

    assert all(await asyncio.gather(*(made(n) for n in range(count))))
    before = scripts_run(own_redis)
    await store.wake_webhooks(None)
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    assert await store.queue_depth() == count  # every endpoint woken: each has its job


async def test_a_poll_with_many_new_entries_takes_them_in_bounded_steps(store: RedisStore, own_redis: str) -> None:
    # A feed that follows its links, whose every poll brings --max-entries-per-poll new entries (each an event, a
    # request and its job): 1,000 held Redis for 75-85 ms in one script, the 5,000 a deployment may allow 0.4 s.
    url = "https://news.example/feed.xml"
    await store.create_feed(FeedRecord("f", {"url": url, "follow": True}, url))
    job = await store.next_job("w", timeout=5.0)
    record = await store.get_feed("f")
    assert job is not None and record is not None
    count = 5_000
    entries = [
        PolledEntry(f"e{n}", "v1", {"title": "t", "link": f"https://h{n % 20}.example/{n}"}) for n in range(count)
    ]
    before = scripts_run(own_redis)
    await store.finish_feed_poll(job, FeedPoll(record, entries))
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    record = await store.get_feed("f")
    assert record is not None and record.entry_count == count
    assert await store.queue_depth() == count + 1  # each entry's page, and the feed's next poll
    seen = [e.request_id for e in await store.events_after(0, limit=3 * count) if e.type == "feed.entry"]
    assert len(seen) == count


async def test_pruning_a_feeds_many_entries_by_age_goes_in_bounded_steps(store: RedisStore, own_redis: str) -> None:
    # A feed keeps up to 10,000 entries of up to 256 KiB each: dropped (and freed) in one script, they would hold
    # Redis for as long as freeing gigabytes takes.
    url = "https://news.example/feed.xml"
    await store.create_feed(FeedRecord("f", {"url": url}, url))
    job = await store.next_job("w", timeout=5.0)
    record = await store.get_feed("f")
    assert job is not None and record is not None
    count = 6_000
    await store.finish_feed_poll(
        job, FeedPoll(record, [PolledEntry(f"e{n}", "v1", {"title": "t"}) for n in range(count)])
    )
    assert len((await store.feed_entries("f", None, 10)).items) == 10
    before = scripts_run(own_redis)
    await store.prune(time.time() + 60, keep_events=1_000_000)
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    assert (await store.feed_entries("f", None, 10)).items == []


def sent_bytes(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("stats")["total_net_output_bytes"])


async def test_a_feeds_event_index_lists_what_the_log_holds(own_redis: str) -> None:
    # A feed watched for months lists every event it ever had (P:ev:<id>), though the log keeps --retain-events:
    # 3,000 events of a feed in a log of 100 left 3,001 ids listed; the list now follows the log's trimming.
    store = RedisStore(Settings(store=own_redis, redis_prefix="trimmed", retain_events=100))
    await store.open()
    try:
        url = "https://news.example/feed.xml"
        await store.create_feed(FeedRecord("f", {"url": url}, url))
        for n in range(3_000):
            await store._append(EventBody("feed.entry", "f", b'{"n": %d}' % n))
        listed, logged = await store.redis.llen(store.key("ev", "f")), await store.redis.xlen(store.key("events"))
        assert listed <= logged + 128
        replay = await store.events_after(0, ["f"], limit=10_000)
        assert [event.id for event in replay] == list(range(3_001 - len(replay) + 1, 3_002))
    finally:
        await store.close()


async def test_a_filtered_replay_reads_its_page_of_a_long_index_not_all_of_it(
    store: RedisStore, own_redis: str
) -> None:
    # A request id with 200,000 events in the log (a feed of many entries, a big crawl): a client replaying its last
    # ten made Redis send all 200,000 listed ids (LRANGE 0 -1) on every connect; now the page's own.
    count = 200_000
    # Written by a script inside Redis: 200,000 round trips' worth of pipelined commands took 15 s of the suite.
    fill = """
    for n = 1, tonumber(ARGV[1]) do
      redis.call('XADD', KEYS[1], n .. '-0', 't', 'feed.entry', 'r', 'f', 'd', '{}', 'at', '1')
      redis.call('RPUSH', KEYS[2], n)
    end
    redis.call('SET', KEYS[3], ARGV[1])
    """
    await store.redis.eval(fill, 3, store.key("events"), store.key("ev", "f"), store.key("seq"), count)
    before = sent_bytes(own_redis)
    replay = await store.events_after(count - 10, ["f"], limit=1000)
    assert [event.id for event in replay] == list(range(count - 9, count + 1))
    assert sent_bytes(own_redis) - before < 100_000


async def test_removed_feeds_leave_no_keys_once_the_log_has_dropped_their_events(store: RedisStore) -> None:
    # Watching a feed and removing it left its event index (P:ev:<id>) for ever: one key more per feed removed, for
    # anyone who may watch feeds. It now goes once retention has dropped the feed's events from the log.
    base = {key async for key in store.redis.scan_iter(match=f"{store.prefix}:*")}
    url = "https://news.example/feed.xml"
    for n in range(50):
        await store.create_feed(FeedRecord(f"f{n}", {"url": url}, url))
        await store.remove_feed(f"f{n}")
    await store.create_feed(FeedRecord("f0", {"url": url}, url))  # watched again: its index is in use again
    await store.prune(older_than=0.0, keep_events=0)
    left = {key async for key in store.redis.scan_iter(match=f"{store.prefix}:*")} - base
    assert not any(
        key.startswith(f"{store.prefix}:ev:".encode()) for key in left if key != store.key("ev", "f0").encode()
    )
    await store.remove_feed("f0")
    await store.prune(older_than=time.time() + 1, keep_events=0)
    left = {key async for key in store.redis.scan_iter(match=f"{store.prefix}:*")} - base
    assert not any(key.startswith(f"{store.prefix}:ev:".encode()) for key in left), sorted(left)


async def test_an_idle_host_keeps_its_row_only_while_its_spacing_lasts(own_redis: str) -> None:
    # Each host a fetch met kept its row (P:hs:<host>) for ever when its spacing (--per-host-delay) or its robots.txt
    # Crawl-delay had not ended by its last job's end, as nothing touches an idle host again: one key per host, so
    # a crawl of a site's many subdomains left thousands. The row now expires when they end.
    store = RedisStore(Settings(store=own_redis, redis_prefix="hosts", per_host_delay=30.0))
    await store.open()
    try:
        for n in range(50):
            await store.submit(f"r{n}", f"https://h{n}.example/")
        await store.set_crawl_delay("idle.example:443", 20.0, time.time() + 3600)
        for _ in range(50):
            job = await store.next_job("w", timeout=5.0)
            assert job is not None
            await store.set_crawl_delay(host_key(job.url), 20.0, time.time() + 3600)
            done = result_body(job.request_id, job.url, final_url=job.url, status_code=200, links=[],
                               links_truncated=False, timings={})  # fmt: skip
            assert await store.finish(job, done) is not None
        rows = [key async for key in store.redis.scan_iter(match=store.key("hs", "*"))]
        assert len(rows) == 51
        for row in rows:
            assert 0 < await store.redis.pttl(row) <= 3600 * 1000, row
    finally:
        await store.close()


def script_seconds(url: str) -> float:
    """The time Redis has spent running scripts (EVALSHA) since it started."""
    with redis.Redis.from_url(url) as client:
        return float(client.info("commandstats").get("cmdstat_evalsha", {}).get("usec", 0)) / 1e6


async def test_admitting_links_does_not_read_the_crawls_whole_spec(store: RedisStore, own_redis: str) -> None:
    # A crawl's spec holds its seeds: 1,000 of 1 KB, within --max-request-bytes. Each step admitting a page's links
    # decoded it to read max_pages (about 5 ms a step): a sitemap's 50,000 links, all seen already, cost Redis 2 s of
    # scripts. The steps now read max_pages alone (under 0.1 s for the same links).
    seeds = [f"https://h{n}.example/" + "a" * 1000 for n in range(1000)]
    await store.create_crawl("c", {"urls": seeds, "max_depth": 2, "max_pages": 1000}, seeds)
    job = await store.next_job("w", timeout=5.0)
    assert job is not None
    body = page_body("c", job.url, depth=0, referrer=None, status_code=200, final_url=job.url, links=[])
    links = [Discovered(seeds[n % len(seeds)], 1, job.url) for n in range(50_000)]
    before = script_seconds(own_redis)
    assert await store.finish_crawl_page(job, CrawlOutcome(body, "fetched", links))
    assert script_seconds(own_redis) - before < 1.0
    record = await store.get_crawl("c")
    assert record is not None and record.counts.skipped["duplicate"] == 50_000


async def test_a_worker_reads_a_crawls_spec_once_not_with_every_page(store: RedisStore, own_redis: str) -> None:
    # The claim of each crawl page read the crawl whole for its handler, spec and all: a spec of 1,000 seeds of 1 KB
    # made Redis send a megabyte with every page claimed (10 GB for a crawl of 10,000 pages, 2 ms of Redis each).
    seeds = [f"https://h{n}.example/" + "a" * 1000 for n in range(1000)]
    await store.create_crawl("c", {"urls": seeds, "max_depth": 2, "max_pages": 1000}, seeds)
    worker = RedisStore(store.settings)  # another process: it has read no crawl yet
    await worker.open()
    try:
        before = sent_bytes(own_redis)
        for n in range(20):
            job = await worker.next_job("w", timeout=5.0)
            assert job is not None
            record = job.preread[0] if job.preread else await worker.get_crawl(job.request_id)
            assert record is not None and record.spec["urls"] == seeds and record.state == "running"
            assert n == 0 or job.preread, "the spec read once is the worker's from then on"
        assert sent_bytes(own_redis) - before < 3 * 1024 * 1024
    finally:
        await worker.close()


async def test_waking_the_endpoints_of_a_batch_of_requests_goes_a_part_at_a_time(
    store: RedisStore, own_redis: str
) -> None:
    # The waker wakes the endpoints of the requests of each batch of events it reads, up to 10,000 requests, each
    # watched by every endpoint that names it (1,000 requests each): 500 endpoints (--max-webhooks 0, no bound) over
    # the same 10,000 requests made one script of half a million lookups: 0.29 s (40 ms at the default cap, 100).
    for n in range(500):
        watched = [f"r{m}" for m in range(n * 18, n * 18 + 1000)]
        endpoint = Endpoint(f"e{n}", f"https://hooks.example/{n}", ["result"], "whsec_x", watched)
        assert await store.save_webhook(endpoint, 0)
    before = scripts_run(own_redis)
    await store.wake_webhooks({f"r{m}" for m in range(10_000)})
    assert scripts_run(own_redis) - before >= STEPS and slow_commands(own_redis) == []
    assert await store.queue_depth() == 500
