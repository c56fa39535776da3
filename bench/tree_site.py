"""A site whose crawl queues many URLs at once and holds them queued until told to go on; and another host's page.

``python -m bench.tree_site --port P --hubs H --per-hub N --page PAGE.html`` serves on 127.0.0.1:P both of these (the
bench runs one process on port A, for host A, and another on port B, for host B: a server busy with A's crawl must
not slow B's page, which would measure the site's queue, not linkcast's):

- on port A, host A: ``/`` links to ``H`` hub pages ``/h/<i>``, each linking to ``N`` leaves ``/l/<i>/<j>``: a crawl
  of depth 2 admits ``H * N`` leaves as soon as the hubs are read. A leaf waits until ``POST /release`` has been
  called (``POST /hold`` makes them wait again), then answers a small page without links, so that a crawl holds
  every leaf queued (its first few in flight) for as long as the bench measures it, and then runs through them as
  fast as the service can. ``/robots.txt`` allows everything.
- on port B, host B (another ``host:port``, so another host to the scheduler): ``/page.html``, the file ``PAGE``
  (a page of the generated site), whose latency the bench measures while host A is crawled.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

LEAF = b"<!DOCTYPE html><title>leaf</title><p>a leaf of the tree site</p>\n"
ROBOTS = b"User-agent: *\nAllow: /\n"


def tree_app(hubs: int, per_hub: int, other_page: bytes) -> web.Application:
    released = asyncio.Event()
    html = {"Content-Type": "text/html; charset=utf-8"}
    seed = "".join(f'<a href="/h/{i}">{i}</a>\n' for i in range(hubs)).encode()

    async def root(_request: web.Request) -> web.Response:
        return web.Response(body=seed, headers=html)

    async def hub(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        links = "".join(f'<a href="/l/{i}/{j}">{j}</a>\n' for j in range(per_hub))
        return web.Response(body=links.encode(), headers=html)

    async def leaf(_request: web.Request) -> web.Response:
        await released.wait()
        return web.Response(body=LEAF, headers=html)

    async def release(_request: web.Request) -> web.Response:
        released.set()
        return web.Response(text="released")

    async def hold(_request: web.Request) -> web.Response:
        released.clear()  # the next crawl's leaves wait again
        return web.Response(text="held")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(body=ROBOTS, content_type="text/plain")

    async def other(_request: web.Request) -> web.Response:
        return web.Response(body=other_page, headers=html)

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/h/{i}", hub)
    app.router.add_get("/l/{i}/{j}", leaf)
    app.router.add_post("/release", release)
    app.router.add_post("/hold", hold)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/page.html", other)
    return app


async def serve(port: int, hubs: int, per_hub: int, page: Path) -> None:
    runner = web.AppRunner(tree_app(hubs, per_hub, page.read_bytes()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="serve the tree site (host A) and one page (host B) on loopback")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hubs", type=int, required=True)
    parser.add_argument("--per-hub", type=int, required=True)
    parser.add_argument("--page", type=Path, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.hubs, args.per_hub, args.page))
    except ImportError:  # pragma: no cover - uvloop is a linkcast dependency on Linux
        asyncio.run(serve(args.port, args.hubs, args.per_hub, args.page))


if __name__ == "__main__":
    main()
