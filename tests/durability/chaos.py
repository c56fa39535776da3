"""Kills at random moments while everything runs at once: a crawl, a batch of single URLs, feeds (followed ones, one
that gains entries between polls) and a webhook endpoint, then the promise checked from what is left: the event log
replayed from the start, the API's records, and what the site and the webhook receiver saw.

``run_sqlite`` SIGKILLs one ``linkcast serve`` (while it runs, while it starts, while it drains after SIGTERM) and
restarts it each time; ``run_redis`` SIGKILLs ``linkcast worker`` processes of a ``--workers 0`` deployment and starts
new ones. Every random choice comes from one ``random.Random(seed)``: a failing seed is a reproducible one (as far as
the machine's timing allows).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.redis.deployment import WorkerProcess
from tests.support.crawl_site import CrawlSite, TreeSite
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until
from tests.support.webhook_receiver import WebhookReceiver

CRAWL_PAGES = 40
SINGLES = 30
BATCH = 10
OWN_WEBHOOKS = 5  # the first singles each name a webhook of their own
GRAPH_PAGES = {"/", "/a", "/b", "/c", "/broken", "/a/deep", "/a/deep/deeper", "/b1", "/b2", "/slow", "/after-slow"}
FEED_FLAGS = ["--feed-min-interval", "0.3", "--feed-max-interval", "2", "--feed-default-interval", "0.4"]
FLAGS = ["--allow-private-networks", "--rate-limit", "0", "--workers", "6", "--per-host-concurrency", "16",
         "--webhook-retry-base", "0.05", "--job-visibility-timeout", "1", *FEED_FLAGS]  # fmt: skip
TERMINAL = ("result", "error")
SETTLE_TIMEOUT = 90.0


@dataclass
class Sites:
    """The local sites the scenario fetches, and what they saw."""

    tree: TreeSite
    slow_tree: TreeSite
    graph: CrawlSite
    feeds: FeedServer
    receiver: WebhookReceiver
    growing: Feed = field(default_factory=lambda: Feed(rss(("g0", "G0"))))
    growing_ids: list[str] = field(default_factory=lambda: ["g0"])
    single_hits: Counter[str] = field(default_factory=Counter)
    batch_ids: list[str] = field(default_factory=list)  # ids the server chose for the batch
    kept: set[str] = field(default_factory=set)  # ids PUT while the kills go on, each once answered 200 or 201
    cancel_found: str = "cancelled"  # the state DELETE /crawls/cancelled answered

    async def start(self) -> None:
        for n in range(SINGLES + BATCH):
            self.tree.route(f"/s/{n}", self._single)
        self.feeds.feed("/plain.xml", Feed(rss(("a", "A"), ("b", "B"), ("c", "C"))))
        self.feeds.feed("/follow.xml", Feed(rss(("x", "X"), ("y", "Y"), ("z", "Z"))))
        self.feeds.feed("/growing.xml", self.growing)
        for guid in ("x", "y", "z"):
            self.feeds.page(f"/entry/{guid}", f'<a href="/inside/{guid}">in</a>')
        self.receiver.answer("/hook", 503, first=4)  # down at first: deliveries wait, retried, across kills
        self.receiver.answer("/own", 200)
        self.feeds.feed("/removed.xml", Feed(rss(("r", "R"))))
        sites = (self.tree, self.slow_tree, self.graph, self.feeds, self.receiver)
        await asyncio.gather(*(site.start() for site in sites))

    async def stop(self) -> None:
        sites = (self.tree, self.slow_tree, self.graph, self.feeds, self.receiver)
        await asyncio.gather(*(site.stop() for site in sites))

    async def _single(self, request: web.Request) -> web.StreamResponse:
        self.single_hits[request.path] += 1
        await asyncio.sleep(0.3 + int(request.path.rsplit("/", 1)[1]) % 5 * 0.3)
        return web.Response(text=f'<a href="{request.path}/child">c</a>', content_type="text/html")

    def grow(self) -> None:
        """One more entry in the growing feed, ahead of the others (as a blog publishes)."""
        self.growing_ids.append(f"g{len(self.growing_ids)}")
        self.growing.update(rss(*((guid, guid.upper()) for guid in reversed(self.growing_ids))))


def new_sites() -> Sites:
    return Sites(
        TreeSite(CRAWL_PAGES, delay=0.4), TreeSite(200, delay=0.5), CrawlSite(slow_seconds=1.0), FeedServer(),
        WebhookReceiver(),
    )  # fmt: skip


async def submit_everything(service: Service, sites: Sites) -> None:
    """The webhook endpoint first (it sees every event), then the feeds, the crawl and the singles."""
    status, _ = await service.call("PUT", "/webhooks/h", json={"url": sites.receiver.url("/hook")})
    assert status == 201, status
    for feed_id, path, follow in (("plain", "/plain.xml", False), ("fol", "/follow.xml", True),
                                  ("grow", "/growing.xml", False), ("removed", "/removed.xml", False)):  # fmt: skip
        options: dict[str, Any] = {"url": sites.feeds.url(path)}
        if follow:
            options["follow"] = True
        status, body = await service.call("PUT", f"/feeds/{feed_id}", json=options)
        assert status == 201, body
    crawl = {"url": sites.tree.url("/p/0"), "max_depth": 20, "max_pages": 1000, "respect_robots": False}
    status, body = await service.call("PUT", "/crawls/tree", json=crawl)
    assert status == 201, body
    doomed = {"url": sites.slow_tree.url("/p/0"), "max_depth": 20, "max_pages": 1000, "respect_robots": False}
    status, body = await service.call("PUT", "/crawls/cancelled", json=doomed)
    assert status == 201, body
    graph = {"url": sites.graph.url("/"), "max_depth": 3, "exclude": ["/calendar/*"]}
    status, body = await service.call("PUT", "/crawls/graph", json=graph)
    assert status == 201, body
    for n in range(SINGLES):
        payload: dict[str, Any] = {"url": sites.tree.url(f"/s/{n}")}
        if n < OWN_WEBHOOKS:
            payload["webhook"] = {"url": sites.receiver.url("/own")}
        status, body = await service.call("PUT", f"/urls/s{n}", json=payload)
        assert status == 201, body
    batch = [sites.tree.url(f"/s/{n}") for n in range(SINGLES, SINGLES + BATCH)]
    status, body = await service.call("POST", "/urls", json={"urls": batch})
    assert status == 200, body
    sites.batch_ids = [answer["request_id"] for answer in body["results"]]
    assert len(sites.batch_ids) == BATCH


async def keep_submitting(service: Service, sites: Sites, stop: asyncio.Event) -> None:
    """PUT new requests while the kills go on, each retried (the same id, as a client whose answer was lost does)
    until it is answered 200 or 201: a PUT cut by a kill may or may not have been accepted, its retry tells."""
    n = 0
    while not stop.is_set():
        url = sites.tree.url(f"/s/{n % (SINGLES + BATCH)}")
        while True:
            try:
                status, body = await service.put(f"k{n}", url)
            except (aiohttp.ClientError, TimeoutError):
                status, body = 0, None
            if status in (200, 201):
                sites.kept.add(f"k{n}")
                break
            assert status in (0, 503), (status, body)  # the service going away, or draining
            await asyncio.sleep(0.05)
        n += 1
        await asyncio.sleep(0.1)


async def replay(service: Service, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    async with service.connect("since=0") as ws:
        return await receive_until(ws, done, SETTLE_TIMEOUT)


def settled(sites: Sites) -> Callable[[list[dict[str, Any]]], bool]:
    """Everything submitted has its outcome in ``frames``."""

    def done(frames: list[dict[str, Any]]) -> bool:
        terminal = {f["request_id"] for f in frames if f.get("type") in TERMINAL}
        entries = {(f["request_id"], f.get("entry_id")) for f in frames if f.get("type") == "feed.entry"}
        followed = {f.get("entry_id") for f in frames if f.get("type") in TERMINAL and f.get("feed_id") == "fol"}
        return (
            {f"s{n}" for n in range(SINGLES)} | set(sites.batch_ids) | sites.kept <= terminal
            and {f["request_id"] for f in frames if f.get("type") == "crawl.done"} == {"tree", "graph", "cancelled"}
            and {("grow", guid) for guid in sites.growing_ids} <= entries
            and {("plain", g) for g in "abc"} | {("fol", g) for g in "xyz"} <= entries
            and followed >= set("xyz")
        )

    return done


async def check(service: Service, sites: Sites, frames: list[dict[str, Any]], kills: int) -> list[str]:
    """Every broken invariant, as a sentence (empty: the promise held)."""
    faults: list[str] = []
    terminal = Counter(f["request_id"] for f in frames if f.get("type") in TERMINAL)
    faults += [f"{rid}: {n} terminal events" for rid, n in terminal.items() if n != 1]
    accepted = {f["request_id"] for f in frames if f.get("type") == "accepted"}
    faults += [f"{rid}: accepted, no terminal event" for rid in accepted - set(terminal)]
    ids = [f["id"] for f in frames if "id" in f]
    if ids != sorted(set(ids)):
        faults.append("event ids not strictly increasing in the replay")

    seen = set()
    for f in frames:
        rid = f.get("request_id")
        if f.get("type") in TERMINAL:
            seen.add(rid)
        elif f.get("type") == "started" and rid in seen:
            faults.append(f"{rid}: started again after its terminal event (event {f['id']})")
    pages = Counter(f["url"] for f in frames if f.get("type") == "page" and f["request_id"] != "cancelled")
    faults += [f"crawl page {url}: {n} page events" for url, n in pages.items() if n != 1]
    graph_pages = {sites.graph.url(path) for path in GRAPH_PAGES}
    expected = sites.tree.all_urls() | graph_pages
    # A page given up after MAX_ATTEMPTS kills (worker_lost) has no links: what only it led to is not crawled.
    lost = [f["url"] for f in frames if f.get("type") == "page" and f.get("error", {}).get("code") == "worker_lost"]
    if set(pages) - expected or (not lost and set(pages) != expected):
        faults.append(f"crawl pages differ: {sorted(set(pages) ^ expected)} (given up: {lost})")
    faults += ended_for_good(frames, sites.cancel_found)
    _, crawl = await service.call("GET", "/crawls/cancelled")
    if crawl.get("state") != sites.cancel_found:
        faults.append(f"GET /crawls/cancelled: {crawl}")
    status, _ = await service.call("GET", "/feeds/removed")
    if status != 404:
        faults.append(f"GET /feeds/removed: {status}")
    dones = Counter(f["request_id"] for f in frames if f.get("type") == "crawl.done")
    if dones != {"tree": 1, "graph": 1, "cancelled": 1}:
        faults.append(f"crawl.done events: {dones}")
    tree_done = [f["counts"] for f in frames if f.get("type") == "crawl.done" and f["request_id"] == "tree"]
    if tree_done and tree_done[0].get("fetched") != CRAWL_PAGES and not lost:
        faults.append(f"crawl.done counts {tree_done[0]}")
    for crawl_id in ("tree", "graph"):
        _, crawl = await service.call("GET", f"/crawls/{crawl_id}")
        if crawl.get("state") != "done":
            faults.append(f"GET /crawls/{crawl_id}: {crawl}")
    started = Counter(f["url"] for f in frames if f.get("type") == "started")
    for path, hits in sites.single_hits.items():  # a page is fetched once per attempt at most, never after its end
        if hits > started[sites.tree.url(path)]:
            faults.append(f"{path}: fetched {hits} times in {started[sites.tree.url(path)]} attempts")

    for request_id in [f"s{n}" for n in range(SINGLES)] + sites.batch_ids + sorted(sites.kept):
        _, record = await service.call("GET", f"/urls/{request_id}")
        if record.get("state") not in ("done", "failed"):
            faults.append(f"GET /urls/{request_id}: {record.get('state')}")

    entries = Counter((f["request_id"], f.get("entry_id")) for f in frames if f.get("type") == "feed.entry")
    faults += [f"feed entry {key}: sent {n} times" for key, n in entries.items() if n != 1]
    expected = {"plain": ["a", "b", "c"], "fol": ["x", "y", "z"], "grow": sites.growing_ids}
    for feed_id, guids in expected.items():
        _, listed = await service.call("GET", f"/feeds/{feed_id}/entries?limit=100")
        got = sorted(e["entry_id"] for e in listed.get("entries", []))
        if got != sorted(guids):
            faults.append(f"GET /feeds/{feed_id}/entries: {got}, expected {sorted(guids)}")
    followed = Counter(f.get("entry_id") for f in frames if f.get("type") in TERMINAL and f.get("feed_id") == "fol")
    faults += [f"followed entry {guid}: {n} terminal events" for guid, n in followed.items() if n != 1]

    faults += await check_webhooks(sites, frames, kills)
    own = {f"s{n}" for n in range(OWN_WEBHOOKS)}
    try:
        await sites.receiver.wait_for(lambda: own <= {_request_of(r) for r in sites.receiver.at("/own")}, 20)
    except (TimeoutError, AssertionError):
        faults.append(f"own webhooks: {sorted(_request_of(r) for r in sites.receiver.at('/own'))}")
    faults += await polled_again(service, sites)
    return faults


def _request_of(received: Any) -> str:
    return str(orjson.loads(received.body).get("request_id"))


async def polled_again(service: Service, sites: Sites) -> list[str]:
    """Each feed's poll job outlived the kills: every feed is polled again after everything settled."""
    faults = []
    for feed_id, path in (("plain", "/plain.xml"), ("fol", "/follow.xml"), ("grow", "/growing.xml")):
        try:
            await sites.feeds.wait_requests(path, len(sites.feeds.requests_to(path)) + 1, timeout=15)
        except TimeoutError:
            _, record = await service.call("GET", f"/feeds/{feed_id}")
            faults.append(f"feed {feed_id} not polled again: {record}")
    return faults


WEBHOOK_TYPES = ("result", "error", "page", "crawl.done", "feed.entry")


async def check_webhooks(sites: Sites, frames: list[dict[str, Any]], kills: int) -> list[str]:
    wanted = {f"msg_h_{f['id']}" for f in frames if f.get("type") in WEBHOOK_TYPES}
    with contextlib.suppress(TimeoutError, AssertionError):
        await sites.receiver.wait_for(lambda: wanted <= {r.webhook_id for r in sites.receiver.at("/hook")}, 30)
    got = Counter(r.webhook_id for r in sites.receiver.at("/hook"))
    faults = [f"webhook deliveries missing: {len(wanted - set(got))} of {len(wanted)}"] if wanted - set(got) else []
    if set(got) - wanted:
        faults.append(f"webhook deliveries of no such event: {sorted(set(got) - wanted)[:5]}")
    twice = {i: n for i, n in got.items() if n > 1}
    # A delivery in flight at a kill is sent again (with the same webhook-id): at most one per kill, per worker.
    if len(twice) > kills * 6:
        faults.append(f"{len(twice)} deliveries sent more than once after {kills} kills: {twice}")
    return faults


def stats(sites: Sites, frames: list[dict[str, Any]]) -> str:
    """What happened, in figures: how much was redone because of the kills."""
    types = Counter(f.get("type") for f in frames)
    refetched = sum(n > 1 for n in sites.tree.requests.values()) + sum(n > 1 for n in sites.single_hits.values())
    resent = sum(n > 1 for n in Counter(r.webhook_id for r in sites.receiver.at("/hook")).values())
    restarted = sum(1 for f in frames if f.get("type") == "started" and f.get("attempt", 1) > 1)
    return f"events={dict(types)} refetched={refetched} webhooks_resent={resent} reruns={restarted}"


def tracebacks(log: Path) -> list[str]:
    if not log.exists():
        return []
    text = log.read_text(errors="replace")
    return [f"traceback in {log.name}: ...{text[max(0, i - 300) : i + 1500]}" for i in _find_all(text, "Traceback")]


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


async def cancel_and_remove(service: Service, sites: Sites) -> None:
    """Mid-way, among the kills: a crawl cancelled, a feed removed (each must end at once, and stay ended)."""
    status, body = await service.call("DELETE", "/crawls/cancelled")
    assert status == 200, body
    sites.cancel_found = body["state"]  # "done" if its pages were given up (worker_lost) before: left as it is
    status, body = await service.call("DELETE", "/feeds/removed")
    assert status in (200, 204), body


def ended_for_good(frames: list[dict[str, Any]], cancelled_state: str) -> list[str]:
    """The cancelled crawl and the removed feed: one end each, and nothing of theirs after it."""
    faults = []
    for rid, end in (("cancelled", "crawl.done"), ("removed", "feed.removed")):
        mine = [f for f in frames if f.get("request_id") == rid]
        ends = [n for n, f in enumerate(mine) if f["type"] == end]
        if len(ends) != 1:
            faults.append(f"{rid}: {len(ends)} {end} events")
        elif ends[0] != len(mine) - 1:
            faults.append(f"{rid}: events after its {end}: {[f['type'] for f in mine[ends[0] + 1 :]]}")
        elif rid == "cancelled" and mine[ends[0]]["state"] != cancelled_state:
            faults.append(f"cancelled: {mine[ends[0]]}")
    return faults


async def kill_once(service: Service, rng: random.Random, log: list[str], pace: float) -> None:
    """One SIGKILL at a random moment (within ``pace`` seconds) of one of three kinds, then a start that must
    succeed."""
    kind = rng.choice(("running", "running", "startup", "shutdown"))
    delay = rng.uniform(0.0, pace)
    if kind == "running":
        await asyncio.sleep(delay)
        service.kill()
    elif kind == "shutdown":
        await asyncio.sleep(delay)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(rng.uniform(0.0, pace / 2))
        service.kill()
    else:
        service.kill()
        with open(service.log_path or "/dev/null", "ab") as out:
            service.process = subprocess.Popen(service.command(), env=service.env, stdout=out, stderr=out)
        await asyncio.sleep(rng.uniform(0.0, pace * 1.25))
        service.kill()
    log.append(f"{kind}@{delay:.2f}")
    await service.start()


async def scenario(
    service: Service, sites: Sites, kills: int, kill: Callable[[int], Awaitable[None]], done: list[str]
) -> list[str]:
    """Everything submitted, then ``kills`` kills (``kill(n)``) while a client keeps submitting and feeds grow, with a
    crawl cancelled and a feed removed half-way; then the whole log replayed and checked: the faults found."""
    await submit_everything(service, sites)
    stop_submitting = asyncio.Event()
    submitting = asyncio.create_task(keep_submitting(service, sites, stop_submitting))
    for n in range(kills):
        if n % 2 == 0 and len(sites.growing_ids) < 6:
            sites.grow()
        if n == kills // 2:
            await cancel_and_remove(service, sites)
        await kill(n)
    sites.grow()
    stop_submitting.set()
    await asyncio.wait_for(submitting, 30)
    frames = await replay(service, settled(sites))
    faults = await check(service, sites, frames, kills)
    done.append(stats(sites, frames))
    return faults


async def run_sqlite(tmp_path: Path, seed: int, kills: int, pace: float = 1.2) -> tuple[list[str], list[str]]:
    """The scenario on SQLite with ``kills`` random SIGKILLs; returns (faults, what was done)."""
    rng = random.Random(seed)
    sites = new_sites()
    await sites.start()
    service = Service(*FLAGS, store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log")
    done: list[str] = []
    try:
        await service.start()

        async def kill(_n: int) -> None:
            await kill_once(service, rng, done, pace)

        faults = await scenario(service, sites, kills, kill, done)
    finally:
        service.stop()
        await sites.stop()
    faults += tracebacks(tmp_path / "serve.log")
    return faults, done


async def run_redis(
    tmp_path: Path, seed: int, kills: int, redis_url: str, redis_prefix: str, pace: float = 1.2
) -> tuple[list[str], list[str]]:
    """The scenario on Redis: one ``serve --workers 0`` and two ``linkcast worker``; workers SIGKILLed at random."""
    rng = random.Random(seed)
    sites = new_sites()
    await sites.start()
    flags = [*FLAGS, "--redis-prefix", redis_prefix]
    replica = Service(*flags, store=redis_url, log_path=tmp_path / "replica.log")
    replica.flags[replica.flags.index("--workers") + 1] = "0"
    made = 0

    def worker() -> WorkerProcess:
        nonlocal made
        made += 1
        return WorkerProcess(*flags, store=redis_url, log_path=tmp_path / f"w{made}.log")

    workers = [worker(), worker()]
    done: list[str] = []
    try:
        await replica.start()
        await asyncio.gather(*(w.start() for w in workers))

        async def kill(n: int) -> None:
            await asyncio.sleep(rng.uniform(0.1, pace * 1.25))
            victim = rng.randrange(len(workers))
            kind = rng.choice(("kill", "kill", "drain", "replica"))
            if kind == "replica":  # the API replica: it runs no job, but it is where work is accepted and listed
                replica.kill()
                await replica.start()
                done.append(f"replica@{n}")
                return
            if kind == "drain":
                assert workers[victim].process is not None
                workers[victim].process.send_signal(signal.SIGTERM)
                await asyncio.sleep(rng.uniform(0.0, pace))
            with contextlib.suppress(ProcessLookupError):  # drained and gone before the kill
                workers[victim].kill()
            await workers[victim].stop()
            done.append(f"worker{victim}-{kind}@{n}")
            if rng.random() < 0.3:  # one killed while it starts (before or after it takes jobs)
                starting = worker()
                assert starting.process is None
                start = asyncio.ensure_future(starting.start())
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                if starting.process is not None:
                    starting.kill()
                await asyncio.gather(start, return_exceptions=True)
                await starting.stop()
                done.append("a starting worker")
            workers[victim] = worker()
            await workers[victim].start()

        faults = await scenario(replica, sites, kills, kill, done)
    finally:
        replica.stop()
        for w in workers:
            await w.stop()
        await sites.stop()
    for log in sorted(tmp_path.glob("*.log")):
        faults += tracebacks(log)
    return faults, done
