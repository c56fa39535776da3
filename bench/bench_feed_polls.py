"""Feed polling at scale: conditional polls/s of linkcast beside a bare aiohttp loop, and what 10,000 feeds cost.

The server is ``bench/feed_farm.py``: ``--feeds`` small RSS feeds on ``--hosts`` loopback ports (each port a host of
its own to linkcast's politeness, which keys on ``host:port``); one feed in ten changes on every request (a 200 with
one new entry), the others answer 304 to the validators they sent.

1. **Polls/s** (``--rounds`` rounds, alternating): ``linkcast serve`` (SQLite) watching every feed, imported by
   OPML, with ``--feed-min-interval 0 --feed-max-interval 0 --feed-default-interval 0`` so that every feed is due
   again the moment its poll ends, ``--workers`` concurrent fetches and the default politeness (4 fetches at once
   per host, no delay: with 10,000 feeds on 100 hosts it never binds); then the bare loop (``bench/bare_polls.py``)
   at the same concurrency against the same server. Both counted by the server's own answers over ``--seconds``
   once every feed has been polled once; CPU of the poller (linkcast's process; the bench process for the loop)
   per poll beside it. With ``--redis``, each round then runs linkcast on a ``redis-server`` of its own too (emptied
   first), its CPU a poll beside linkcast's.
2. **Scale** (``bench/feed_scale.py``): RSS, idle CPU and store bytes of ``linkcast serve`` with every feed watched
   at the normal intervals, against an empty service; on SQLite, and on a Redis of its own with ``--redis``.

Run: ``python -m bench.bench_feed_polls [--feeds 10000] [--hosts 100] [--workers 32] [--seconds 40] [--rounds 2]
[--idle-seconds 60] [--redis] [--json FILE]``. Tiny, as the smoke test runs it: ``--feeds 200 --hosts 10
--workers 8 --seconds 1 --rounds 1 --idle-seconds 1``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from redis import Redis
from tests.support.redis import RedisServer
from tests.support.service import Service

from bench.bare_polls import poll_until
from bench.feed_farm import RunningFarm
from bench.feed_scale import import_feeds, measure_scale
from bench.processes import cpu_seconds
from bench.profile import Recording, summarise

IMPORT_TIMEOUT = 600.0


def say(message: str) -> None:
    print(f"[feed-polls {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def wait_warm(farm: RunningFarm, before: dict[str, int], feeds: int, cycles: int, timeout: float) -> None:
    """Until every feed has been polled once since ``before`` (each unchanging feed's ``first`` 200), then ``cycles``
    more polls of every feed's worth (so that the window sees the steady state, none of the first polls)."""
    deadline = time.monotonic() + timeout
    unchanging = farm.unchanging(feeds)
    target: int | None = None
    while True:
        now = await farm.counts()
        if target is None and now["first"] - before["first"] >= unchanging:
            target = sum(now.values()) + cycles * feeds
        if target is not None and sum(now.values()) >= target:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{feeds} feeds not all polled within {timeout} s: {now} (from {before})")
        await asyncio.sleep(0.2)


async def window(farm: RunningFarm, seconds: float, pid: int | None, store_pid: int | None = None) -> dict[str, Any]:
    """The farm's answers and the poller's CPU (``pid``, else this process) over ``seconds``; with ``store_pid``, the
    CPU of the store's own server (Redis) beside it."""

    def cpu() -> float:
        return cpu_seconds(pid) if pid is not None else time.process_time()

    threads_before = thread_cpu(pid) if pid is not None else {}
    store_before = cpu_seconds(store_pid) if store_pid is not None else 0.0
    before, cpu_before, farm_before, began = await farm.counts(), cpu(), farm.cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    after, cpu_after, farm_after = await farm.counts(), cpu(), farm.cpu_seconds()
    elapsed = time.monotonic() - began
    threads = thread_cpu(pid) if pid is not None else {}
    store_cpu = cpu_seconds(store_pid) - store_before if store_pid is not None else 0.0
    answers = {name: after[name] - before[name] for name in after}
    polls = sum(answers.values())
    return {
        "polls": polls,
        "polls_per_second": round(polls / elapsed, 1),
        "share_304": round(answers["304"] / polls, 3) if polls else 0.0,
        "first_answers": answers["first"],
        "other_answers": answers["other"],
        "cpu_ms_per_poll": round((cpu_after - cpu_before) * 1000 / polls, 3) if polls else 0.0,
        "poller_cpu_share": round((cpu_after - cpu_before) / elapsed, 2),
        "server_cpu_share": round((farm_after - farm_before) / elapsed, 2),
        "store_server_cpu_ms_per_poll": round(store_cpu * 1000 / polls, 3) if polls else 0.0,
        "thread_cpu_ms_per_poll": {
            name: round((spent - threads_before.get(name, 0.0)) * 1000 / polls, 3)
            for name, spent in sorted(threads.items(), key=lambda item: -item[1])
            if polls and spent - threads_before.get(name, 0.0) > 0.01
        },
    }


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the event loop's thread (``main``) and of all the others together (``threads``: SQLite's
    reader and writer, parsing in ``to_thread``)."""
    spent = {"main": 0.0, "threads": 0.0}
    with contextlib.suppress(psutil.Error):
        for thread in psutil.Process(pid).threads():
            spent["main" if thread.id == pid else "threads"] += thread.user_time + thread.system_time
    return spent


async def linkcast_polls(
    farm: RunningFarm, urls: list[str], args: argparse.Namespace, scratch: Path, redis: RedisServer | None = None
) -> dict[str, Any]:
    """linkcast polling every feed flat out, on a fresh SQLite file, or on ``redis`` emptied first."""
    if redis is not None:
        with Redis.from_url(redis.url) as client:
            client.flushall()
    store = redis.url if redis is not None else f"sqlite:///{scratch}/polls-{time.monotonic_ns()}.db"
    service = Service(
        "--allow-private-networks", "--rate-limit", "0", "--workers", str(args.workers),
        "--feed-min-interval", "0", "--feed-max-interval", "0", "--feed-default-interval", "0",
        "--max-request-bytes", str(16 * 1024 * 1024), store=store, log_path=scratch / "serve-polls.log",
    )  # fmt: skip
    store_pid = redis.process.pid if redis is not None and redis.process is not None else None
    await service.start()
    try:
        before = await farm.counts()
        async with aiohttp.ClientSession() as session:
            await import_feeds(session, service.base_url, urls, IMPORT_TIMEOUT)
        await wait_warm(farm, before, len(urls), 1, IMPORT_TIMEOUT)
        assert service.process is not None
        if not args.profile:
            return await window(farm, args.seconds, service.process.pid, store_pid)
        raw = scratch / f"profile-{time.monotonic_ns()}.raw"
        recording = Recording(service.process.pid, raw)
        try:
            figures = await window(farm, args.seconds, service.process.pid, store_pid)
        finally:
            recording.stop()
        figures["profile"] = summarise(raw) if raw.exists() and raw.stat().st_size else "py-spy recorded nothing"
        return figures
    finally:
        service.stop()


async def bare_polls(farm: RunningFarm, urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    stop = asyncio.Event()
    before = await farm.counts()
    loop = asyncio.create_task(poll_until(urls, args.workers, stop))
    try:
        await wait_warm(farm, before, len(urls), 1, IMPORT_TIMEOUT)
        return await window(farm, args.seconds, None)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 60)


async def one_round(
    number: int, farm: RunningFarm, urls: list[str], args: argparse.Namespace, scratch: Path, redis: RedisServer | None
) -> dict[str, Any]:
    """linkcast on SQLite, the bare loop, then (with ``redis``) linkcast on Redis; each ratio to the loop's polls/s."""
    say(f"round {number}: linkcast polling {len(urls)} feeds on {args.hosts} hosts")
    linkcast = await linkcast_polls(farm, urls, args, scratch)
    say(f"round {number}: linkcast {linkcast['polls_per_second']} polls/s; now the bare loop")
    bare = await bare_polls(farm, urls, args)
    ceiling = bare["polls_per_second"]
    figures = {"linkcast": linkcast, "bare": bare, "ratio": round(linkcast["polls_per_second"] / ceiling, 3)}
    say(f"round {number}: bare {ceiling} polls/s: ratio {figures['ratio']}")
    if redis is not None:
        on_redis = await linkcast_polls(farm, urls, args, scratch, redis)
        figures.update(linkcast_redis=on_redis, ratio_redis=round(on_redis["polls_per_second"] / ceiling, 3))
        say(f"round {number}: linkcast on Redis {on_redis['polls_per_second']} polls/s: ratio {figures['ratio_redis']}")
    return figures


async def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "feeds": args.feeds, "hosts": args.hosts, "workers": args.workers, "seconds": args.seconds,
        "load_at_start": os.getloadavg(),
    }  # fmt: skip
    redis = RedisServer() if args.redis else None
    async with RunningFarm(args.hosts, args.farm_processes, 10, scratch) as farm:
        urls = farm.urls(args.feeds)
        rounds = []
        try:
            if redis is not None:
                await asyncio.to_thread(redis.start)
            for round_number in range(1, args.rounds + 1):
                rounds.append(await one_round(round_number, farm, urls, args, scratch, redis))
        finally:
            if redis is not None:
                redis.remove()
        figures["rounds"] = rounds
        if not args.no_scale:
            say(f"scale: {len(urls)} feeds at normal intervals, SQLite" + (" and Redis" if args.redis else ""))
            figures["scale"] = await measure_scale(farm, urls, args.idle_seconds, args.redis, scratch, say)
    figures["load_at_end"] = os.getloadavg()
    return figures


def print_figures(figures: dict[str, Any]) -> None:
    load = f"load average {figures['load_at_start'][0]:.1f} at the start, {figures['load_at_end'][0]:.1f} at the end"
    print(f"{figures['feeds']} feeds on {figures['hosts']} hosts, {figures['workers']} concurrent polls, {load}")
    for n, round_figures in enumerate(figures["rounds"], 1):
        for name in ("linkcast", "bare", "linkcast_redis"):
            if name not in round_figures:
                continue
            f = round_figures[name]
            print(f"round {n} {name:14}: {f['polls_per_second']:>8} polls/s, {f['share_304']:.0%} 304, "
                  f"{f['cpu_ms_per_poll']} ms CPU a poll (poller at {f['poller_cpu_share']:.0%} of a core, "
                  f"server at {f['server_cpu_share']:.0%})")  # fmt: skip
        print(f"round {n} linkcast CPU ms a poll by thread: {round_figures['linkcast']['thread_cpu_ms_per_poll']}")
        print(f"round {n} linkcast / bare: {round_figures['ratio']}x")
        if "ratio_redis" in round_figures:
            redis_cpu = round_figures["linkcast_redis"]["store_server_cpu_ms_per_poll"]
            print(f"round {n} linkcast on Redis / bare: {round_figures['ratio_redis']}x (Redis: {redis_cpu} ms a poll)")
        if "profile" in round_figures["linkcast"]:
            print(round_figures["linkcast"]["profile"])
    for store, s in figures.get("scale", {}).items():
        print(f"{store}: RSS empty {s['rss_empty_mb']} MB, after polling every feed {s['rss_loaded_mb']} MB, "
              f"restarted with them {s['rss_restarted_mb']} MB: {s['rss_bytes_per_feed']} bytes a feed; idle CPU "
              f"{s['idle_cpu_s_per_min_empty']} s/min empty, {s['idle_cpu_s_per_min_loaded']} s/min with the feeds; "
              f"store {s['store_bytes_per_feed']} bytes a feed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100, help="ports the feeds are spread over (default 100)")
    parser.add_argument("--workers", type=int, default=32, help="linkcast --workers = the bare loop's concurrency")
    parser.add_argument(
        "--seconds", type=float, default=40.0, help="measured window of each poller (default 40: every feed polled)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="linkcast then bare, this many times (default 2)")
    parser.add_argument("--farm-processes", type=int, default=2, help="processes serving the feeds (default 2)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window (default 60)")
    parser.add_argument("--redis", action="store_true", help="the scale figures on Redis too (redis-server needed)")
    parser.add_argument("--no-scale", action="store_true", help="polls/s only")
    parser.add_argument("--profile", action="store_true", help="py-spy on linkcast during its windows (slows it)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linkcast-feed-polls-") as scratch:
        figures = asyncio.run(measure(args, Path(scratch)))
    print_figures(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
