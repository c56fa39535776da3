"""WebSub through the whole service, against a hub on loopback (``tests/support/websub_hub.py``): the subscriber
checks of websub.rocks (discovery 100-104, subscribing 200-205, distribution 300-302), lease renewal, denial,
unsubscribing, the SSRF guard on the hub, and what a feed without ``--public-url`` says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until
from tests.support.websub_hub import Subscriber, WebSubHub

FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "30", "--feed-default-interval", "0.5"]
ATOM = "application/atom+xml"


def atom(*entries: str, hub: str | None = None, own: str | None = None) -> str:
    links = (f'<link rel="hub" href="{hub}"/>' if hub else "") + (f'<link rel="self" href="{own}"/>' if own else "")
    items = "".join(
        f"<entry><id>urn:{e}</id><title>{e}</title><link href='/entry/{e}'/><updated>2026-01-01T00:00:00Z</updated>"
        "</entry>"
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        f"<id>urn:t</id><updated>2026-01-01T00:00:00Z</updated>{links}{items}</feed>"
    )


def rss_with_hub(hub: str, own: str, *items: tuple[str, str]) -> str:
    channel_links = (
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{hub}"/>'
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{own}"/>'
    )
    return rss(*items).replace("<channel>", "<channel>" + channel_links, 1)


def link_header(hub: str, own: str) -> dict[str, str]:
    return {"Link": f'<{hub}>; rel="hub", <{own}>; rel="self"'}


def subscriber(tmp_path: Path, *flags: str, public: bool = True) -> Service:
    service = Service("--allow-private-networks", "--rate-limit", "0", "--websub-verify-timeout", "20", *FAST,
                      *flags, store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip
    if public:
        service.flags += ["--public-url", service.base_url]
    return service


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """One subscriber for the module's tests (each its own feed, site and hub)."""
    running = subscriber(tmp_path_factory.mktemp("websub"))
    await running.start()
    yield running
    running.stop()


async def watch(service: Service, feed_id: str, url: str, **options: Any) -> dict[str, Any]:
    status, body = await service.call("PUT", f"/feeds/{feed_id}", json={"url": url, **options})
    assert status == 201, body
    return body


async def push_state(service: Service, feed_id: str) -> dict[str, Any]:
    status, record = await service.call("GET", f"/feeds/{feed_id}")
    assert status == 200, record
    push: dict[str, Any] = record["push"]
    return push


async def subscribed(service: Service, hub: WebSubHub, feed_id: str, url: str, **options: Any) -> str:
    """Watch ``url`` and wait until the hub holds a verified subscription; the topic subscribed to."""
    await watch(service, feed_id, url, **options)
    [asked] = await hub.wait_asked(1)
    assert asked.confirmed, asked.verification
    return asked.topic


# -- discovery (websub.rocks 100-104) ------------------------------------------------------------------------------


async def test_100_the_hub_and_self_of_the_link_headers(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    own = site.url("/100-self")
    url = site.feed("/100", Feed(rss(("a", "A")), extra_headers=link_header(hub.hub_url, own)))
    assert await subscribed(service, hub, "f100", url) == own
    [asked] = hub.asked
    assert asked.callback.startswith(f"{service.base_url}/websub/f100/")
    assert len(asked.form["hub.secret"]) >= 64, "a secret of at least 32 random bytes (hex)"
    assert int(asked.form["hub.lease_seconds"]) == 10 * 86400
    push = await push_state(service, "f100")
    assert (push["state"], push["hub"], push["topic"], push["lease_seconds"]) == ("subscribed", hub.hub_url, own, 3600)
    assert "secret" not in push and "callback" not in push


async def test_101_the_hub_and_self_of_an_html_page(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    own = site.url("/101-self")
    page = f'<html><head><link rel="hub" href="{hub.hub_url}"><link rel="self" href="/101-self"></head>'
    url = site.page("/101", page + '<body><a href="/post/1">One</a></body></html>')
    assert await subscribed(service, hub, "f101", url, watch="links") == own


async def test_102_the_hub_and_self_of_an_atom_feed(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    own = site.url("/102-self")
    url = site.feed("/102", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    assert await subscribed(service, hub, "f102", url) == own


async def test_103_the_hub_and_self_of_an_rss_feed(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    own = site.url("/103-self")
    url = site.feed("/103", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    assert await subscribed(service, hub, "f103", url) == own


async def test_104_the_link_headers_win_over_the_document(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    own = site.url("/104-header-self")
    document = atom("a", hub=hub.url("/other-hub"), own=site.url("/104-document-self"))
    url = site.feed("/104", Feed(document, content_type=ATOM, extra_headers=link_header(hub.hub_url, own)))
    assert await subscribed(service, hub, "f104", url) == own
    assert [asked.path for asked in hub.asked] == ["/hub"]
    # Its deliveries carry the document as it is (its own self link and all): the header's topic is what counts.
    await _wait_entries(service, "f104", 1)
    pushed = atom("b", "a", hub=hub.url("/other-hub"), own=site.url("/104-document-self")).encode()
    assert 200 <= await hub.deliver(own, pushed, ATOM) < 300
    assert (await push_state(service, "f104"))["pushes"] == 1
    await _wait_entries(service, "f104", 2)


# -- subscribing (websub.rocks 200-205) ----------------------------------------------------------------------------


async def test_200_the_topic_is_the_self_url_not_the_url_fetched(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/elsewhere/200")
    url = site.feed("/200", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    topic = await subscribed(service, hub, "f200", url)
    assert topic == own and topic != url


@pytest.mark.parametrize("status", [302, 301])
async def test_201_202_a_redirected_topic_is_subscribed_where_it_leads(
    service: Service, site: FeedServer, hub: WebSubHub, status: int
) -> None:
    own = site.url(f"/{status}-final")
    final = site.feed(f"/{status}-final", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    start = site.feed(f"/{status}", Feed(rss(("a", "A"))))
    site.feeds[f"/{status}"].queued = [(status, {"Location": final})] * 3  # discovery, then the first poll
    assert await subscribed(service, hub, f"r{status}", start) == own
    _status, record = await service.call("GET", f"/feeds/r{status}")
    assert record["url"] == (final if status == 301 else start)  # a 302 says to keep asking where we asked


@pytest.mark.parametrize("status", [307, 308])
async def test_203_204_a_hub_that_redirects_is_asked_again_where_it_says(
    service: Service, site: FeedServer, hub: WebSubHub, status: int
) -> None:
    moved = hub.redirect(f"/hub-{status}", status)
    own = site.url(f"/h{status}-self")
    url = site.feed(f"/h{status}", Feed(rss_with_hub(moved, own, ("a", "A"))))
    assert await subscribed(service, hub, f"h{status}", url) == own
    first, second = hub.asked[:2]
    assert (first.path, second.path) == (f"/hub-{status}", "/hub")
    assert first.form == second.form, "the same POST, body and all, to where the hub redirected"
    assert (await push_state(service, f"h{status}"))["hub"] == moved


async def test_205_a_verification_for_another_topic_is_refused(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    hub.behaviour.verify_topic = site.url("/not-the-topic")
    url = site.feed("/205", Feed(rss_with_hub(hub.hub_url, site.url("/205"), ("a", "A"))))
    await watch(service, "f205", url)
    [asked] = await hub.wait_asked(1)
    assert asked.verification is not None and asked.verification[0] == 404
    assert asked.verification[1] != hub.behaviour.verify_topic
    push = await push_state(service, "f205")
    assert (push["state"], push["pending"]) == ("requested", "subscribe")


async def test_a_hub_that_decodes_the_topics_unreserved_characters_is_confirmed_and_its_deliveries_taken(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/%7Eunreserved/feed")
    url = site.feed("/unreserved", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    decoded = site.url("/~unreserved/feed")  # hubs MUST decode non-reserved characters of the topic (WebSub 5.1.1)
    hub.behaviour.verify_topic = decoded
    assert await subscribed(service, hub, "unreserved", url) == own
    await _wait_entries(service, "unreserved", 1)
    pushed = atom("b", "a", hub=hub.hub_url, own=decoded).encode()
    assert 200 <= await hub.deliver(own, pushed, ATOM, own=decoded) < 300
    await _wait_entries(service, "unreserved", 2)
    assert (await push_state(service, "unreserved"))["dropped"] == 0


# -- distribution (websub.rocks 300-302) ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
async def test_300_a_signed_delivery_is_answered_2xx_and_its_new_entries_sent_once(
    service: Service, site: FeedServer, hub: WebSubHub, method: str
) -> None:
    own = site.url("/300")
    feed = Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM)
    url = site.feed("/300", feed)
    async with service.connect(f"request_id=f300{method}&since=0") as ws:
        await subscribed(service, hub, f"f300{method}", url)
        await receive_until(ws, lambda frames: any(f.get("type") == "feed.entry" for f in frames))
        pushed = atom("b", "a", hub=hub.hub_url, own=own).encode()
        assert await hub.deliver(own, pushed, ATOM, sign=method) in (200, 202, 204)
        frames = await receive_until(ws, lambda frames: any(f.get("type") == "feed.entry" for f in frames))
    assert [(f["entry_id"], f.get("backlog")) for f in frames if f["type"] == "feed.entry"] == [("urn:b", None)]
    push = await push_state(service, f"f300{method}")
    assert (push["pushes"], push["dropped"]) == (1, 0) and push["last_push_at"] is not None


@pytest.mark.parametrize("signing", ["bad", "unsigned", "unknown_method"])
async def test_301_302_a_delivery_badly_signed_is_answered_2xx_unsigned_403_and_either_dropped(
    service: Service, site: FeedServer, hub: WebSubHub, signing: str
) -> None:
    own = site.url("/301")
    url = site.feed("/301", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    await subscribed(service, hub, f"f301{signing}", url)
    await _wait_entries(service, f"f301{signing}", 1)
    pushed = atom("evil", hub=hub.hub_url, own=own).encode()
    if signing == "bad":
        status = await hub.deliver(own, pushed, ATOM, secret="not-the-secret")
    elif signing == "unsigned":
        status = await hub.deliver(own, pushed, ATOM, sign=None)
    else:
        status = await hub.deliver(own, pushed, ATOM, sign="md5")
    # A bad signature gets a 2xx (WebSub 8: no oracle for the secret); no signature, a 403 (websub.rocks 302).
    assert status == 403 if signing == "unsigned" else 200 <= status < 300
    push = await push_state(service, f"f301{signing}")
    assert (push["pushes"], push["dropped"]) == (0, 1)
    _status, listed = await service.call("GET", f"/feeds/f301{signing}/entries")
    assert [e["entry_id"] for e in listed["entries"]] == ["urn:a"]
    status, metrics = await _metrics(service)
    assert 'outcome="' + ("unsigned" if signing == "unsigned" else "bad_signature") + '"' in metrics


@pytest.mark.parametrize(("header", "document"), [("other", "own"), ("", "other"), ("other", "other")])
async def test_a_signed_delivery_of_another_feed_is_answered_2xx_and_dropped(
    service: Service, site: FeedServer, hub: WebSubHub, header: str, document: str
) -> None:
    """The callback names the subscription and the signature proves its hub sent the body; a body whose Link
    ``rel=self`` (WebSub 7: the topic being updated) or, without one, whose own self link names another feed is not
    this feed's."""
    case = f"{header or 'none'}-{document}"
    own, other = site.url(f"/mine-{case}"), site.url("/someone-elses")
    url = site.feed(f"/mine-{case}", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    feed_id = f"another-{case}"
    await subscribed(service, hub, feed_id, url)
    await _wait_entries(service, feed_id, 1)
    named = {"own": own, "other": other, "": ""}
    pushed = atom("theirs", hub=hub.hub_url, own=named[document]).encode()
    assert 200 <= await hub.deliver(own, pushed, ATOM, own=named[header]) < 300
    push = await push_state(service, feed_id)
    assert (push["pushes"], push["dropped"]) == (0, 1)
    _status, listed = await service.call("GET", f"/feeds/{feed_id}/entries")
    assert [e["entry_id"] for e in listed["entries"]] == ["urn:a"]
    assert 'outcome="another_topic"' in (await _metrics(service))[1]


async def test_a_delivery_past_the_body_cap_is_refused_and_counted(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    service = subscriber(tmp_path, "--max-body-bytes", "50000")
    await service.start()
    try:
        own = site.url("/big")
        url = site.feed("/big", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await subscribed(service, hub, "big", url)
        assert await hub.deliver(own, b"<feed>" + b" " * 100_000 + b"</feed>", ATOM) == 413
        assert (await push_state(service, "big"))["dropped"] == 1
    finally:
        service.stop()


# -- the lease, denial, unsubscribing -------------------------------------------------------------------------------


async def test_the_lease_is_renewed_before_it_ends(service: Service, site: FeedServer, hub: WebSubHub) -> None:
    hub.behaviour.lease_seconds = 3
    own = site.url("/lease")
    url = site.feed("/lease", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "lease", url)
    first, renewal = await hub.wait_asked(2, timeout=20)
    assert renewal.callback == first.callback and renewal.form["hub.secret"] == first.form["hub.secret"]
    assert first.verified_at is not None and renewal.at - first.verified_at < 3, "renewed only after the lease ended"
    assert renewal.confirmed
    assert (await push_state(service, "lease"))["state"] == "subscribed"


async def test_a_renewal_the_hub_refuses_falls_back_to_polling_once_the_lease_ends(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    hub.behaviour.lease_seconds = 2
    own = site.url("/refused")
    url = site.feed("/refused", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "refused", url)
    hub.behaviour.refuse = True
    await hub.wait_asked(2, timeout=10)  # the renewal, refused
    push = await _wait_push(service, "refused", lambda p: p["state"] == "expired")
    assert "500" in push["reason"]
    polls = len(site.requests_to("/refused"))
    await site.wait_requests("/refused", polls + 3, timeout=10)  # polled at the feed's own interval again


async def test_while_the_hub_pushes_polls_slow_to_the_longest_interval(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/slow")
    url = site.feed("/slow", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "slow", url)
    polls = len(site.requests_to("/slow"))
    await site.wait_requests("/slow", polls + 1)  # the first poll once the hub verified
    async with asyncio.timeout(10):
        while True:
            _status, record = await service.call("GET", "/feeds/slow")
            if record["last_poll"] and record["next_poll"] - record["last_poll"] > 1:
                break
            await asyncio.sleep(0.05)
    assert record["next_poll"] - record["last_poll"] >= 30 * 0.9, record


async def test_a_denied_subscription_is_recorded_and_the_feed_still_polled(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    hub.behaviour.deny = True
    feed = Feed(rss_with_hub(hub.hub_url, site.url("/denied"), ("a", "A")))
    url = site.feed("/denied", feed)
    await watch(service, "denied", url)
    [asked] = await hub.wait_asked(1)
    assert asked.verification == (200, "")
    push = await push_state(service, "denied")
    assert push["state"] == "denied" and "not on this hub" in push["reason"]
    polls = len(site.requests_to("/denied"))
    await site.wait_requests("/denied", polls + 2, timeout=10)


async def test_a_subscription_the_hub_denies_once_it_pushed_has_the_feed_polled_again(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """WebSub 5.2: a hub may deny a subscription at any point, one it verified too, and then pushes no more; the
    feed, polled at --feed-max-interval while it pushed, was left unread that long (a day by default)."""
    own = site.url("/denied-later")
    url = site.feed("/denied-later", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "denied-later", url)
    async with asyncio.timeout(10):  # until a poll is followed as a pushed feed's
        while (record := (await service.call("GET", "/feeds/denied-later"))[1])["next_poll"] - record[
            "last_poll"
        ] < 30 * 0.5:
            await asyncio.sleep(0.05)
    callback = hub.subscribers[own].callback.removeprefix(service.base_url)
    query = {"hub.mode": "denied", "hub.topic": own, "hub.reason": "the topic moved"}
    status, _ = await service.call("GET", callback, params=query)
    assert status == 200
    _status, record = await service.call("GET", "/feeds/denied-later")
    assert (record["push"]["state"], record["push"]["reason"]) == (
        "denied",
        "the hub denied the subscription: the topic moved",
    )
    assert record["next_poll"] - record["last_poll"] < 30 * 0.5, record  # polled again at once, then as asked


async def test_removing_a_feed_unsubscribes_and_its_callback_is_then_gone(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/rm")
    url = site.feed("/rm", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "rm", url)
    callback = hub.subscribers[own].callback
    status, _ = await service.call("DELETE", "/feeds/rm")
    assert status == 200
    [unsubscribe] = await hub.wait_asked(1, mode="unsubscribe")
    assert unsubscribe.callback == callback and unsubscribe.topic == own and unsubscribe.confirmed
    assert own not in hub.subscribers
    hub.subscribers[own] = Subscriber(callback, "x", 1)  # a hub that did not take the unsubscription to heart
    assert await hub.deliver(own, b"<feed/>", ATOM) == 410


async def test_a_feed_gone_410_is_unsubscribed_and_its_callback_is_then_gone(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """410 ends a feed for good: its hub is asked to stop at once (not when an hour's lease would be renewed) and
    whatever it still delivers is answered 410, not recorded."""
    hub.behaviour.lease_seconds = 3600
    own = site.url("/gone")
    url = site.feed("/gone", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "gone", url)
    subscriber = hub.subscribers[own]
    site.feeds["/gone"].queued.append((410, {}))
    async with asyncio.timeout(20):
        while (await service.call("GET", "/feeds/gone"))[1]["state"] != "gone":
            await asyncio.sleep(0.05)
    [unsubscribe] = await hub.wait_asked(1, mode="unsubscribe")
    assert unsubscribe.topic == own and unsubscribe.confirmed
    hub.subscribers[own] = subscriber  # a hub that delivers all the same, after the unsubscription
    assert await hub.deliver(own, atom("b", hub=hub.hub_url, own=own).encode(), ATOM) == 410
    _status, listed = await service.call("GET", "/feeds/gone/entries")
    assert [e["entry_id"] for e in listed["entries"]] == ["a"]


async def test_a_feed_that_names_no_hub_any_more_is_unsubscribed_and_polled_as_before(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """Renewed for ever, the subscription would keep the feed's polls at --feed-max-interval for a hub that the
    publisher no longer tells of its updates."""
    hub.behaviour.lease_seconds = 1  # a poll when the lease would end
    own = site.url("/hubless")
    url = site.feed("/hubless", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "hubless", url)
    site.feeds["/hubless"].update(rss(("b", "B"), ("a", "A")))  # the publisher stopped naming a hub
    await hub.wait_for(lambda: any(a.mode == "unsubscribe" and a.topic == own and a.confirmed for a in hub.asked))
    async with asyncio.timeout(10):
        while (await service.call("GET", "/feeds/hubless"))[1].get("push") is not None:
            await asyncio.sleep(0.05)
    polls = len(site.requests_to("/hubless"))
    await site.wait_requests("/hubless", polls + 2, timeout=10)  # at the feed's own interval again


async def test_the_poll_that_finds_the_hub_gone_is_followed_at_the_feeds_own_interval(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    """The poll that ends the subscription (its lease an hour yet) was scheduled as one of a feed its hub pushes, at
    --feed-max-interval (a day by default): the feed went that long unread, pushed by no one."""
    service = subscriber(tmp_path, "--feed-max-interval", "5")
    await service.start()
    try:
        own = site.url("/hub-dropped")
        url = site.feed("/hub-dropped", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
        await subscribed(service, hub, "hub-dropped", url)
        site.feeds["/hub-dropped"].update(rss(("b", "B"), ("a", "A")))  # the publisher stopped naming a hub
        await hub.wait_for(lambda: any(a.mode == "unsubscribe" and a.topic == own and a.confirmed for a in hub.asked))
        record = (await service.call("GET", "/feeds/hub-dropped"))[1]
        assert record.get("push") is None, record
        assert record["next_poll"] - record["last_poll"] < 5 * 0.5, record  # 0.5 s asked, 5 s the longest
    finally:
        service.stop()


async def test_a_verification_of_the_subscription_held_is_confirmed_with_its_new_lease(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """WebSub 5: a hub may reconfirm an active subscription, or verify again when the answer to its verification was
    lost; refused, it would end a subscription that linkcast counts on until its lease ends."""
    own = site.url("/held")
    url = site.feed("/held", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "held", url)
    callback = hub.subscribers[own].callback.removeprefix(service.base_url)
    query = {"hub.mode": "subscribe", "hub.topic": own, "hub.challenge": "again", "hub.lease_seconds": "7200"}
    async with aiohttp.ClientSession() as session, session.get(service.base_url + callback, params=query) as answer:
        assert (answer.status, await answer.text()) == (200, "again")
    push = await push_state(service, "held")
    assert (push["state"], push["pending"], push["lease_seconds"]) == ("subscribed", None, 7200)


async def test_a_verification_for_nothing_pending_is_refused(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/nothing")
    url = site.feed("/nothing", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
    await subscribed(service, hub, "nothing", url)
    callback = hub.subscribers[own].callback.removeprefix(service.base_url)
    for query in (
        {"hub.mode": "unsubscribe", "hub.topic": own, "hub.challenge": "c"},  # not pending
        {"hub.mode": "other", "hub.topic": own, "hub.challenge": "c"},
    ):
        status, _ = await service.call("GET", callback, params=query)
        assert status == 404, query
    status, _ = await service.call("GET", "/websub/nothing/not-the-token",
                                   params={"hub.mode": "denied", "hub.topic": own})  # fmt: skip
    assert status == 404
    assert (await push_state(service, "nothing"))["state"] == "subscribed"


# -- the hub goes through the SSRF guard; no --public-url -----------------------------------------------------------


async def test_a_hub_the_address_policy_refuses_is_never_asked(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    service = Service("--allow-hosts", f"127.0.0.1:{site.port}", "--rate-limit", "0", *FAST,
                      store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    try:
        url = site.feed("/guarded", Feed(rss_with_hub(hub.hub_url, site.url("/guarded"), ("a", "A"))))
        await watch(service, "guarded", url)
        push = await _wait_push(service, "guarded", lambda p: p is not None and p["state"] == "failed")
        assert "blocked" in push["reason"], push
        assert hub.asked == []
    finally:
        service.stop()


async def test_without_a_public_url_the_feed_says_why_it_is_only_polled(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    service = subscriber(tmp_path, public=False)
    await service.start()
    try:
        url = site.feed("/off", Feed(rss_with_hub(hub.hub_url, site.url("/off"), ("a", "A"))))
        await watch(service, "off", url)
        push = await _wait_push(service, "off", lambda p: p is not None)
        assert push["state"] == "off" and "--public-url" in push["reason"] and push["hub"] == hub.hub_url
        await site.wait_requests("/off", 3)
        assert hub.asked == []
    finally:
        service.stop()


async def _metrics(service: Service) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(service.base_url + "/metrics") as answer:
        return answer.status, await answer.text()


async def _wait_entries(service: Service, feed_id: str, count: int) -> None:
    async with asyncio.timeout(20):
        while True:
            _status, listed = await service.call("GET", f"/feeds/{feed_id}/entries")
            if len(listed["entries"]) >= count:
                return
            await asyncio.sleep(0.05)


async def _wait_push(service: Service, feed_id: str, done: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            _status, record = await service.call("GET", f"/feeds/{feed_id}")
            if done(record.get("push")):
                return dict(record["push"])
            await asyncio.sleep(0.05)
