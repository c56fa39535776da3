"""Under attack from a hostile site, every request still ends in exactly one terminal event, a normal page still
gets its result, and the server's memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from linkcast.settings import Settings
from tests.hostile.site import MANY_LINKS, HostileSite
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

FETCH_TIMEOUT = 4.0
READ_TIMEOUT = 1.5
MAX_LINKS = 100_000
MAX_BODY = 16 * 1024 * 1024
# Every request ends within the fetch timeout once a worker takes it; the bound leaves room for queueing and
# for parsing the large pages on a slow machine.
TERMINAL_BOUND = 60.0
RSS_BOUND = 600 * 1024 * 1024
DEFAULT_MAX_RESULT_BYTES = Settings().max_result_bytes


def hostile_flags(site: HostileSite, normal: LocalSite) -> list[str]:
    """The default address policy, with only the two sites' exact ports allowed, and small limits."""
    allowed = f"127.0.0.1:{site.port},127.0.0.1:{site.silent_port},127.0.0.1:{normal.port}"
    return [
        "--allow-hosts", allowed, "--fetch-timeout", str(FETCH_TIMEOUT), "--read-timeout", str(READ_TIMEOUT),
        "--max-body-bytes", str(MAX_BODY), "--max-links", str(MAX_LINKS), "--per-host-concurrency", "32",
        "--workers", "12", "--parse-timeout", "8",
    ]  # fmt: skip


@pytest.fixture
async def hostile() -> AsyncIterator[HostileSite]:
    site = HostileSite()
    await site.start()
    yield site
    await site.stop()


class PeakRSS:
    """Samples the resident memory of a process and its children (link extraction) in the background."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0

    def sample(self) -> int:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    async def run(self) -> None:
        while True:  # a sampler, not a wait for something
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.sample())
            await asyncio.sleep(0.02)


async def test_hostile_site_cannot_stall_crash_or_exhaust_the_service(
    tmp_path: Path, hostile: HostileSite, site: LocalSite
) -> None:
    normal = site.page("/normal", '<a href="/after">after</a>')
    service = Service(*hostile_flags(hostile, site), store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    sampler = asyncio.create_task(rss.run())
    try:
        async with service.connect() as ws:
            for name, case in hostile.cases.items():
                status, body = await service.put(name, case.url)
                assert status == 201, (name, body)
            status, _ = await service.put("normal", normal)
            assert status == 201
            wanted = {*hostile.cases, "normal"}
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, wanted)) == len(wanted), TERMINAL_BOUND)
            outcomes = terminal_for(frames, wanted)
            last_id = max(f["id"] for f in frames)
            assert service.process.poll() is None, "the service died"

            assert outcomes["normal"]["links"] == [site.url("/after")]
            got = {name: _outcome(outcomes[name]) for name in hostile.cases}
            assert got == {name: case.expect for name, case in hostile.cases.items()}
            many = outcomes["many-links"]
            assert many["links_truncated"] is True and len(many["links"]) == MAX_LINKS < MANY_LINKS
            assert outcomes["nested-5k"]["links"] == [hostile.url("/deep")]
            long_base = outcomes["long-base"]
            assert long_base["links_truncated"] is True and long_base["links"]
            assert len(orjson.dumps(long_base["links"])) <= DEFAULT_MAX_RESULT_BYTES
            assert hostile.url("/ok") in outcomes["invalid-utf8"]["links"]

        # Exactly one terminal event each: replay the whole log up to the last event seen live.
        async with service.connect("since=0") as replay:
            history = await receive_until(replay, lambda fs: bool(fs) and fs[-1].get("id", 0) >= last_id, 30)
        terminals = [f["request_id"] for f in history if f.get("type") in ("result", "error")]
        assert sorted(terminals) == sorted(wanted)
    finally:
        sampler.cancel()
        service.stop()
    assert 0 < rss.peak < RSS_BOUND, f"peak RSS {rss.peak / 2**20:.0f} MiB"


def _outcome(event: dict[str, Any]) -> str:
    return "result" if event["type"] == "result" else str(event["error"]["code"])
