"""The prototype's approach, rebuilt as the baseline: what linkcast replaced, with its flaws kept on purpose.

- Quart served by hypercorn (the prototype's server), default asyncio loop.
- ``PUT /urls/<id>`` starts an unbounded ``asyncio.create_task`` per request that calls the blocking
  ``requests.get`` (a new connection each time) on the event loop, then parses with BeautifulSoup ``html.parser``,
  keeping raw hrefs that start with ``http`` (relative links are lost).
- Results go into one global ``asyncio.Queue``; each WebSocket handler polls it, sleeping a second when it is empty,
  so every result reaches exactly one of the connected clients.

Run: ``python -m bench.peers.prototype --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import requests
from bs4 import BeautifulSoup
from quart import Quart, request, websocket

app = Quart(__name__)
results: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


def scrape_links(url: str) -> list[str]:
    response = requests.get(url, timeout=30)
    soup = BeautifulSoup(response.text, "html.parser")
    return [a["href"] for a in soup.find_all("a", href=True) if a["href"].startswith("http")]


async def scrape(request_id: str, url: str) -> None:
    try:
        links = scrape_links(url)
    except Exception as error:  # the prototype logged and dropped failures; the bench reports them as results
        await results.put({"request_id": request_id, "url": url, "links": [], "error": str(error)})
        return
    await results.put({"request_id": request_id, "url": url, "links": links})


@app.put("/urls/<request_id>")
async def put_url(request_id: str) -> tuple[dict[str, str], int]:
    payload = await request.get_json(force=True)
    asyncio.create_task(scrape(request_id, payload["url"]))  # noqa: RUF006 - unbounded on purpose: the flaw
    return {"status": "accepted", "request_id": request_id, "url": payload["url"]}, 201


@app.websocket("/scraped_urls")
async def scraped_urls() -> None:
    await websocket.accept()
    while True:
        if results.empty():
            await asyncio.sleep(1)
            continue
        await websocket.send(json.dumps(await results.get()))


def main() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    parser = argparse.ArgumentParser(description="the prototype's approach (the bench baseline)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
