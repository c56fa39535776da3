"""``linkcast watch`` against the real service: it prints the stream, or fails with one line and a status.

Resuming across a restart is in ``tests/durability/test_cli_resume.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import orjson

from linkcast.cli.report import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNAVAILABLE, EXIT_USAGE
from linkcast.cli.watch import describe
from linkcast.core.inputs import MAX_STREAM_FILTERS
from tests.support.cli import cli_env, clients_connected, error_line, finish, run_cli, start_cli
from tests.support.ports import free_port
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


async def test_watch_prints_every_event_of_the_stream(service: Service, site: LocalSite) -> None:
    watcher = await start_cli("watch", "--server", service.base_url, "--json", "--since", "0")
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
    watcher = await start_cli("watch", "--server", service.base_url, "--since", "0", "--request-id", "tabled")
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


async def test_a_negative_since_is_one_line_naming_invalid_since(service: Service) -> None:
    done = await run_cli("watch", "--since", "-5", "--server", service.base_url)
    assert "non-negative integer" in error_line(done, "invalid_since", EXIT_FAILED)


async def test_a_since_past_the_newest_event_says_so_instead_of_waiting(service: Service, site: LocalSite) -> None:
    async with service.connect() as ws:
        await service.put("one", site.page("/one", ""))
        newest = (await receive_until(ws, lambda fs: bool(terminal_for(fs, {"one"}))))[-1]["id"]
    done = await run_cli("watch", "--since", str(newest + 10), "--server", service.base_url, timeout=30)
    message = error_line(done, "since_ahead", EXIT_FAILED)
    assert message.startswith(f"since={newest + 10} is past the newest event ({newest})"), message


async def test_an_invalid_request_id_filter_is_one_line_naming_invalid_request_id(service: Service) -> None:
    done = await run_cli("watch", "--request-id", "bad/id", "--server", service.base_url)
    error_line(done, "invalid_request_id", EXIT_FAILED)


async def test_too_many_request_id_filters_is_one_line_naming_the_bound(service: Service) -> None:
    filters = [arg for n in range(MAX_STREAM_FILTERS + 1) for arg in ("--request-id", f"r{n}")]
    done = await run_cli("watch", *filters, "--server", service.base_url)
    assert f"at most {MAX_STREAM_FILTERS}" in error_line(done, "too_many_filters", EXIT_FAILED)


async def test_a_missing_token_is_one_line_naming_unauthorized(guarded: Service) -> None:
    done = await run_cli("watch", "--server", guarded.base_url)
    assert error_line(done, "unauthorized", EXIT_FAILED) == (
        "a valid bearer token is required: give the server's token with --token or LINKCAST_TOKEN"
    )
    listing = await run_cli("feeds", "list", "--server", guarded.base_url)  # an HTTP call's 401 says the same
    assert error_line(listing, "unauthorized", EXIT_FAILED).endswith(
        "give the server's token with --token or LINKCAST_TOKEN"
    )
    done = await run_cli("watch", "--server", guarded.base_url, "--token", "guess")
    assert error_line(done, "unauthorized", EXIT_FAILED).endswith(
        ": the token given (--token or LINKCAST_TOKEN) is not the server's"
    )


async def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    server = f"http://127.0.0.1:{free_port()}"
    done = await run_cli("watch", "--server", server, timeout=30)
    assert error_line(done, "unreachable", EXIT_UNAVAILABLE).startswith(f"cannot connect to {server}: ")


async def test_ctrl_c_is_one_line_and_exit_130(service: Service) -> None:
    watcher = await start_cli("watch", "--server", service.base_url)
    await clients_connected(service, 1)
    watcher.send_signal(signal.SIGINT)
    done = await finish(watcher, 30)
    assert error_line(done, "interrupted", EXIT_INTERRUPTED) == "stopped by Ctrl-C"


async def test_a_reader_that_goes_away_ends_watch_quietly(service: Service, site: LocalSite) -> None:
    """``linkcast watch | head -1``: once stdout is closed, watch ends at its next line with nothing on stderr."""
    read_end, write_end = os.pipe()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "linkcast", "watch", "--since", "0", "--server", service.base_url],
        stdout=write_end, stderr=subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    os.close(write_end)
    try:
        await clients_connected(service, 1)
        os.close(read_end)  # the reader is gone before the first line
        await service.put("unread", site.page("/unread", ""))
        _, stderr = await asyncio.to_thread(watcher.communicate, timeout=30)
        assert (watcher.returncode, stderr) == (EXIT_BROKEN_PIPE, b"")
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)


async def test_a_reader_that_goes_away_ends_watch_on_a_quiet_stream_too(service: Service) -> None:
    """``linkcast watch | head -1`` once head has its line: the pipeline ends though no other event ever comes."""
    read_end, write_end = os.pipe()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "linkcast", "watch", "--server", service.base_url],
        stdout=write_end, stderr=subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    os.close(write_end)
    try:
        await clients_connected(service, 1)
        os.close(read_end)
        _, stderr = await asyncio.to_thread(watcher.communicate, timeout=30)
        assert (watcher.returncode, stderr) == (EXIT_BROKEN_PIPE, b"")
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(5)


async def test_a_server_url_that_is_not_http_is_a_usage_error() -> None:
    done = await run_cli("watch", "--server", "localhost:8080")
    assert "--server 'localhost:8080' is not an http:// or https:// URL" in error_line(done, "usage", EXIT_USAGE)


async def test_a_server_in_the_environment_that_is_not_http_is_an_invalid_setting() -> None:
    done = await run_cli("watch", env={"LINKCAST_SERVER": "ftp://example.com"})
    assert error_line(done, "invalid_setting", EXIT_USAGE).startswith("LINKCAST_SERVER='ftp://example.com'")


async def test_a_since_that_is_not_a_number_is_a_usage_error() -> None:
    done = await run_cli("watch", "--since", "abc")
    assert "--since" in error_line(done, "usage", EXIT_USAGE)


def test_a_stream_error_frame_is_printed_with_its_code_and_message() -> None:
    frame = {"type": "stream_error", "error": {"code": "store_unavailable", "message": "Redis is down"}}
    assert describe(frame).split() == ["stream_error:", "store_unavailable:", "Redis", "is", "down"]


def test_a_crawls_events_are_printed_with_their_outcome_and_counts() -> None:
    base = {"request_id": "c", "url": "http://a/"}
    assert describe({**base, "type": "page", "status_code": 200, "links": ["x"]}).endswith("-> 200 1 links")
    failed = {**base, "type": "page", "error": {"code": "timeout", "message": "slow"}}
    assert describe(failed).endswith("!! timeout: slow")
    assert describe({**base, "type": "skipped", "reason": "robots"}).endswith("-- robots")
    counts = {"fetched": 3, "failed": 1, "queued": 0, "skipped": {"robots": 1}}
    done = describe({"type": "crawl.done", "request_id": "c", "state": "done", "counts": counts})
    assert done.endswith("done: 3 fetched, 1 failed, 0 queued, 1 skipped (robots 1)")


def test_every_event_types_line_has_its_columns_in_the_same_place() -> None:
    """The type's column fitted "accepted" and "result" only: a feed's and a crawl's lines were pushed out of line."""
    kinds = ["result", "accepted", "feed.entry", "feed.accepted", "crawl.progress", "crawl.accepted", "skipped"]
    lines = [describe({"id": 7, "type": kind, "request_id": "news", "url": "http://a/"}) for kind in kinds]
    assert len({line.index(" news ") for line in lines}) == 1, lines
