"""The real CLI in a subprocess: ``watch --since``, and ``watch``/``submit`` that resume across a server restart."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from linkcast.core.events import STREAM_SINCE_HEADER
from tests.durability.conftest import Gate, ids_of, put_all
from tests.support.cli import clients_connected
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


class CLI:
    """``python -m linkcast ...`` with its stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def json_lines_until(self, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while not done(lines):
                line = await self.process.stdout.readline()
                assert line, "the CLI exited"
                lines.append(orjson.loads(line))
        return lines


async def start_cli(*args: str) -> CLI:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    return CLI(process)


@pytest.fixture
async def clis() -> AsyncIterator[list[CLI]]:
    started: list[CLI] = []
    yield started
    for cli in started:
        if cli.process.returncode is None:
            cli.process.kill()
        await cli.process.wait()


def pages(site: LocalSite, prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}{n}": site.page(f"/{prefix}{n}", f'<a href="/{prefix}/{n}">x</a>') for n in range(count)}


async def test_watch_since_replays_what_came_after(durable: Service, site: LocalSite, clis: list[CLI]) -> None:
    urls = pages(site, "w", 3)
    async with durable.connect() as ws:
        await put_all(durable, urls)
        seen = await receive_until(ws, lambda fs: len(terminal_for(fs, set(urls))) == 3)
    middle = ids_of(seen)[4]
    clis.append(watch := await start_cli("watch", "--server", durable.base_url, "--json", "--since", str(middle)))
    lines = await watch.json_lines_until(lambda ls: len(ls) == len(seen) - 5)
    assert ids_of(lines) == ids_of(seen)[5:]


async def test_watch_prints_every_event_once_across_a_restart(
    durable: Service, site: LocalSite, clis: list[CLI]
) -> None:
    clis.append(watch := await start_cli("watch", "--server", durable.base_url, "--json"))
    await clients_connected(durable, 1)
    before = pages(site, "before", 3)
    await put_all(durable, before)
    first = await watch.json_lines_until(lambda ls: len(terminal_for(ls, set(before))) == 3)
    durable.kill()
    await durable.start()
    after = pages(site, "after", 3)
    await put_all(durable, after)  # most likely while the watcher is still reconnecting: replayed from its last id
    rest = await watch.json_lines_until(lambda ls: len(terminal_for(ls, set(after))) == 3)
    everything = await watch_log(durable, set(before) | set(after))
    assert Counter(ids_of(first + rest)) == Counter(ids_of(everything)), "every event printed, each once"


async def watch_log(service: Service, request_ids: set[str]) -> list[dict[str, Any]]:
    async with service.connect("since=0") as ws:
        return await receive_until(ws, lambda fs: len(terminal_for(fs, request_ids)) == len(request_ids))


async def test_watch_that_saw_nothing_yet_resumes_from_where_it_started(
    durable: Service, site: LocalSite, clis: list[CLI]
) -> None:
    old = pages(site, "old", 2)
    async with durable.connect() as ws:
        await put_all(durable, old)
        await receive_until(ws, lambda fs: len(terminal_for(fs, set(old))) == 2)
    clis.append(watch := await start_cli("watch", "--server", durable.base_url, "--json"))
    await clients_connected(durable, 1)
    durable.kill()
    await durable.start()
    new = pages(site, "new", 2)
    await put_all(durable, new)
    lines = await watch.json_lines_until(lambda ls: len(terminal_for(ls, set(new))) == 2)
    # It had seen no event, but the handshake told it where its stream began: nothing old, nothing new missed.
    assert Counter(f["request_id"] for f in lines) == dict.fromkeys(new, 3)


async def test_handshake_tells_where_the_stream_starts(durable: Service, site: LocalSite) -> None:
    urls = pages(site, "h", 2)
    async with durable.connect() as ws:
        await put_all(durable, urls)
        last = max(ids_of(await receive_until(ws, lambda fs: len(terminal_for(fs, set(urls))) == 2)))
    async with durable.connect() as ws:
        assert ws.response.headers[STREAM_SINCE_HEADER] == str(last)
    async with durable.connect("since=2") as ws:
        assert ws.response.headers[STREAM_SINCE_HEADER] == "2"


async def test_submit_waits_through_a_server_restart(
    durable: Service, site: LocalSite, gate: Gate, clis: list[CLI]
) -> None:
    url = gate.page("/held", '<a href="/held/link">x</a>')
    async with durable.connect("request_id=held", close_timeout=0.1) as ws:
        clis.append(submit := await start_cli("submit", url, "--id", "held", "--server", durable.base_url))
        await receive_until(ws, lambda fs: any(f["type"] == "started" for f in fs))
        durable.kill()  # the fetch is running: it must run again after the restart
    await durable.start()
    gate.opened.set()
    stdout, stderr = await asyncio.wait_for(submit.process.communicate(), 30)
    assert submit.process.returncode == 0, stderr
    assert stdout.decode().splitlines() == [site.url("/held/link")]
