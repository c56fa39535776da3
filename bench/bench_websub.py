"""WebSub delivery latency: from a hub's POST to the callback until the ``feed.entry`` frame reaches a client.

One ``linkcast serve`` (SQLite, ``--public-url`` its own address), the test suite's hub and feed server
(``tests/support``), one feed subscribed to. The hub then delivers ``--pushes`` signed Atom documents, one every
``--interval`` seconds, each holding one new entry among the last ``--entries`` (so each is read and compared whole,
as a real delivery is). Measured side by side for each delivery: the hub's POST until the callback's 202 (the
baseline: one HTTP round trip to linkcast, its body read), and the POST until a WebSocket client has the entry's
frame (what a user sees). Their p50/p99 and the ratio of the medians are printed, and written with ``--json``.

Run: ``python -m bench.bench_websub [--pushes 500] [--interval 0.02] [--entries 20] [--json FILE]``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from tests.feeds.test_websub import ATOM, atom
from tests.support.feed_site import Feed, FeedServer
from tests.support.service import Service
from tests.support.websub_hub import WebSubHub


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def measure(pushes: int, interval: float, entries: int, scratch: Path) -> dict[str, Any]:
    site, hub = FeedServer(), WebSubHub()
    await site.start()
    await hub.start()
    # Pushes may bring --max-entries-per-poll entries every --feed-min-interval: room for every one sent here (the
    # bench measures latency, not that budget).
    budget = str(max(1000, pushes * entries))
    service = Service("--allow-private-networks", "--rate-limit", "0", "--feed-min-interval", "60",
                      "--max-entries-per-poll", budget,
                      store=f"sqlite:///{scratch}/bench.db", log_path=scratch / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    try:
        own = site.url("/feed")
        site.feed("/feed", Feed(atom("0", hub=hub.hub_url, own=own), content_type=ATOM))
        arrived: dict[str, float] = {}
        async with service.connect("request_id=bench") as ws:
            status, body = await service.call("PUT", "/feeds/bench", json={"url": own})
            assert status == 201, body
            await hub.wait_asked(1)

            async def receive() -> None:
                async for raw in ws:
                    frame = orjson.loads(raw)
                    if frame.get("type") == "feed.entry":
                        arrived[frame["entry_id"]] = time.perf_counter()

            receiver = asyncio.create_task(receive())
            answered, shown = [], []
            for n in range(1, pushes + 1):
                ids = [str(k) for k in range(max(1, n - entries + 1), n + 1)][::-1]
                document = atom(*ids, hub=hub.hub_url, own=own).encode()
                sent = time.perf_counter()
                assert await hub.deliver(own, document, ATOM) == 202
                answered.append(time.perf_counter() - sent)
                async with asyncio.timeout(10):
                    while f"urn:{n}" not in arrived:
                        await asyncio.sleep(0.0005)
                shown.append(arrived[f"urn:{n}"] - sent)
                await asyncio.sleep(interval)
            receiver.cancel()
        to_answer, to_frame = percentiles(answered), percentiles(shown)
        return {
            "pushes": pushes,
            "entries_per_delivery": entries,
            "post_to_202": to_answer,
            "post_to_frame": to_frame,
            "frame_over_202_p50": round(to_frame["p50_ms"] / to_answer["p50_ms"], 2),
        }
    finally:
        service.stop()
        await hub.stop()
        await site.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        figures = asyncio.run(measure(args.pushes, args.interval, args.entries, Path(scratch)))
    a, f = figures["post_to_202"], figures["post_to_frame"]
    print(f"{figures['pushes']} deliveries of {figures['entries_per_delivery']} entries each")
    print(f"hub POST -> 202:           p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms, max {a['max_ms']} ms")
    print(f"hub POST -> feed.entry:    p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms")
    print(f"frame / 202 at p50: {figures['frame_over_202_p50']}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
