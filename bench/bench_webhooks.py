"""Webhook delivery: how many deliveries a second reach a local receiver, and how much later than the WebSocket
frame of the same event a webhook arrives.

One ``linkcast serve`` (SQLite, 8 workers) and the test suite's receiver (``tests/support/webhook_receiver.py``) on
loopback, answering 200 at once. Three measures, each beside its baseline:

- throughput, one endpoint: ``--events`` ``accepted`` events (one batch POST /urls of pages that answer at once),
  delivered in order to one endpoint; the baseline is the same bodies POSTed one after another by a bare aiohttp
  client (what in-order delivery to one endpoint can do at best over loopback). The receiver holds the first
  delivery until every page is fetched, so that what is timed is delivery alone, from its release to the last.
- throughput, ``--endpoints`` endpoints taking the same events: deliveries a second in all (held the same way).
- latency: ``--latency-events`` requests submitted ``--interval`` apart; for each ``result`` event, when the
  webhook arrived minus when a WebSocket client received the frame (the extra latency of a webhook), p50 and p99.

Run: ``python -m bench.bench_webhooks [--events 2000] [--endpoints 8] [--latency-events 200] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tests.support.service import Service
from tests.support.webhook_receiver import WebhookReceiver

from bench.bench_websub import percentiles

TIMEOUT = 300.0


async def endpoint(service: Service, name: str, url: str, events: list[str]) -> None:
    status, body = await service.call("PUT", f"/webhooks/{name}", json={"url": url, "events": events})
    assert status == 201, body


async def submit_batch(service: Service, receiver: WebhookReceiver, count: int, tag: str) -> None:
    for start in range(0, count, 1000):
        urls = [receiver.url("/page") + f"?{tag}{n}" for n in range(start, min(count, start + 1000))]
        status, body = await service.call("POST", "/urls", json={"urls": urls})
        assert status == 200, body


async def pages_done(service: Service) -> None:
    """Wait until no request is queued or running (the pages' fetches would compete with delivery)."""
    async with asyncio.timeout(TIMEOUT):
        for state in ("queued", "running"):
            while (await service.call("GET", f"/urls?state={state}&limit=1"))[1]["requests"]:
                await asyncio.sleep(0.1)


async def rate(service: Service, receiver: WebhookReceiver, paths: list[str], each: int, gate: asyncio.Event) -> float:
    """Deliveries a second, from the release of the held first deliveries to the last of ``each`` per path."""
    await receiver.wait_for(lambda: all(len(receiver.at(p)) >= 1 for p in paths), timeout=TIMEOUT)
    await pages_done(service)
    released = time.perf_counter()
    gate.set()
    await receiver.wait_for(lambda: all(len(receiver.at(p)) >= each for p in paths), timeout=TIMEOUT)
    got = [r.arrived for p in paths for r in receiver.at(p)]
    return (len(got) - len(paths)) / max(1e-9, max(got) - released)


async def baseline_rate(receiver: WebhookReceiver, bodies: list[bytes]) -> float:
    url = receiver.answer("/baseline")
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
        return len(bodies) / (time.perf_counter() - started)


async def latency(service: Service, receiver: WebhookReceiver, count: int, interval: float) -> list[float]:
    await endpoint(service, "latency", receiver.answer("/latency"), ["result"])
    framed: dict[int, float] = {}
    async with service.connect() as ws:

        async def receive() -> None:
            async for raw in ws:
                frame = orjson.loads(raw)
                if frame.get("type") == "result":
                    framed[frame["id"]] = time.perf_counter()

        reading = asyncio.create_task(receive())
        for n in range(count):
            status, body = await service.put(f"lat{n}", receiver.url("/page") + f"?lat{n}")
            assert status == 201, body
            await asyncio.sleep(interval)
        await receiver.wait_for(lambda: len(receiver.at("/latency")) >= count, timeout=TIMEOUT)
        async with asyncio.timeout(30):
            while len(framed) < count:
                await asyncio.sleep(0.01)
        reading.cancel()
    hooked = {int(r.webhook_id.rsplit("_", 1)[1]): r.arrived for r in receiver.at("/latency")}
    return [hooked[event_id] - at for event_id, at in framed.items() if event_id in hooked]


async def measure(events: int, endpoints: int, latency_events: int, interval: float, scratch: Path) -> dict[str, Any]:
    receiver = WebhookReceiver()
    receiver.page("/page", "<a href='/next'>next</a>")
    await receiver.start()
    service = Service("--allow-private-networks", "--rate-limit", "0", "--workers", "8",
                      "--per-host-concurrency", "64", store=f"sqlite:///{scratch}/bench.db",
                      log_path=scratch / "serve.log")  # fmt: skip
    await service.start()
    try:
        gate = asyncio.Event()
        receiver.hold("/one", 1, gate)
        await endpoint(service, "one", receiver.answer("/one"), ["accepted"])
        await submit_batch(service, receiver, events, "a")
        one = await rate(service, receiver, ["/one"], events, gate)
        baseline = await baseline_rate(receiver, [r.body for r in receiver.at("/one")])
        await service.call("DELETE", "/webhooks/one")
        paths, gate = [f"/many{n}" for n in range(endpoints)], asyncio.Event()
        for n, path in enumerate(paths):
            receiver.hold(path, 1, gate)
            await endpoint(service, f"many{n}", receiver.answer(path), ["accepted"])
        await submit_batch(service, receiver, events, "b")
        many = await rate(service, receiver, paths, events, gate)
        for n in range(endpoints):
            await service.call("DELETE", f"/webhooks/many{n}")
        extra = percentiles(await latency(service, receiver, latency_events, interval))
        return {
            "events": events,
            "one_endpoint_per_s": round(one, 1),
            "baseline_bare_client_per_s": round(baseline, 1),
            "one_endpoint_over_baseline": round(one / baseline, 3),
            "endpoints": endpoints,
            "all_endpoints_per_s": round(many, 1),
            "latency_events": latency_events,
            "extra_latency_over_websocket": extra,
        }
    finally:
        service.stop()
        await receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        figures = asyncio.run(measure(args.events, args.endpoints, args.latency_events, args.interval, Path(scratch)))
    e = figures["extra_latency_over_websocket"]
    print(f"one endpoint: {figures['one_endpoint_per_s']} deliveries/s "
          f"(a bare client POSTing the same bodies in turn: {figures['baseline_bare_client_per_s']}/s, "
          f"ratio {figures['one_endpoint_over_baseline']})")  # fmt: skip
    print(f"{figures['endpoints']} endpoints: {figures['all_endpoints_per_s']} deliveries/s in all")
    print(f"webhook after the WebSocket frame: p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, max {e['max_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
