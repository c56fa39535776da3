"""The store's contract for crawls, proven against every backend of ``tests/store/conftest.py``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from linkcast.core.crawls import CrawlOutcome, Discovered, page_body, skipped_body
from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import CRAWL_JOB, Event, Job
from linkcast.store import Store
from linkcast.store.base import MAX_ATTEMPTS
from linkcast.store.crawl_ledger import MAX_REMEMBERED_OVER_LIMIT
from tests.store.conftest import Backend

WAIT = 10.0
SITE = "https://site.example"


def spec(max_pages: int = 100, **options: Any) -> dict[str, Any]:
    return {"urls": [f"{SITE}/"], "max_depth": 2, "max_pages": max_pages, **options}


async def take(store: Store, worker: str = "w") -> Job:
    job = await store.next_job(worker, timeout=WAIT)
    assert job is not None, "a queued job was not handed out"
    return job


def fetched(job: Job, *links: str) -> CrawlOutcome:
    depth = job.data["depth"]
    body = page_body(job.request_id, job.url, depth=depth, referrer=job.data.get("referrer"), status_code=200,
                     final_url=job.url, links=list(links))  # fmt: skip
    return CrawlOutcome(body, "fetched", [Discovered(link, depth + 1, job.url) for link in links])


async def events_of(store: Store, crawl_id: str) -> list[Event]:
    return await store.events_after(0, [crawl_id], limit=10_000)


async def test_a_crawl_is_recorded_with_its_seeds_queued_and_an_accepted_event(store: Store) -> None:
    record, created = await store.create_crawl("c", spec(), [f"{SITE}/", f"{SITE}/b", f"{SITE}/"])
    assert created and record.state == "queued" and record.counts.queued == 2
    [accepted] = await events_of(store, "c")
    assert accepted.type == "crawl.accepted" and accepted.body()["counts"]["queued"] == 2
    assert await store.queue_depth() == 2
    job = await take(store)
    assert (job.kind, job.request_id, job.url, job.data["depth"]) == (CRAWL_JOB, "c", f"{SITE}/", 0)
    stored = await store.get_crawl("c")
    assert stored is not None and stored.state == "running" and stored.started_at is not None


async def test_a_crawl_job_read_with_its_claim_holds_the_crawl_as_it_runs(store: Store) -> None:
    """``Job.preread``: a backend that reads a crawl job's crawl in the claim's own transaction reads what ``get_crawl``
    answers once the claim has made it run; one that does not leaves it None."""
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    job = await take(store)
    if job.preread is not None:
        assert job.preread == (await store.get_crawl("c"),)
        assert job.preread[0] is not None and job.preread[0].state == "running"


async def test_the_same_crawl_again_is_a_repeat_and_other_options_conflict(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    record, created = await store.create_crawl("c", spec(), [f"{SITE}/"])
    assert not created and record.crawl_id == "c"
    with pytest.raises(Conflict):
        await store.create_crawl("c", spec(max_pages=5), [f"{SITE}/"])
    assert len(await events_of(store, "c")) == 1


async def test_links_are_admitted_once_up_to_max_pages_and_the_crawl_ends_when_none_is_left(store: Store) -> None:
    await store.create_crawl("c", spec(max_pages=3), [f"{SITE}/"])
    seed = await take(store)
    recorded = await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/a", f"{SITE}/b", f"{SITE}/", f"{SITE}/c"))
    assert recorded
    record = await store.get_crawl("c")
    assert record is not None and record.counts.queued == 2
    assert record.counts.skipped["duplicate"] == 1 and record.counts.skipped["page_limit"] == 1
    for _ in range(2):
        job = await take(store)
        await store.finish_crawl_page(job, fetched(job, f"{SITE}/a", f"{SITE}/d"))
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done" and record.finished_at is not None
    assert record.counts.fetched == 3 and record.counts.queued == 0
    # Each distinct URL over the limit counts once as page_limit (c, d); every later mention is a duplicate.
    assert record.counts.skipped == {"robots": 0, "scope": 0, "pattern": 0, "depth": 0, "page_limit": 2,
                                     "duplicate": 4}  # fmt: skip
    types = [event.type for event in await events_of(store, "c")]
    assert types[0] == "crawl.accepted" and types[-1] == "crawl.done" and types.count("page") == 3
    done = (await events_of(store, "c"))[-1].body()
    assert done["cancelled"] is False and done["counts"]["fetched"] == 3
    assert await store.next_job("w", timeout=0.2) is None


async def test_a_url_admitted_but_not_fetched_gives_its_room_to_the_next_link(store: Store) -> None:
    await store.create_crawl("c", spec(max_pages=3), [f"{SITE}/"])
    seed = await take(store)
    assert await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/a", f"{SITE}/b", f"{SITE}/c"))
    refused = await take(store)
    assert refused.url == f"{SITE}/a"
    robots = skipped_body("c", refused.url, depth=1, referrer=seed.url, reason="robots")
    assert await store.finish_crawl_page(refused, CrawlOutcome(robots, "robots"))
    page = await take(store)
    assert page.url == f"{SITE}/b"
    assert await store.finish_crawl_page(page, fetched(page, f"{SITE}/d", f"{SITE}/e"))
    last = await take(store)
    assert last.url == f"{SITE}/d"  # /a's room: without it /d would be over the limit
    assert await store.finish_crawl_page(last, fetched(last))
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done" and record.counts.fetched == 3
    assert record.counts.skipped["robots"] == 1 and record.counts.skipped["page_limit"] == 2  # /c, /e


async def test_rooms_given_back_are_bounded_so_a_crawl_runs_at_most_twice_max_pages_jobs(store: Store) -> None:
    """Each page lists the next page and then fresh URLs that redirect into a visited page: each of those is a fetch
    (the redirect's) that gives its room back. Without a bound, every fetched page refilled the rooms given back, and a
    crawl of ``max_pages`` N made some N^2/2 fetches (50 million at 10,000)."""
    max_pages = 10
    await store.create_crawl("c", spec(max_pages=max_pages, max_depth=100), [f"{SITE}/p0"])
    taken = 0
    fresh = iter(range(1_000_000))
    while True:
        jobs = []
        while (job := await store.next_job("w", timeout=0.05)) is not None:
            jobs.append(job)
        if not jobs:
            break
        jobs.sort(key=lambda job: "/p" in job.url)  # the redirects end first: their rooms go to the next page
        for job in jobs:
            taken += 1
            if "/p" in job.url:
                next_page = f"{SITE}/p{int(job.url.rsplit('/p', 1)[1]) + 1}"
                links = [next_page, *(f"{SITE}/r{next(fresh)}" for _ in range(max_pages))]
                assert await store.finish_crawl_page(job, fetched(job, *links))
            else:
                skipped = skipped_body("c", job.url, depth=job.data["depth"], referrer=None, reason="duplicate")
                assert await store.finish_crawl_page(job, CrawlOutcome(skipped, "duplicate"))
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done"
    assert taken <= 2 * max_pages, f"{taken} jobs for a crawl of max_pages {max_pages}"
    assert record.counts.fetched < max_pages < taken  # rooms were given back, max_pages of them


async def test_a_page_of_many_links_admits_each_new_one_once_in_the_order_found(store: Store) -> None:
    # More links than one statement of a backend takes, each twice (in the same part and across parts), with some
    # seen before: every new URL once, every repeat a duplicate, the first mention's order kept.
    await store.create_crawl("c", spec(max_pages=10_000), [f"{SITE}/", f"{SITE}/7"])
    seed = await take(store)
    links = [f"{SITE}/{n}" for n in range(1200)]
    mentions = [url for pair in zip(links, links, strict=True) for url in pair] + links[::-1]
    assert await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/", *mentions))
    record = await store.get_crawl("c")
    assert record is not None and record.counts.queued == 1 + 1199  # /7 was a seed
    assert record.counts.skipped["duplicate"] == 1 + 1 + 1200 + 1200 and record.counts.skipped["page_limit"] == 0
    assert [(await take(store)).url for _ in range(3)] == [f"{SITE}/7", f"{SITE}/0", f"{SITE}/1"]


async def test_the_visited_set_stops_growing_with_urls_the_crawl_has_no_room_for(store: Store) -> None:
    # A hostile site can put 100,000 new links on every page: past max_pages, only the first
    # MAX_REMEMBERED_OVER_LIMIT of them are remembered (each then counts once as page_limit), later ones are counted
    # at every mention and kept nowhere, so a crawl's store holds at most max_pages + that many URLs.
    await store.create_crawl("c", spec(max_pages=2), [f"{SITE}/"])
    seed = await take(store)
    extra = 300
    links = [f"{SITE}/{n}" for n in range(MAX_REMEMBERED_OVER_LIMIT + 1 + extra)]
    assert await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/", *links))
    record = await store.get_crawl("c")
    assert record is not None and record.counts.queued == 1 and record.counts.skipped["duplicate"] == 1
    assert record.counts.skipped["page_limit"] == len(links) - 1
    admitted = await take(store)
    assert admitted.url == f"{SITE}/0"
    # The admitted page mentions them all again: the remembered ones are duplicates, the others over the limit again.
    assert await store.finish_crawl_page(admitted, fetched(admitted, *links))
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done"
    assert record.counts.skipped["duplicate"] == 1 + 1 + MAX_REMEMBERED_OVER_LIMIT
    assert record.counts.skipped["page_limit"] == len(links) - 1 + extra
    assert not await store.claim_crawl_url("c", links[MAX_REMEMBERED_OVER_LIMIT])  # remembered
    assert all([await store.claim_crawl_url("c", link) for link in links[-extra:]])  # never stored


async def test_an_outcome_is_recorded_once_whatever_the_deliveries(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"{SITE}/", f"{SITE}/b"])
    job = await take(store)
    assert await store.finish_crawl_page(job, fetched(job))
    assert not await store.finish_crawl_page(job, fetched(job, f"{SITE}/new"))  # a second delivery's outcome
    pages = [event for event in await events_of(store, "c") if event.type == "page"]
    assert len(pages) == 1
    record = await store.get_crawl("c")
    assert record is not None and record.counts.fetched == 1 and record.counts.queued == 1


async def test_a_page_listed_is_its_event_without_the_event_id(store: Store) -> None:
    """GET /crawls/<id>/pages lists each page event's body under its seq: the memory store also listed an "id" of 0
    (the event framed with a made-up id), which no event has and no other store gives."""
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    job = await take(store)
    await store.finish_crawl_page(job, fetched(job))
    [sent] = [event.body() for event in await events_of(store, "c") if event.type == "page"]
    [listed] = (await store.crawl_pages("c", None, 10)).items
    assert listed == {"seq": listed["seq"], **{key: value for key, value in sent.items() if key != "id"}}


async def test_a_skipped_url_counts_by_reason_and_pages_are_read_in_order(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"{SITE}/", f"{SITE}/private"])
    first, second = await take(store), await take(store)
    await store.finish_crawl_page(first, fetched(first))
    robots = skipped_body("c", second.url, depth=0, referrer=None, reason="robots")
    await store.finish_crawl_page(second, CrawlOutcome(robots, "robots", skipped={"scope": 4}))
    record = await store.get_crawl("c")
    assert record is not None and record.counts.skipped["robots"] == 1 and record.counts.skipped["scope"] == 4
    page = await store.crawl_pages("c", None, 1)
    assert [item["url"] for item in page.items] == [first.url] and page.next is not None
    rest = await store.crawl_pages("c", page.next, 10)
    assert [(item["type"], item["reason"]) for item in rest.items] == [("skipped", "robots")] and rest.next is None
    assert rest.items[0]["seq"] > page.items[0]["seq"]


async def test_a_page_of_crawl_pages_stops_at_its_byte_budget_and_reads_on(store: Store) -> None:
    """A page's event may hold 8 MiB of links: 1,000 of them read whole would be 8 GiB for one GET."""
    seeds = [f"{SITE}/{n}" for n in range(5)]
    await store.create_crawl("c", {**spec(), "urls": seeds}, seeds)
    for _ in range(5):
        job = await take(store)
        links = [f"{SITE}/{'x' * 1000}{k}" for k in range(10)]  # in the event (~10 KB), none followed
        body = page_body("c", job.url, depth=0, referrer=None, status_code=200, final_url=job.url, links=links)
        await store.finish_crawl_page(job, CrawlOutcome(body, "fetched"))
    sizes: list[int] = []
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.crawl_pages("c", cursor, 100, max_bytes=15_000)
        sizes.append(len(page.items))
        seen.extend(item["url"] for item in page.items)
        if page.next is None:
            break
        cursor = page.next
    assert sorted(seen) == seeds and max(sizes) == 2, sizes
    first = await store.crawl_pages("c", None, 100, max_bytes=1)
    assert len(first.items) == 1 and first.next is not None, "never an empty page"


async def test_a_page_of_crawls_stops_at_its_byte_budget_and_reads_on(store: Store) -> None:
    """A crawl's options may hold 1,000 seeds (a 1 MiB body): a thousand such records at once would be a gigabyte."""
    for n in range(5):
        seeds = [f"{SITE}/{n}/{'x' * 1000}{k}" for k in range(10)]  # ~10 KB of options
        await store.create_crawl(f"c{n}", {**spec(), "urls": seeds}, seeds)
    sizes: list[int] = []
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.list_crawls(cursor, 100, max_bytes=15_000)
        sizes.append(len(page.items))
        seen += [record.crawl_id for record in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == [f"c{n}" for n in range(5)] and max(sizes) == 2, sizes
    assert len((await store.list_crawls(None, 100, max_bytes=1)).items) == 1, "never an empty page"


async def test_a_cancelled_crawl_fetches_nothing_more_and_says_so_once(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"{SITE}/{n}" for n in range(5)])
    running = await take(store)
    record = await store.cancel_crawl("c")
    assert record.state == "cancelled" and record.counts.queued == 0
    assert await store.next_job("w", timeout=0.2) is None  # the queued ones are gone
    assert not await store.finish_crawl_page(running, fetched(running, f"{SITE}/more"))
    assert (await store.cancel_crawl("c")).state == "cancelled"
    done = [event.body() for event in await events_of(store, "c") if event.type == "crawl.done"]
    assert len(done) == 1 and done[0]["cancelled"] is True
    with pytest.raises(NotFound):
        await store.cancel_crawl("nobody")


async def test_a_page_of_a_crawl_made_before_under_its_id_is_no_page_of_the_crawl_made_again(store: Store) -> None:
    """A worker still held a page of crawl c when c was cancelled, pruned and asked for again (on Redis, a restart
    without its data does the same at once): its outcome was taken as the new crawl's, which never admitted its URL,
    and took the new crawl's queue to 0 (crawl.done) while its seed was still to fetch."""
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    seed = await take(store)
    await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/a"))
    held = await take(store)
    await store.cancel_crawl("c")
    await store.prune(time.time() + 60, keep_events=1_000_000)
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    assert not await store.finish_crawl_page(held, fetched(held))
    record = await store.get_crawl("c")
    assert record is not None and record.state != "done" and record.counts.queued == 1, record
    assert (await store.crawl_pages("c", None, 10)).items == []
    seed = await take(store)
    assert await store.finish_crawl_page(seed, fetched(seed))
    record = await store.get_crawl("c")
    assert record is not None and (record.state, record.counts.fetched) == ("done", 1), record


async def test_a_url_claimed_by_a_redirect_is_then_a_duplicate(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    assert await store.claim_crawl_url("c", f"{SITE}/target")
    assert not await store.claim_crawl_url("c", f"{SITE}/target")
    seed = await take(store)
    await store.finish_crawl_page(seed, fetched(seed, f"{SITE}/target"))
    record = await store.get_crawl("c")
    assert record is not None and record.counts.skipped["duplicate"] == 1 and record.state == "done"


async def test_a_crawl_job_every_worker_dies_with_ends_as_a_failed_page(backend: Backend) -> None:
    store = await backend.open(job_visibility_timeout=0.1)
    await store.create_crawl("c", spec(), [f"{SITE}/"])
    for _ in range(MAX_ATTEMPTS):
        store.forget(await take(store))
    assert await store.next_job("last", timeout=1.0) is None
    [page] = [event.body() for event in await events_of(store, "c") if event.type == "page"]
    assert page["error"]["code"] == "worker_lost"
    record = await store.get_crawl("c")
    assert record is not None and record.state == "done" and record.counts.failed == 1


async def test_crawls_are_listed_in_creation_order(store: Store) -> None:
    for name in ("x", "y", "z"):
        await store.create_crawl(name, spec(), [f"{SITE}/{name}"])
    first = await store.list_crawls(None, 2)
    assert [record.crawl_id for record in first.items] == ["x", "y"] and first.next is not None
    rest = await store.list_crawls(first.next, 2)
    assert [record.crawl_id for record in rest.items] == ["z"] and rest.next is None


async def test_a_crawl_s_pages_on_many_hosts_do_not_hold_up_a_client_s_url(store: Store) -> None:
    await store.create_crawl("c", spec(), [f"https://s{n}.example/" for n in range(30)])  # one flow: the crawl
    await store.submit("b", "https://z.example/", flow="client:b")  # a host named to come last among ties
    taken = [(await take(store)).request_id for _ in range(3)]
    assert "b" in taken[:2], taken


async def test_prune_drops_ended_crawls_older_than_its_cutoff_and_the_listing_reads_on(store: Store) -> None:
    """An ended crawl goes with its pages and visited set once older than --retain-days; one that runs stays. A
    cursor read before still reads on: in memory it was a position, and each crawl pruned hid one made after it."""
    for name in ("x", "y", "z"):
        await store.create_crawl(name, spec(), [f"{SITE}/{name}"])
    first = await store.list_crawls(None, 1)
    seed = await take(store)
    assert seed.request_id == "x"
    await store.finish_crawl_page(seed, fetched(seed))
    await store.cancel_crawl("y")
    assert len((await store.crawl_pages("x", None, 10)).items) == 1
    await store.prune(0.0, keep_events=1_000_000)
    assert await store.get_crawl("x") is not None, "a crawl that ended after the cutoff was pruned"
    await store.prune(time.time() + 60, keep_events=1_000_000)
    assert (await store.get_crawl("x"), await store.get_crawl("y")) == (None, None)
    assert (await store.crawl_pages("x", None, 10)).items == []
    rest = await store.list_crawls(first.next, 10)
    assert [record.crawl_id for record in rest.items] == ["z"] and rest.next is None
    again, created = await store.create_crawl("x", spec(), [f"{SITE}/x"])
    assert created and again.state == "queued" and again.counts.queued == 1
    assert [record.crawl_id for record in (await store.list_crawls(first.next, 10)).items] == ["z", "x"]


async def test_a_crawl_listing_cursor_read_before_a_prune_misses_no_crawl_made_after_it(store: Store) -> None:
    """On SQLite a new crawl took the rowid of the newest one pruned (the listing's cursor)."""
    for name in ("a", "b", "c"):
        await store.create_crawl(name, spec(), [f"{SITE}/{name}"])
        await store.cancel_crawl(name)
    first = await store.list_crawls(None, 1)
    await store.prune(time.time() + 60, keep_events=1_000_000)
    for name in ("x", "y", "z"):
        await store.create_crawl(name, spec(), [f"{SITE}/{name}"])
    assert [record.crawl_id for record in (await store.list_crawls(first.next, 10)).items] == ["x", "y", "z"]
