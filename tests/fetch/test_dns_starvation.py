"""DNS that never answers holds only DNS lookups, and only a bounded number of them: other users' fetches and feed
polls finish as ever, names of other domains still resolve.

A ``getaddrinfo`` cannot be cancelled: each lookup of a name whose DNS never answers held one of the event loop's
lookup threads (uvloop's libuv pool runs two at once) for the resolver's whole timeout, and every other fetch, of a
name or of an IP address (PUT /feeds of one failed with ``timeout``), waited behind them. The service here resolves
through a DNS server of the test's own (``tests/support/private_dns``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.private_dns import (
    HUNG_ZONE,
    QUICK_ZONE,
    PrivateDNS,
    ServiceOnPrivateDNS,
    require_private_resolver,
    run_python_on_private_dns,
)
from tests.support.service import receive_until
from tests.support.site import LocalSite

# The resolver's timeout per try: a lookup of a name never answered takes twice this (A and AAAA), far longer than
# anything else here takes.
HUNG_TRY_SECONDS = 15
HUNG_URLS = 16
# Generous: a page and a feed poll on loopback take well under a second; behind hung lookups, 2 x HUNG_TRY_SECONDS.
PROMPTLY = 12.0


@pytest.fixture
def private_dns(tmp_path: Path) -> Iterator[PrivateDNS]:
    require_private_resolver()
    dns = PrivateDNS(tmp_path, HUNG_TRY_SECONDS)
    yield dns
    dns.close()


@pytest.fixture
async def service(private_dns: PrivateDNS, tmp_path: Path) -> AsyncIterator[ServiceOnPrivateDNS]:
    # Workers enough that none waits for a worker (a hung fetch holds one, up to --fetch-timeout): the DNS is tested.
    running = ServiceOnPrivateDNS(
        private_dns, "--allow-private-networks", "--rate-limit", "0", "--workers", "32", "--fetch-timeout", "5",
        "--feed-min-interval", "0.3", store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop(timeout=10)


async def test_names_whose_dns_never_answers_stall_no_other_fetch_nor_feed_poll(
    service: ServiceOnPrivateDNS, private_dns: PrivateDNS, feed_site: FeedServer
) -> None:
    async with LocalSite() as site:
        site.page("/", '<a href="/next">next</a>')
        for i in range(HUNG_URLS):
            status, body = await service.put(f"hung-{i}", f"http://h{i}.{HUNG_ZONE}/")
            assert status == 201, body
        async with asyncio.timeout(10):  # lookups of hung names are out (uvloop's libuv runs 2 at once)
            while len({name for name in private_dns.queries if name.endswith(HUNG_ZONE)}) < 2:
                await asyncio.sleep(0.05)
        began = time.monotonic()
        feed = feed_site.feed("/f.xml", Feed(rss(("a", "Alpha"))))
        async with service.connect("request_id=named&request_id=literal&request_id=f&since=0") as ws:
            assert (await service.put("named", site.url("/").replace("127.0.0.1", f"ok.{QUICK_ZONE}")))[0] == 201
            assert (await service.put("literal", site.url("/")))[0] == 201
            status, body = await service.call("PUT", "/feeds/f", json={"url": feed})
            assert status == 201, body

            def all_ended(frames: list[dict[str, object]]) -> bool:
                ended = {f["request_id"] for f in frames if f.get("type") in ("result", "error")}
                return {"named", "literal"} <= ended and any(f.get("type") == "feed.entry" for f in frames)

            frames = await receive_until(ws, all_ended, timeout=PROMPTLY)
    took = time.monotonic() - began
    results = {f["request_id"]: f for f in frames if f.get("type") == "result"}
    assert set(results) == {"named", "literal"}, frames
    assert results["named"]["links"] == [f"http://ok.{QUICK_ZONE}:{site.port}/next"]
    assert took < PROMPTLY


LOOKUPS_SCRIPT = f"""
import asyncio, socket, time
from linkcast.core.policy import AddressPolicy
from linkcast.fetch.dns import MAX_ADDRESSES_PER_FAMILY, refuse_resolved
from linkcast.fetch.lookups import HOST_LOOKUPS, MAX_LOOKUPS_PER_SITE, HostLookups, LookupsBusy

def look_up(lookups, host, optional=False):
    return asyncio.ensure_future(lookups.getaddrinfo(host, 80, 0, socket.SOCK_STREAM, 0, optional=optional))

async def refused_at_once(lookups, host, optional=False):
    began = time.monotonic()
    try:
        await look_up(lookups, host, optional)
    except LookupsBusy:
        assert time.monotonic() - began < 0.5
        return
    raise AssertionError(host + " was looked up")

async def main():
    lookups = HostLookups(max_lookups=3, max_per_site=2, room_wait_seconds=0.2)
    hung = [look_up(lookups, f"{{name}}.{HUNG_ZONE}") for name in ("a", "b", "a", "a")]
    await asyncio.sleep(0.2)
    assert lookups.in_flight == 2, lookups.in_flight  # one thread for the three lookups of a
    await refused_at_once(lookups, "c.{HUNG_ZONE}")  # its domain has its share
    await refused_at_once(lookups, "ok.{QUICK_ZONE}", optional=True)  # half of the threads are held
    other = look_up(lookups, "x.other.test")  # another domain's: the last thread
    await asyncio.sleep(0.2)
    await refused_at_once(lookups, "ok.{QUICK_ZONE}")  # every thread is held
    began = time.monotonic()
    for lookup in [*hung, other]:
        try:
            await lookup
            raise AssertionError("a name never answered was resolved")
        except LookupsBusy:
            raise
        except socket.gaierror:
            pass
    print("hung lookups ended after", round(time.monotonic() - began, 1), "s")
    assert lookups.in_flight == 0
    began = time.monotonic()
    try:
        await look_up(lookups, "a.{HUNG_ZONE}")
        raise AssertionError("resolved")
    except socket.gaierror as error:
        assert not isinstance(error, LookupsBusy) and "lately" in str(error), error
    assert time.monotonic() - began < 0.5  # not asked again for a while
    infos = await look_up(lookups, "ok.{QUICK_ZONE}")
    assert {{info[4][0] for info in infos}} == {{"127.0.0.1"}}, infos

    # Room taken by answered lookups comes back in milliseconds: a lookup waits for it rather than fail.
    one_at_a_time = HostLookups(max_lookups=1, max_per_site=1)
    burst = [look_up(one_at_a_time, f"n{{i}}.{QUICK_ZONE}") for i in range(5)]
    for infos in await asyncio.gather(*burst):
        assert {{info[4][0] for info in infos}} == {{"127.0.0.1"}}, infos

    # A registration's lookup (PUT /webhooks...) neither waits for room nor takes any when the name's domain is full.
    held = [look_up(HOST_LOOKUPS, f"r{{i}}.{HUNG_ZONE}") for i in range(MAX_LOOKUPS_PER_SITE)]
    await asyncio.sleep(0.2)
    began = time.monotonic()
    await refuse_resolved(AddressPolicy(), "https://hook.{HUNG_ZONE}/in")
    assert time.monotonic() - began < 0.5
    assert HOST_LOOKUPS.in_flight == MAX_LOOKUPS_PER_SITE
    for lookup in held:
        lookup.cancel()
    print("ok")

asyncio.run(main())
"""


def test_lookups_are_bounded_shared_per_name_and_names_that_timed_out_fail_at_once(tmp_path: Path) -> None:
    require_private_resolver()
    dns = PrivateDNS(tmp_path, 1)
    try:
        output = run_python_on_private_dns(dns, LOOKUPS_SCRIPT)
    finally:
        dns.close()
    assert output.strip().endswith("ok"), output
    assert dns.queries.count(f"a.{HUNG_ZONE}") <= 4  # A and AAAA, one try each: the three lookups asked once
