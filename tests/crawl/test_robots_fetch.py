"""What each answer to a robots.txt fetch means (RFC 9309 2.3), against local sites on loopback."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from linkcast.crawl.robots import ROBOTS_PARSE_LIMIT
from linkcast.crawl.robots_fetch import fetch_robots, robots_url
from linkcast.fetch import Fetcher
from linkcast.fetch.dns import GuardedResolver
from linkcast.settings import Settings
from tests.support.ports import free_port
from tests.support.site import LocalSite

TTL, UNREACHABLE_TTL = 3600.0, 60.0


@pytest.fixture
async def other_site() -> AsyncIterator[LocalSite]:
    local = LocalSite()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def fetcher_for(site: LocalSite, other_site: LocalSite) -> AsyncIterator[Any]:
    """Fetchers allowed to reach both local sites, with short robots TTLs; closed at the end."""
    made: list[Fetcher] = []

    async def make(**changes: Any) -> Fetcher:
        allowed = f"127.0.0.1:{site.port},127.0.0.1:{other_site.port}"
        changes = {"robots_cache_ttl": TTL, "robots_unreachable_ttl": UNREACHABLE_TTL, "retries": 0, **changes}
        fetcher = Fetcher(Settings(allow_hosts=allowed, **changes))
        await fetcher.open()
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


def test_robots_url_is_at_the_root_of_the_site() -> None:
    assert robots_url("https://Example.com:8443/a/b?c=d#e") == "https://example.com:8443/robots.txt"
    assert robots_url("http://example.com") == "http://example.com/robots.txt"
    assert robots_url("http://user:secret@example.com:81/a") == "http://example.com:81/robots.txt"


async def test_robots_txt_is_asked_without_the_credentials_of_the_url_that_needs_it(
    site: LocalSite, fetcher_for: Any
) -> None:
    """Kept for every crawl of the site, robots.txt was fetched with the user:password of whichever crawl's URL
    asked first: those credentials went with it, and its answer (maybe a logged-in view) ruled other crawls."""
    sent: list[str | None] = []

    async def robots(request: web.Request) -> web.Response:
        sent.append(request.headers.get("Authorization"))
        return web.Response(text="User-agent: *\nDisallow: /private\n", content_type="text/plain")

    site.route("/robots.txt", robots)
    answer = await fetch_robots(await fetcher_for(), site.url("/page").replace("://", "://user:secret@"))
    assert answer.outcome == "parsed" and sent == [None]


async def test_a_2xx_robots_txt_is_parsed_and_kept_the_cache_ttl(site: LocalSite, fetcher_for: Any) -> None:
    site.page("/robots.txt", "User-agent: *\nDisallow: /private\nSitemap: /s.xml\n", content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(), site.url("/any/page"))
    assert (answer.outcome, answer.ttl, answer.status_code) == ("parsed", TTL, 200)
    assert not answer.rules.allows("/private", "linkcast") and answer.rules.allows("/public", "linkcast")
    assert answer.rules.sitemaps == ("/s.xml",)


async def test_five_redirects_are_followed_across_hosts(
    site: LocalSite, other_site: LocalSite, fetcher_for: Any
) -> None:
    hops = [site.url("/robots.txt"), *(other_site.url(f"/r{n}") for n in range(1, 5)), site.url("/final.txt")]
    for here, there in itertools.pairwise(hops):
        owner = site if here.startswith(site.origin) else other_site
        owner.route(here.removeprefix(owner.origin), _redirect(there))
    site.page("/final.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert answer.outcome == "parsed" and not answer.rules.allows("/x", "linkcast")


async def test_more_than_five_redirects_mean_no_robots_txt(site: LocalSite, fetcher_for: Any) -> None:
    site.route("/robots.txt", _redirect("/r1"))
    for n in range(1, 6):
        site.route(f"/r{n}", _redirect(f"/r{n + 1}"))
    site.page("/r6", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert (answer.outcome, answer.error, answer.ttl) == ("unavailable", "too_many_redirects", TTL)
    assert answer.rules.allows("/anything", "linkcast")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
async def test_a_4xx_allows_everything(site: LocalSite, fetcher_for: Any, status: int) -> None:
    site.page("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain", status=status)
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert (answer.outcome, answer.status_code, answer.ttl) == ("unavailable", status, TTL)
    assert answer.rules.allows("/anything", "linkcast")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_5xx_or_429_disallows_everything_for_a_while(site: LocalSite, fetcher_for: Any, status: int) -> None:
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain", status=status)
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert (answer.outcome, answer.status_code, answer.ttl) == ("unreachable", status, UNREACHABLE_TTL)
    assert not answer.rules.allows("/anything", "linkcast")


async def test_a_retry_after_lengthens_the_wait_up_to_the_cache_ttl(site: LocalSite, fetcher_for: Any) -> None:
    retry_after = "0"

    async def busy(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": retry_after})

    site.route("/robots.txt", busy)
    fetcher = await fetcher_for()
    ttls = []
    for retry_after in ("0", "600", "999999"):  # noqa: B007  # read by the handler
        ttls.append((await fetch_robots(fetcher, site.origin)).ttl)
    assert ttls == [UNREACHABLE_TTL, 600, TTL]


async def test_a_refused_connection_disallows_everything_for_a_while(fetcher_for: Any) -> None:
    port = free_port()  # nothing listens there
    fetcher = Fetcher(Settings(allow_hosts=f"127.0.0.1:{port}", retries=0, robots_unreachable_ttl=UNREACHABLE_TTL))
    await fetcher.open()
    try:
        answer = await fetch_robots(fetcher, f"http://127.0.0.1:{port}/")
    finally:
        await fetcher.close()
    assert (answer.outcome, answer.error, answer.ttl) == ("unreachable", "connect", UNREACHABLE_TTL)
    assert not answer.rules.allows("/", "linkcast")


async def test_a_timeout_disallows_everything_for_a_while(site: LocalSite, fetcher_for: Any) -> None:
    never = asyncio.Event()

    async def stall(_request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    site.route("/robots.txt", stall)
    answer = await fetch_robots(await fetcher_for(fetch_timeout=0.5), site.origin)
    assert (answer.outcome, answer.error, answer.ttl) == ("unreachable", "timeout", UNREACHABLE_TTL)


class FailingDNS(AbstractResolver):
    """A name that does not resolve, without asking any DNS server."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        raise OSError(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


async def test_a_dns_failure_disallows_everything_for_a_while(fetcher_for: Any) -> None:
    fetcher = await fetcher_for()
    assert fetcher._session is not None
    fetcher._session.connector._resolver = GuardedResolver(fetcher.policy, FailingDNS())  # type: ignore[union-attr]
    answer = await fetch_robots(fetcher, "http://no-such-host.test/")
    assert (answer.outcome, answer.error, answer.ttl) == ("unreachable", "dns", UNREACHABLE_TTL)


async def test_a_redirect_to_a_refused_address_disallows_everything(site: LocalSite, fetcher_for: Any) -> None:
    site.route("/robots.txt", _redirect("http://169.254.169.254/robots.txt"))
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert (answer.outcome, answer.error, answer.ttl) == ("unreachable", "blocked", TTL)
    assert not answer.rules.allows("/", "linkcast")


async def test_only_a_refused_site_itself_is_site_refused(site: LocalSite, fetcher_for: Any) -> None:
    """A site whose robots.txt URL is refused has every page refused the same way: robots.txt had no say, and a
    crawl reports its pages blocked. One whose robots.txt redirects to a refused address is still disallowed."""
    fetcher = await fetcher_for()
    refused = await fetch_robots(fetcher, f"http://127.0.0.1:{free_port()}/page")
    assert (refused.outcome, refused.error, refused.site_refused) == ("unreachable", "blocked", True)
    # Its pages go without rules while the answer is kept: kept briefly, in case the name turns public meanwhile.
    assert refused.ttl == UNREACHABLE_TTL
    site.route("/robots.txt", _redirect(f"http://127.0.0.1:{free_port()}/robots.txt"))
    redirected = await fetch_robots(fetcher, site.origin)
    assert (redirected.outcome, redirected.error, redirected.site_refused) == ("unreachable", "blocked", False)
    assert not redirected.rules.allows("/", "linkcast")


async def test_a_body_past_500_kib_is_cut_there_and_read_in_whole_lines(site: LocalSite, fetcher_for: Any) -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    padding = b"# padding\n" * (ROBOTS_PARSE_LIMIT // 10)
    site.page("/robots.txt", head + padding + b"Disallow: /late\n" * 10_000, content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert answer.outcome == "parsed" and answer.rules.truncated
    assert not answer.rules.allows("/early", "linkcast") and answer.rules.allows("/late", "linkcast")


async def test_a_line_that_ends_at_500_kib_exactly_is_read(site: LocalSite, fetcher_for: Any) -> None:
    """RFC 9309 2.5: the first 500 KiB must be parsed. Fetched to 500 KiB exactly, a body could not tell a last line
    that ends there from one cut there, and dropped it: the fetch reads one octet more, the end of that line."""
    head = b"User-agent: *\n" + b"# padding\n" * (ROBOTS_PARSE_LIMIT // 10 - 10)
    last = b"Disallow: /late"
    head += b"#" * (ROBOTS_PARSE_LIMIT - len(head) - len(last) - 1) + b"\n"
    site.page("/robots.txt", head + last + b"\nDisallow: /after\n", content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(), site.origin)
    assert answer.outcome == "parsed" and answer.rules.truncated
    assert not answer.rules.allows("/late", "linkcast") and answer.rules.allows("/after", "linkcast")


async def test_a_line_cut_by_a_smaller_body_limit_is_dropped(site: LocalSite, fetcher_for: Any) -> None:
    site.page("/robots.txt", b"User-agent: *\nDisallow: /private-and-long\n", content_type="text/plain")
    answer = await fetch_robots(await fetcher_for(max_body_bytes=26), site.origin)  # cut inside "/private-..."
    assert answer.rules.truncated and answer.rules.allows("/p", "linkcast")


def _redirect(to: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": to})

    return handler
