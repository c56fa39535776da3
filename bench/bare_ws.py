"""The fan-out reference: a bare ``websockets`` server broadcasting the frames a linkcast crawl produced.

It does nothing but fan out: on ``go`` from any client it sends every frame of ``FRAMES`` (one JSON frame a line,
captured from linkcast's own crawl, so sizes match) to every connected client with ``websockets.broadcast`` (each
frame encoded once), waiting for slow connections' buffers to drain so memory stays bounded, as linkcast does.

Run: ``python -m bench.bare_ws --port P --frames FRAMES``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from websockets.asyncio.server import ServerConnection, broadcast, serve

DRAIN_EVERY = 16  # frames between two waits for paused connections


async def main(port: int, frames: list[str]) -> None:
    connections: set[ServerConnection] = set()
    running: set[asyncio.Task[None]] = set()

    async def send_all() -> None:
        targets = list(connections)
        for n, frame in enumerate(frames, 1):
            broadcast(targets, frame)
            if n % DRAIN_EVERY == 0:
                for connection in targets:
                    await connection.drain()

    async def handler(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            async for message in connection:
                if message == "go":
                    task = asyncio.create_task(send_all())
                    running.add(task)
                    task.add_done_callback(running.discard)
        finally:
            connections.discard(connection)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None):
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a bare websockets broadcast server (the fan-out reference)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frames", type=Path, required=True)
    args = parser.parse_args()
    lines = args.frames.read_text().splitlines() if args.frames.stat().st_size else []
    try:
        import uvloop

        uvloop.run(main(args.port, lines))
    except ImportError:  # pragma: no cover
        asyncio.run(main(args.port, lines))
