"""The command line against a running server: ``submit`` prints links or fails, ``watch`` prints the stream."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson

from tests.support.service import Service
from tests.support.site import LocalSite


async def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


async def test_submit_prints_the_links_and_exits_zero(service: Service, site: LocalSite) -> None:
    url = site.page("/cli", '<a href="/one">1</a><a href="two">2</a><a href="/one">again</a>')
    done = await run_cli("submit", url, "--server", service.base_url, "--id", "cli-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [site.url("/one"), site.url("/two")]


async def test_submit_json_prints_the_whole_result_event(service: Service, site: LocalSite) -> None:
    url = site.page("/cli-json", '<a href="/j">j</a>')
    done = await run_cli("submit", url, "--server", service.base_url, "--json")
    assert done.returncode == 0, done.stderr
    event = orjson.loads(done.stdout)
    assert (event["type"], event["url"], event["links"]) == ("result", url, [site.url("/j")])


async def test_submit_exits_non_zero_on_an_error_event(service: Service, site: LocalSite) -> None:
    done = await run_cli("submit", site.url("/missing"), "--server", service.base_url)
    assert done.returncode == 1
    assert b"http_status" in done.stderr


async def test_submit_exits_non_zero_on_a_refused_submission(service: Service) -> None:
    done = await run_cli("submit", "ftp://example.com/", "--server", service.base_url)
    assert done.returncode != 0
    assert b"invalid_url" in done.stderr


async def test_watch_prints_every_event_of_the_stream(service: Service, site: LocalSite) -> None:
    watcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", "watch", "--server", service.base_url, "--json", "--since", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert watcher.stdout is not None
        await service.put("watched", site.page("/watched", '<a href="/w">w</a>'))
        events = []
        async with asyncio.timeout(30):
            while not events or events[-1]["type"] != "result":
                events.append(orjson.loads(await watcher.stdout.readline()))
        assert [e["type"] for e in events] == ["accepted", "started", "result"]
        assert {e["request_id"] for e in events} == {"watched"}
        assert events[-1]["links"] == [site.url("/w")]
    finally:
        watcher.terminate()
        await watcher.wait()


async def test_watch_prints_a_readable_table_by_default(service: Service, site: LocalSite) -> None:
    await service.put("tabled", site.page("/tabled", '<a href="/t">t</a>'))
    watcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", "watch", "--server", service.base_url, "--since", "0",
        "--request-id", "tabled", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert watcher.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(30):
            while not lines or "result" not in lines[-1]:
                lines.append((await watcher.stdout.readline()).decode())
        assert "tabled" in lines[-1] and "200" in lines[-1] and "1 links" in lines[-1]
    finally:
        watcher.terminate()
        await watcher.wait()


async def test_serve_help_lists_every_setting_with_its_default() -> None:
    done = await run_cli("serve", "--help")
    text = " ".join(done.stdout.decode().split())  # argparse wraps lines
    for flag, default in [("--port", "8080"), ("--host", "'localhost'"), ("--store", "'sqlite:///./linkcast.db'")]:
        assert f"{flag} {flag.upper()[2:].replace('-', '_')}" in text and f"default: {default}" in text
    assert "LINKCAST_ALLOW_PRIVATE_NETWORKS" in text


async def test_worker_refuses_a_store_other_processes_cannot_share(tmp_path: Path) -> None:
    for store in ("memory://", f"sqlite:///{tmp_path}/db"):
        done = await run_cli("worker", "--store", store)
        assert done.returncode != 0
        assert b"needs the shared Redis store" in done.stderr


async def test_serve_refuses_bad_security_lists_with_a_clear_message() -> None:
    for flag, value in (("--trusted-proxies", "proxy.local"), ("--server-names", "a:b:c")):
        done = await run_cli("serve", "--store", "memory://", "--port", "0", flag, value, timeout=30)
        assert done.returncode != 0, done.stderr[-500:]
        [line] = done.stderr.decode().splitlines()
        assert line.startswith(f"linkcast: invalid_setting: {flag}:"), line
