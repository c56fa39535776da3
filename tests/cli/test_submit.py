"""``linkcast submit`` against the real service: it prints the links, or fails with one line and a status."""

from __future__ import annotations

import asyncio
import signal

import orjson
from aiohttp import web

from linkcast.cli.report import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.cli.conftest import TOKEN
from tests.support.cli import error_line, finish, run_cli, start_cli
from tests.support.ports import free_port
from tests.support.service import Service
from tests.support.site import LocalSite

GATE_TIMEOUT = 30.0


async def test_submit_prints_the_links_and_exits_zero(service: Service, site: LocalSite) -> None:
    url = site.page("/cli", '<a href="/one">1</a><a href="two">2</a><a href="/one">again</a>')
    done = await run_cli("submit", url, "--server", service.base_url, "--id", "cli-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [site.url("/one"), site.url("/two")]
    assert done.stderr == b""


async def test_submit_json_prints_the_whole_result_event(service: Service, site: LocalSite) -> None:
    url = site.page("/cli-json", '<a href="/j">j</a>')
    done = await run_cli("submit", url, "--server", service.base_url, "--json")
    assert done.returncode == 0, done.stderr
    event = orjson.loads(done.stdout)
    assert (event["type"], event["url"], event["links"]) == ("result", url, [site.url("/j")])


async def test_an_error_event_is_one_line_with_its_code(service: Service, site: LocalSite) -> None:
    done = await run_cli("submit", site.url("/missing"), "--server", service.base_url)
    assert "404" in error_line(done, "http_status", EXIT_FAILED)
    assert done.stdout == b""


async def test_a_url_that_is_not_absolute_is_one_line_naming_invalid_url(service: Service) -> None:
    done = await run_cli("submit", "not-a-url", "--server", service.base_url)
    assert error_line(done, "invalid_url", EXIT_FAILED) == "'url' is not an absolute URL"


async def test_a_url_that_is_not_http_is_one_line_naming_invalid_url(service: Service) -> None:
    done = await run_cli("submit", "ftp://x", "--server", service.base_url)
    assert error_line(done, "invalid_url", EXIT_FAILED) == "'url' must use http or https"


async def test_an_invalid_id_is_one_line_naming_invalid_request_id(service: Service) -> None:
    done = await run_cli("submit", "https://example.com/", "--id", "bad/id", "--server", service.base_url)
    assert "A-Z a-z 0-9" in error_line(done, "invalid_request_id", EXIT_FAILED)


async def test_a_dot_segment_id_is_refused_not_sent_to_another_path(service: Service) -> None:
    done = await run_cli("submit", "https://example.com/", "--id", "..", "--server", service.base_url)
    assert "could never be read back" in error_line(done, "invalid_request_id", EXIT_FAILED)


async def test_a_loopback_url_names_the_flag_that_allows_it(default_policy: Service, site: LocalSite) -> None:
    done = await run_cli("submit", site.page("/local", ""), "--server", default_policy.base_url)
    message = error_line(done, "blocked", EXIT_FAILED)
    assert "127.0.0.1 is a loopback address" in message and "--allow-private-networks" in message


async def test_an_id_taken_by_another_url_is_one_line_naming_conflict(service: Service, site: LocalSite) -> None:
    assert (await service.put("taken", site.page("/first", "")))[0] == 201
    done = await run_cli("submit", site.url("/second"), "--id", "taken", "--server", service.base_url)
    error_line(done, "conflict", EXIT_FAILED)


async def test_a_missing_token_is_one_line_naming_unauthorized(guarded: Service, site: LocalSite) -> None:
    done = await run_cli("submit", site.page("/t", ""), "--server", guarded.base_url)
    error_line(done, "unauthorized", EXIT_FAILED)


async def test_the_token_comes_from_the_environment(guarded: Service, site: LocalSite) -> None:
    url = site.page("/with-token", '<a href="/ok">ok</a>')
    done = await run_cli("submit", url, env={"LINKCAST_SERVER": guarded.base_url, "LINKCAST_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [site.url("/ok")]


async def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    server = f"http://127.0.0.1:{free_port()}"
    done = await run_cli("submit", "https://example.com/", "--server", server, timeout=30)
    assert error_line(done, "unreachable", EXIT_UNAVAILABLE).startswith(f"cannot connect to {server}: ")


async def test_an_error_answer_that_is_not_linkcasts_names_its_status(site: LocalSite) -> None:
    """A proxy in front of linkcast answers for it: an HTML 502, or JSON of its own."""

    async def bad_gateway(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, text="<html><h1>502\nBad Gateway</h1></html>", content_type="text/html")

    for path in ("/lb/urls/x", "/lb/scraped_urls"):
        site.route(path, bad_gateway)
    done = await run_cli("submit", "https://example.com/", "--id", "x", "--server", site.url("/lb"))
    assert error_line(done, "http_502", EXIT_FAILED) == "Bad Gateway"


async def test_a_server_error_answer_passes_on_its_code_and_message(site: LocalSite) -> None:
    async def internal(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"code": "internal", "message": "the store\nfailed"}}, status=500)

    for path in ("/x/urls/y", "/x/scraped_urls"):
        site.route(path, internal)
    done = await run_cli("submit", "https://example.com/", "--id", "y", "--server", site.url("/x"))
    assert error_line(done, "internal", EXIT_FAILED) == "the store failed"


async def test_no_result_within_the_timeout_is_one_line_saying_how_to_follow_it(
    service: Service, site: LocalSite
) -> None:
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), GATE_TIMEOUT)
        return web.Response(text="", content_type="text/html")

    try:
        url = site.route("/slow", slow)
        done = await run_cli("submit", url, "--id", "slow", "--timeout", "1", "--server", service.base_url)
        message = error_line(done, "no_result", EXIT_UNAVAILABLE)
        assert "no result within 1 s" in message and "linkcast watch --since 0 --request-id slow" in message
    finally:
        release.set()


async def test_ctrl_c_while_waiting_is_one_line_and_exit_130(service: Service, site: LocalSite) -> None:
    release = asyncio.Event()

    async def held(_request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), GATE_TIMEOUT)
        return web.Response(text="", content_type="text/html")

    try:
        submit = await start_cli("submit", site.route("/held", held), "--id", "held", "--server", service.base_url)
        async with asyncio.timeout(30):
            while (await service.call("GET", "/urls/held"))[0] != 200:
                await asyncio.sleep(0.05)
        submit.send_signal(signal.SIGINT)
        done = await finish(submit, 30)
        assert error_line(done, "interrupted", EXIT_INTERRUPTED) == "stopped by Ctrl-C"
    finally:
        release.set()


async def test_a_missing_url_is_one_usage_line_and_exit_2() -> None:
    done = await run_cli("submit")
    assert "required: url" in error_line(done, "usage", EXIT_USAGE)


async def test_a_timeout_that_is_not_positive_is_a_usage_error() -> None:
    for value in ("0", "-1", "soon", "nan"):
        done = await run_cli("submit", "https://example.com/", "--timeout", value)
        assert "--timeout" in error_line(done, "usage", EXIT_USAGE)


async def test_an_empty_id_is_a_usage_error_not_a_random_id_in_its_place() -> None:
    for command in (["submit", "https://example.com/"], ["crawl", "https://example.com/"],
                    ["feeds", "add", "https://example.com/"]):  # fmt: skip
        done = await run_cli(*command, "--id", "", "--server", f"http://127.0.0.1:{free_port()}")
        assert "--id: is empty: give an id" in error_line(done, "usage", EXIT_USAGE)
