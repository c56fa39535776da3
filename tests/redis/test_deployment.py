"""The whole scaled-out deployment on loopback: 2 API replicas (``linkcast serve --workers 0``), ``linkcast worker``
processes and one Redis. Clients on every replica see every request's terminal event exactly once, through a worker
killed mid-run and through a replica restarted mid-run."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.redis.deployment import Listener, WorkerProcess
from tests.support.service import Service
from tests.support.site import LocalSite

# Pages answer after a delay, so that the workers (not the submissions) are the bottleneck: the queue stays full and
# every worker holds jobs when one is killed.
PAGE_DELAY = 0.2
WORKER_TASKS = "16"
# Small, so that the jobs of the killed worker are reclaimed quickly.
VISIBILITY_TIMEOUT = "1.0"
SUBMIT_CONCURRENCY = 32


@dataclass
class Deployment:
    store_url: str
    prefix: str
    site: LocalSite
    tmp_path: Path
    replicas: list[Service] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)

    def flags(self) -> list[str]:
        return ["--redis-prefix", self.prefix, "--allow-private-networks", "--job-visibility-timeout",
                VISIBILITY_TIMEOUT, "--per-host-concurrency", "64", "--rate-limit", "0"]  # fmt: skip

    async def start(self, replicas: int, workers: int) -> None:
        self.replicas = [
            Service("--workers", "0", *self.flags(), store=self.store_url, log_path=self.tmp_path / f"replica{n}.log")
            for n in range(replicas)
        ]
        self.workers = [
            WorkerProcess(
                "--workers", WORKER_TASKS, *self.flags(), store=self.store_url, log_path=self.tmp_path / f"w{n}.log"
            )
            for n in range(workers)
        ]
        await asyncio.gather(*(r.start() for r in self.replicas), *(w.start() for w in self.workers))

    async def stop(self) -> None:
        await asyncio.gather(*(listener.close() for listener in self.listeners))
        for replica in self.replicas:
            replica.stop()
        await asyncio.gather(*(w.stop() for w in self.workers))

    def page_urls(self, request_ids: Iterable[str]) -> dict[str, str]:
        return slow_pages(self.site, request_ids)

    def listen(self, replica: Service, name: str) -> Listener:
        listener = Listener(replica, name)
        self.listeners.append(listener)
        listener.connect()
        return listener


def slow_pages(site: LocalSite, request_ids: Iterable[str]) -> dict[str, str]:
    """A page per request id, each answering after ``PAGE_DELAY`` with one link."""

    async def page(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(PAGE_DELAY)  # a slow page, not a wait for something
        return web.Response(text=f'<a href="/next{request.path}">next</a>', content_type="text/html")

    return {rid: site.route(f"/page/{rid}", page) for rid in request_ids}


@pytest.fixture
async def deployment(redis_url: str, redis_prefix: str, site: LocalSite, tmp_path: Path) -> AsyncIterator[Deployment]:
    running = Deployment(redis_url, redis_prefix, site, tmp_path)
    yield running
    await running.stop()


@pytest.fixture
async def inspector(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisStore]:
    """A store on the deployment's keys, to read the log and the records directly."""
    store = RedisStore(Settings(store=redis_url, redis_prefix=redis_prefix))
    await store.open()
    yield store
    await store.close()


async def submit_all(urls: dict[str, str], replicas: list[Service]) -> None:
    """PUT every URL, spreading them over ``replicas`` in turn; every one must be accepted."""
    limit = asyncio.Semaphore(SUBMIT_CONCURRENCY)
    async with aiohttp.ClientSession() as session:

        async def one(request_id: str, url: str, replica: Service) -> None:
            async with limit:
                status, body = await replica.put(request_id, url, session=session)
            assert status == 201, (request_id, status, body)

        await asyncio.gather(*(one(rid, url, r) for (rid, url), r in zip(urls.items(), itertools.cycle(replicas))))


async def assert_one_terminal_event_each(inspector: RedisStore, site: LocalSite, request_ids: set[str]) -> Counter[str]:
    """The log itself holds exactly one terminal event per request, each the page's result; returns starts per
    request."""
    events = await inspector.events_after(0, limit=100_000)
    terminal = [e for e in events if e.is_terminal]
    assert Counter(e.request_id for e in terminal) == Counter(dict.fromkeys(request_ids, 1))
    for event in terminal:
        assert event.body()["links"] == [site.url(f"/next/page/{event.request_id}")], event.json
    return Counter(e.request_id for e in events if e.type == "started")


async def test_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(
    deployment: Deployment, inspector: RedisStore
) -> None:
    await deployment.start(replicas=2, workers=2)
    listeners = [deployment.listen(replica, f"replica{n}-client{c}") for n, replica in enumerate(deployment.replicas)
                 for c in range(2)]  # fmt: skip
    for listener in listeners:
        await listener.wait_connected()
    urls = deployment.page_urls(f"r{n}" for n in range(500))
    ids = set(urls)

    submitting = asyncio.create_task(submit_all(urls, deployment.replicas))
    await listeners[0].wait_terminal(ids, count=100)
    victim = deployment.workers[0]
    victim.kill()
    await submitting
    for listener in listeners:
        await listener.wait_terminal(ids, timeout=90)

    # Log order is delivery order: once every client has the sentinel's result, any duplicate would have arrived.
    await submit_all(deployment.page_urls(["sentinel"]), deployment.replicas[:1])
    for listener in listeners:
        await listener.wait_terminal({"sentinel"})
        assert listener.terminal == Counter(dict.fromkeys([*ids, "sentinel"], 1)), listener.name

    starts = await assert_one_terminal_event_each(inspector, deployment.site, {*ids, "sentinel"})
    assert await inspector.queue_depth() == 0
    assert await inspector.redis.zcard(inspector.key("leases")) == 0, "no job is still leased"
    records = [await inspector.get_request(rid) for rid in ids]
    assert all(r is not None and r.state == "done" for r in records)
    reclaimed = [r.request_id for r in records if r is not None and r.attempts > 1]
    assert reclaimed, "the killed worker held no job: the kill did not land mid-run"
    print(  # the figures quoted in bench/README.md
        f"\nkill test: submitted {len(ids)}, clients {len(listeners)}, terminal events per client "
        f"{[sum(listener.terminal.values()) - 1 for listener in listeners]}, jobs redelivered after the kill "
        f"{len(reclaimed)}, started events {sum(starts.values())}, terminal events in the log {len(ids) + 1}"
    )


async def test_clients_of_a_restarted_replica_resume_with_since_and_miss_nothing(
    deployment: Deployment, inspector: RedisStore
) -> None:
    await deployment.start(replicas=2, workers=1)
    restarted, steady = deployment.replicas
    on_restarted, on_steady = deployment.listen(restarted, "restarted-client"), deployment.listen(steady, "steady")
    for listener in (on_restarted, on_steady):
        await listener.wait_connected()
    before, during, after = (deployment.page_urls(f"{phase}{n}" for n in range(100)) for phase in "bda")
    ids = {*before, *during, *after}

    await submit_all(before, deployment.replicas)
    await on_restarted.wait_terminal(set(before), count=30)
    restarted.stop()  # SIGTERM: the replica closes its clients' connections and exits
    await on_restarted.closed()
    resume_from = on_restarted.last_id
    await submit_all(during, [steady])  # events keep coming while the replica is down
    await restarted.start()
    missed_while_down = await inspector.last_event_id() - resume_from  # at least this many come from the replay
    on_restarted.connect(since=resume_from)
    await on_restarted.wait_connected()
    await submit_all(after, deployment.replicas)

    for listener in (on_restarted, on_steady):
        await listener.wait_terminal(ids, timeout=60)
    await assert_one_terminal_event_each(inspector, deployment.site, ids)
    last = await inspector.last_event_id()
    for listener in (on_restarted, on_steady):
        await listener.wait_terminal(ids)
        seen = [frame["id"] for frame in listener.frames]
        # Every event once, in order, none skipped: the ids seen are exactly 1, 2, ... up to the last one seen.
        assert seen == list(range(1, seen[-1] + 1)), listener.name
        assert seen[-1] <= last
        assert listener.terminal == Counter(dict.fromkeys(ids, 1)), listener.name
    assert resume_from < on_restarted.last_id
    assert missed_while_down > 0, "no event happened while the replica was down: nothing was replayed"
    print(
        f"\nrestart test: {len(ids)} requests, {seen[-1]} events; the restarted replica's client resumed with "
        f"since={resume_from} and was replayed at least {missed_while_down} events it missed while the replica was down"
    )
