"""``linkcast crawl`` against the real service and a local site with a known link graph: what it prints, its summary
and exit status, the server's refusals, ``--cancel``, Ctrl-C off and on a terminal, and a server restart mid-crawl."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from linkcast.cli.crawl_counts import describe_counts
from linkcast.cli.report import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.support.cli import Terminal, clients_connected, error_line, finish, run_cli, start_cli
from tests.support.crawl_site import CrawlSite, TreeSite
from tests.support.ports import free_port
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

# What a depth-1 crawl of CrawlSite's "/" fetches (tests/crawl/test_crawl_service.py proves it against the API).
DEPTH_ONE = {"/", "/a", "/b", "/c", "/broken", "/calendar/2026/1"}
# A crawl that runs long enough to be interrupted: TREE_PAGES pages, each answered after TREE_DELAY seconds.
TREE_PAGES = 300
TREE_DELAY = 0.2
TREE_OPTIONS = ("--depth", "20", "--max-pages", str(TREE_PAGES), "--no-robots")


@pytest.fixture
async def crawl_site() -> AsyncIterator[CrawlSite]:
    site = CrawlSite()
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
async def slow_tree() -> AsyncIterator[TreeSite]:
    site = TreeSite(TREE_PAGES, delay=TREE_DELAY)
    await site.start()
    yield site
    await site.stop()


def page_lines(stdout: bytes) -> dict[str, tuple[str, str]]:
    """``URL<TAB>status<TAB>links`` lines by URL; each URL must come once."""
    rows = [line.split("\t") for line in stdout.decode().splitlines()]
    assert all(len(row) == 3 for row in rows), rows
    assert len({row[0] for row in rows}) == len(rows), "a page printed twice"
    return {url: (status, links) for url, status, links in rows}


async def crawl_state(service: Service, crawl_id: str) -> dict[str, Any]:
    status, record = await service.call("GET", f"/crawls/{crawl_id}")
    assert status == 200, record
    return dict(record)


async def until_pages_fetched(service: Service, crawl_id: str, pages: int, timeout: float = 30.0) -> None:
    """Wait until the crawl has fetched ``pages`` pages (it is running, and will be for a while)."""
    async with service.connect(f"request_id={crawl_id}&since=0") as ws:
        await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= pages, timeout)


async def test_a_finished_crawl_prints_each_page_then_its_summary_and_exits_zero(
    service: Service, crawl_site: CrawlSite
) -> None:
    done = await run_cli("crawl", crawl_site.url("/"), "--id", "site", "--server", service.base_url)
    assert done.returncode == 0, done.stderr
    lines = page_lines(done.stdout)
    assert set(lines) == {crawl_site.url(path) for path in DEPTH_ONE}
    assert lines[crawl_site.url("/broken")] == ("http_status", "-")  # a failed page does not fail the crawl
    assert lines[crawl_site.url("/a")] == ("200", "3")
    record = await crawl_state(service, "site")
    [summary] = done.stderr.decode().splitlines()
    assert summary.startswith("linkcast: crawl site done in "), summary
    assert f": {describe_counts(record['counts'])}, " in summary and summary.endswith(" pages/s"), summary
    assert "5 fetched, 1 failed, 0 queued" in summary


async def test_json_prints_every_event_of_the_crawl_once_ending_in_crawl_done(
    service: Service, crawl_site: CrawlSite
) -> None:
    done = await run_cli("crawl", crawl_site.url("/"), "--id", "json", "--json", "--server", service.base_url)
    assert done.returncode == 0, done.stderr
    events = [orjson.loads(line) for line in done.stdout.splitlines()]
    async with service.connect("request_id=json&since=0") as ws:
        log = await receive_until(ws, lambda fs: any(f["type"] == "crawl.done" for f in fs))
    assert events == log, "every event of the crawl, once each, in order"
    assert (events[0]["type"], events[-1]["type"]) == ("crawl.accepted", "crawl.done")
    pages = Counter(event["url"] for event in events if event["type"] == "page")
    assert set(pages) == {crawl_site.url(path) for path in DEPTH_ONE} and max(pages.values()) == 1
    assert done.stderr.decode().startswith("linkcast: crawl json done in ")


async def test_the_same_crawl_again_follows_it_instead_of_starting_another(
    service: Service, crawl_site: CrawlSite
) -> None:
    args = ("crawl", crawl_site.url("/"), "--id", "again", "--depth", "1", "--server", service.base_url)
    first = await run_cli(*args)
    fetches = crawl_site.requests.copy()
    second = await run_cli(*args)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert page_lines(second.stdout) == page_lines(first.stdout)
    assert "linkcast: crawl again was started before (done): following it" in second.stderr.decode()
    assert crawl_site.requests == fetches, "nothing fetched again"


class LosingProxy(LocalSite):
    """Passes calls and the stream on to ``service``, but closes the connection of the first PUT once the service has
    answered it: the client's crawl is started, and it cannot know."""

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.puts: list[str] = []
        self.app.router.add_get("/scraped_urls", self._stream)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        status, answer = await self.service.call(request.method, request.path_qs, json=await request.json())
        self.puts.append(request.path)
        if len(self.puts) == 1:
            assert request.transport is not None
            request.transport.close()
        return web.json_response(answer, status=status)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        client = web.WebSocketResponse()
        await client.prepare(request)
        upstream_url = f"{self.service.ws_url}?{request.query_string}"
        async with aiohttp.ClientSession() as session, session.ws_connect(upstream_url) as upstream:

            async def pass_on() -> None:
                async for message in upstream:
                    await client.send_str(message.data)

            passing = asyncio.create_task(pass_on())
            try:
                async for _ in client:  # until the client closes (its close answered at once)
                    pass
            finally:
                passing.cancel()
        return client


async def test_a_start_whose_answer_is_lost_is_sent_again_and_starts_nothing_new(
    service: Service, crawl_site: CrawlSite
) -> None:
    proxy = LosingProxy(service)
    await proxy.start()
    try:
        done = await run_cli("crawl", crawl_site.url("/"), "--server", proxy.origin)  # an id of its own choosing
    finally:
        await proxy.stop()
    assert done.returncode == 0, done.stderr
    [first, again] = proxy.puts
    assert first == again, "the same id, chosen before the first try"
    crawl_id = first.removeprefix("/crawls/")
    assert [crawl["crawl_id"] for crawl in (await service.call("GET", "/crawls"))[1]["crawls"]] == [crawl_id]
    assert set(page_lines(done.stdout)) == {crawl_site.url(path) for path in DEPTH_ONE}
    # aiohttp sends an idempotent request again itself once, when the connection drops before the answer
    notices = done.stderr.decode().splitlines()
    assert notices[0].startswith(f"linkcast: crawl {crawl_id} was started before (")
    assert notices[1].startswith(f"linkcast: crawl {crawl_id} done in ")
    assert max(crawl_site.requests.values()) == 1, "one crawl, each page once"


async def test_another_crawl_under_a_taken_id_is_one_line_naming_conflict(
    service: Service, crawl_site: CrawlSite
) -> None:
    assert (await run_cli("crawl", crawl_site.url("/"), "--id", "taken", "--server", service.base_url)).returncode == 0
    done = await run_cli("crawl", crawl_site.url("/"), "--id", "taken", "--depth", "2", "--server", service.base_url)
    error_line(done, "conflict", EXIT_FAILED)


async def test_a_crawl_that_fetches_no_page_is_one_line_and_exit_1(service: Service, crawl_site: CrawlSite) -> None:
    missing = await run_cli("crawl", crawl_site.url("/missing"), "--server", service.base_url)
    message = error_line(missing, "nothing_fetched", EXIT_FAILED)
    assert f"fetched no page: {crawl_site.url('/missing')}: http_status: " in message and "404" in message
    assert page_lines(missing.stdout) == {crawl_site.url("/missing"): ("http_status", "-")}
    disallowed = await run_cli("crawl", crawl_site.url("/private/x"), "--server", service.base_url)
    assert error_line(disallowed, "nothing_fetched", EXIT_FAILED).endswith(f"{crawl_site.url('/private/x')}: robots")


async def test_a_bad_option_is_the_servers_one_line_and_exit_1(service: Service, crawl_site: CrawlSite) -> None:
    url = crawl_site.url("/")
    pages = await run_cli("crawl", url, "--max-pages", "0", "--server", service.base_url)
    assert "'max_pages' must be an integer of at least 1" in error_line(pages, "invalid_option", EXIT_FAILED)
    scope = await run_cli("crawl", url, "--scope", "galaxy", "--server", service.base_url)
    assert "'scope' must be one of" in error_line(scope, "invalid_option", EXIT_FAILED)
    seed = await run_cli("crawl", "not-a-url", "--server", service.base_url)
    assert error_line(seed, "invalid_url", EXIT_FAILED) == "'url' is not an absolute URL"
    pattern = await run_cli("crawl", url, "--include", "/a#b", "--server", service.base_url)
    error_line(pattern, "invalid_pattern", EXIT_FAILED)
    assert await service.call("GET", "/crawls") == (200, {"crawls": [], "next": None}), "nothing started"


async def test_a_command_line_it_cannot_take_is_a_usage_error() -> None:
    for args, says in (
        ((), "one of the arguments URL --cancel is required"),
        (("--cancel", "x", "https://example.com/"), "not allowed with"),
        (("https://example.com/", "--depth", "deep"), "--depth"),
    ):
        assert says in error_line(await run_cli("crawl", *args), "usage", EXIT_USAGE)


async def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    server = f"http://127.0.0.1:{free_port()}"
    for args in (("https://example.com/",), ("--cancel", "x")):
        done = await run_cli("crawl", *args, "--server", server, timeout=30)
        assert error_line(done, "unreachable", EXIT_UNAVAILABLE).startswith(f"cannot connect to {server}: ")


async def test_cancel_stops_a_running_crawl_and_prints_its_final_counts(service: Service, slow_tree: TreeSite) -> None:
    status, _ = await service.call(
        "PUT", "/crawls/long", json={"url": slow_tree.url("/p/0"), "max_depth": 20, "max_pages": TREE_PAGES}
    )
    assert status == 201
    await until_pages_fetched(service, "long", 3)
    done = await run_cli("crawl", "--cancel", "long", "--server", service.base_url)
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    record = await crawl_state(service, "long")
    assert record["state"] == "cancelled"
    [line] = done.stdout.decode().splitlines()
    assert line.startswith("crawl long cancelled after ") and f": {describe_counts(record['counts'])}, " in line


async def test_cancel_with_json_prints_the_crawls_record_as_json(service: Service, site: LocalSite) -> None:
    """--json was taken and ignored: a script that asked for JSON got the summary's words."""
    status, _ = await service.call("PUT", "/crawls/ended", json={"url": site.page("/ended", ""), "max_depth": 0})
    assert status == 201
    done = await run_cli("crawl", "--cancel", "ended", "--json", "--server", service.base_url)
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    [line] = done.stdout.splitlines()
    record = orjson.loads(line)
    assert record["crawl_id"] == "ended" and record["state"] in ("queued", "running", "done", "cancelled")


async def test_cancel_of_an_unknown_crawl_is_one_line_and_exit_1(service: Service) -> None:
    done = await run_cli("crawl", "--cancel", "nobody", "--server", service.base_url)
    assert error_line(done, "not_found", EXIT_FAILED) == "no crawl with id 'nobody'"


async def test_ctrl_c_off_a_terminal_leaves_the_crawl_running_and_says_how_to_follow_it(
    service: Service, slow_tree: TreeSite
) -> None:
    cli = await start_cli("crawl", slow_tree.url("/p/0"), "--id", "left", *TREE_OPTIONS, "--server", service.base_url)
    try:
        await clients_connected(service, 1)
        await until_pages_fetched(service, "left", 3)
        cli.send_signal(signal.SIGINT)
        done = await finish(cli, 30)
        message = error_line(done, "interrupted", EXIT_INTERRUPTED)
        server = f"--server {service.base_url}"
        assert message == (
            f"crawl left keeps running: cancel it with linkcast crawl --cancel left {server}, "
            f"follow it with linkcast watch --request-id left {server}"
        )
        assert (await crawl_state(service, "left"))["state"] == "running"
    finally:
        await service.call("DELETE", "/crawls/left")


async def test_sigterm_leaves_the_crawl_running_and_says_how_to_follow_it(
    service: Service, slow_tree: TreeSite
) -> None:
    """``timeout 600 linkcast crawl ...``: told to stop, the command says what it leaves behind, as for Ctrl-C."""
    cli = await start_cli("crawl", slow_tree.url("/p/0"), "--id", "termed", *TREE_OPTIONS, "--server", service.base_url)
    try:
        await clients_connected(service, 1)
        await until_pages_fetched(service, "termed", 3)
        cli.send_signal(signal.SIGTERM)
        done = await finish(cli, 30)
        message = error_line(done, "terminated", EXIT_TERMINATED)
        assert message.startswith("crawl termed keeps running: cancel it with linkcast crawl --cancel termed ")
        assert (await crawl_state(service, "termed"))["state"] == "running"
    finally:
        await service.call("DELETE", "/crawls/termed")


async def test_ctrl_c_on_a_terminal_asks_and_cancels_the_crawl_on_yes(service: Service, slow_tree: TreeSite) -> None:
    terminal = await Terminal.start(
        "crawl", slow_tree.url("/p/0"), "--id", "asked", *TREE_OPTIONS, "--server", service.base_url
    )
    try:
        await terminal.wait_for(" pages/s")  # the progress bar
        await until_pages_fetched(service, "asked", 3)
        terminal.process.send_signal(signal.SIGINT)
        await terminal.wait_for("cancel crawl asked? [y/N] ")
        terminal.type("y\n")
        assert await terminal.finish() == EXIT_INTERRUPTED, terminal.text
    finally:
        await terminal.close()
    record = await crawl_state(service, "asked")
    assert record["state"] == "cancelled"
    assert "linkcast: interrupted: crawl asked cancelled after " in terminal.text
    assert f": {describe_counts(record['counts'])}, " in terminal.text


async def test_ctrl_c_on_a_terminal_leaves_the_crawl_running_unless_told_yes(
    service: Service, slow_tree: TreeSite
) -> None:
    terminal = await Terminal.start(
        "crawl", slow_tree.url("/p/0"), "--id", "kept", *TREE_OPTIONS, "--server", service.base_url
    )
    try:
        await until_pages_fetched(service, "kept", 3)
        await clients_connected(service, 1)
        terminal.process.send_signal(signal.SIGINT)
        await terminal.wait_for("[y/N] ")
        terminal.type("\n")
        assert await terminal.finish() == EXIT_INTERRUPTED, terminal.text
        assert "linkcast: interrupted: crawl kept keeps running: cancel it with linkcast crawl --cancel kept" in (
            terminal.text
        )
        assert (await crawl_state(service, "kept"))["state"] == "running"
    finally:
        await terminal.close()
        await service.call("DELETE", "/crawls/kept")


async def test_a_crawl_cancelled_by_someone_else_ends_the_command_with_exit_1(
    service: Service, slow_tree: TreeSite
) -> None:
    cli = await start_cli("crawl", slow_tree.url("/p/0"), "--id", "theirs", *TREE_OPTIONS, "--server", service.base_url)
    await clients_connected(service, 1)
    await until_pages_fetched(service, "theirs", 3)
    assert (await service.call("DELETE", "/crawls/theirs"))[0] == 200
    done = await finish(cli, 30)
    message = error_line(done, "cancelled", EXIT_FAILED)
    assert message.startswith("crawl theirs cancelled after ") and message.endswith(
        "(someone cancelled it before its end)"
    )


async def test_a_crawl_followed_across_a_server_restart_prints_every_page_once(tmp_path: Path) -> None:
    tree = TreeSite(200, delay=0.05)
    await tree.start()
    durable = Service(
        "--allow-private-networks", store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log"
    )
    await durable.start()
    cli = await start_cli(
        "crawl", tree.url("/p/0"), "--id", "restart", "--json", *TREE_OPTIONS, "--server", durable.base_url
    )
    try:
        assert cli.stdout is not None
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(30):
            while sum(event["type"] == "page" for event in events) < 20:
                events.append(orjson.loads(await cli.stdout.readline()))
        durable.kill()  # mid-crawl: the CLI loses its stream, the crawl its fetches under way
        await durable.start()
        done = await finish(cli, 60)
    finally:
        durable.stop()
        await tree.stop()
    assert done.returncode == 0, done.stderr
    events += [orjson.loads(line) for line in done.stdout.splitlines()]
    pages = Counter(event["url"] for event in events if event["type"] == "page")
    assert set(pages) == tree.all_urls() and max(pages.values()) == 1, "every page printed, once"
    ids = [event["id"] for event in events]
    assert ids == sorted(set(ids)) and events[-1]["type"] == "crawl.done"
    notices = done.stderr.decode()
    assert "; reconnecting with since=" in notices and "linkcast: reconnected" in notices


async def test_a_seed_the_server_may_not_fetch_is_one_line_naming_blocked(
    default_policy: Service, crawl_site: CrawlSite
) -> None:
    done = await run_cli("crawl", crawl_site.url("/"), "--server", default_policy.base_url)
    assert "--allow-private-networks" in error_line(done, "blocked", EXIT_FAILED)
