"""The WebSub callback attacked as an outsider (or a hostile hub) would: forged verifications, forged and malformed
deliveries, bodies sent to callbacks that are not one, and where the callback token and the secret end up. One
subscriber (logging at DEBUG, so that every line it could write is written) for the whole module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.feeds.test_websub import ATOM, FAST, atom, push_state, watch
from tests.support.feed_site import Feed, FeedServer
from tests.support.service import Service
from tests.support.websub_hub import Asked, WebSubHub

# Smaller than a delivery may be, so that a delivery past it shows the callback's own cap is the one that holds.
MAX_REQUEST_BYTES = 20_000
MAX_BODY = 10 * 1024 * 1024  # --max-body-bytes, by default
DEFAULT_WEBSUB_MEMORY = 256 * 1024 * 1024  # --websub-memory-bytes, by default


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hub() -> AsyncIterator[WebSubHub]:
    async with WebSubHub() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def silent_hub() -> AsyncIterator[WebSubHub]:
    """A hub that accepts every request and never verifies it: its subscriptions stay pending for a test to forge."""
    server = WebSubHub()
    server.behaviour.silent = True
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    scratch = tmp_path_factory.mktemp("websub-attacks")
    running = Service("--allow-private-networks", "--rate-limit", "0", "--websub-verify-timeout", "60", *FAST,
                      "--max-request-bytes", str(MAX_REQUEST_BYTES), "--log-level", "debug",
                      store=f"sqlite:///{scratch}/l.db", log_path=scratch / "serve.log")  # fmt: skip
    running.flags += ["--public-url", running.base_url]
    await running.start()
    yield running
    running.stop()


async def pending(service: Service, site: FeedServer, silent_hub: WebSubHub, feed_id: str) -> tuple[str, Asked]:
    """A feed whose subscription the (silent) hub was asked for: the callback's path and the hub's request."""
    own = site.url(f"/{feed_id}")
    site.feed(f"/{feed_id}", Feed(atom("a", hub=silent_hub.hub_url, own=own), content_type=ATOM))
    await watch(service, feed_id, own)
    await silent_hub.wait_for(lambda: any(a.topic == own for a in silent_hub.asked))
    [asked] = [a for a in silent_hub.asked if a.topic == own]
    return asked.callback.removeprefix(service.base_url), asked


async def verified(service: Service, hub: WebSubHub, feed_id: str, own: str) -> tuple[str, str]:
    """Watch the feed at ``own`` until the (module's) hub holds its verified subscription: its callback path, secret."""
    await watch(service, feed_id, own)
    await hub.wait_for(lambda: own in hub.subscribers)
    subscriber = hub.subscribers[own]
    assert subscriber.secret is not None
    return subscriber.callback.removeprefix(service.base_url), subscriber.secret


async def _wait_pushes(service: Service, feed_id: str, count: int) -> None:
    async with asyncio.timeout(20):
        while (await push_state(service, feed_id))["pushes"] < count:
            await asyncio.sleep(0.05)


async def get_text(service: Service, path: str, params: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(service.base_url + path, params=params) as answer:
        return answer.status, await answer.text()


async def post(service: Service, path: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(service.base_url + path, data=body, headers=headers) as answer,
    ):
        await answer.read()
        return answer.status


# -- forged verifications -------------------------------------------------------------------------------------------


async def test_forged_verifications_are_refused_and_leave_the_request_pending(
    service: Service, site: FeedServer, silent_hub: WebSubHub
) -> None:
    callback, asked = await pending(service, site, silent_hub, "forged")
    other, _ = await pending(service, site, silent_hub, "forged-other")
    good = {"hub.mode": "subscribe", "hub.topic": asked.topic, "hub.challenge": "c", "hub.lease_seconds": "60"}
    forgeries: list[tuple[str, dict[str, str]]] = [
        (callback, {**good, "hub.topic": site.url("/another")}),
        (callback, {k: v for k, v in good.items() if k != "hub.topic"}),
        (callback, {**good, "hub.mode": "unsubscribe"}),
        (callback, {**good, "hub.mode": "SUBSCRIBE"}),
        (callback, {k: v for k, v in good.items() if k != "hub.challenge"}),
        (callback, {**good, "hub.challenge": "x" * 5000}),
        (callback.replace("/forged/", "/forged-other/"), good),  # this feed's token on another feed
        (other.replace("/forged-other/", "/forged/"), good),  # another feed's token on this feed
        ("/websub/forged/" + "A" * 32, good),
        ("/websub/nothing-here/token", good),
    ]
    for path, query in forgeries:
        status, text = await get_text(service, path, query)
        assert status == 404 and text != "c", (path, query, text)
    push = await push_state(service, "forged")
    assert (push["state"], push["pending"]) == ("requested", "subscribe")


async def test_verifications_replayed_after_the_unsubscription_are_refused(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/replayed")
    site.feed("/replayed", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    callback, _secret = await verified(service, hub, "replayed", own)
    status, _ = await service.call("DELETE", "/feeds/replayed")
    assert status == 200
    await hub.wait_for(lambda: any(a.mode == "unsubscribe" and a.topic == own and a.confirmed for a in hub.asked))
    for mode in ("subscribe", "unsubscribe", "denied"):
        query = {"hub.mode": mode, "hub.topic": own, "hub.challenge": "again", "hub.lease_seconds": "60"}
        status, text = await get_text(service, callback, query)
        assert status == 404 and text != "again", (mode, text)
    assert (await service.call("GET", "/feeds/replayed"))[0] == 404


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("%FF%FEz%80", b"\xff\xfez\x80"),  # not UTF-8: the bytes the hub encoded, not the text "%FF%FEz%80"
        ("a+b%2Bc%26d%3D%25", b"a b+c&d=%"),
        ("%C3%A9%00%0D%0A%EF%BB%BF", "é\x00\r\n\ufeff".encode()),
    ],
)
async def test_a_challenge_is_echoed_as_the_bytes_the_hub_encoded(
    service: Service, site: FeedServer, silent_hub: WebSubHub, sent: str, echoed: bytes
) -> None:
    feed_id = f"challenge-{len(sent)}"
    callback, asked = await pending(service, site, silent_hub, feed_id)
    query = f"hub.mode=subscribe&hub.topic={quote(asked.topic, safe='')}&hub.challenge={sent}&hub.lease_seconds=60"
    async with (
        aiohttp.ClientSession() as session,
        session.get(URL(f"{service.base_url}{callback}?{query}", encoded=True)) as answer,
    ):
        assert (answer.status, await answer.read()) == (200, echoed)
    assert (await push_state(service, feed_id))["state"] == "subscribed"


@pytest.mark.parametrize("lease", ["²", "١٢٣", "-5", "1e9", " ", "9" * 40])
async def test_a_lease_that_is_not_a_number_of_ascii_digits_is_the_lease_asked_for(
    service: Service, site: FeedServer, silent_hub: WebSubHub, lease: str
) -> None:
    feed_id = f"lease-{len(lease)}-{ord(lease[0])}"
    callback, asked = await pending(service, site, silent_hub, feed_id)
    query = {"hub.mode": "subscribe", "hub.topic": asked.topic, "hub.challenge": "ch", "hub.lease_seconds": lease}
    assert await get_text(service, callback, query) == (200, "ch")
    push = await push_state(service, feed_id)
    assert (push["state"], push["lease_seconds"]) == ("subscribed", int(asked.form["hub.lease_seconds"]))


# -- forged deliveries ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["sha256=\u00e9\u00e9", "sha256=" + "\u00ff" * 64, "\u00e9=abc"])
async def test_a_signature_that_is_not_ascii_is_dropped_like_any_bad_one(
    service: Service, site: FeedServer, hub: WebSubHub, signature: str
) -> None:
    feed_id = f"latin-{ord(signature[-1])}-{len(signature)}"
    own = site.url(f"/{feed_id}")
    site.feed(f"/{feed_id}", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    callback, _secret = await verified(service, hub, feed_id, own)
    # aiohttp sends a header's str as latin-1 bytes, as a client on the wire may
    headers = {"Content-Type": ATOM, "X-Hub-Signature": signature}
    assert await post(service, callback, b"<feed/>", headers) == 202
    push = await push_state(service, feed_id)
    assert (push["pushes"], push["dropped"]) == (0, 1)


# -- where the callback token and the secret go ---------------------------------------------------------------------


async def test_neither_the_callback_token_nor_the_secret_reaches_a_log_line(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/logged")
    site.feed("/logged", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    callback, secret = await verified(service, hub, "logged", own)
    token = callback.rsplit("/", 1)[1]
    body = atom("b", "a", hub=hub.hub_url, own=own).encode()
    assert await hub.deliver(own, body, ATOM) == 202
    assert await post(service, callback, body, {"X-Hub-Signature": "sha256=00"}) == 202
    assert (await get_text(service, callback, {"hub.mode": "subscribe", "hub.topic": own}))[0] == 404
    await _wait_pushes(service, "logged", 1)
    assert service.log_path is not None
    logged = service.log_path.read_text(errors="replace")
    assert '"POST /websub/logged/' in logged, "the request log runs at this level: it has the callback's lines"
    assert token not in logged and secret not in logged


# -- bodies sent to callbacks that are not a subscription's ---------------------------------------------------------


async def _answer_before_the_body(service: Service, path: str, announced: int, sent: int, fields: str = "") -> bytes:
    """POST to ``path`` announcing ``announced`` bytes, send ``sent`` of them, and read the answer (or fail);
    ``fields``: more header lines, each ending in CRLF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\nContent-Length: {announced}\r\n{fields}\r\n"
        writer.write(head.encode() + b"x" * sent)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


async def test_a_callback_that_is_no_subscriptions_answers_410_without_reading_the_body(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/unread")
    site.feed("/unread", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    callback, _secret = await verified(service, hub, "unread", own)
    # Anyone may POST to /websub/...: until the callback is known to be a subscription's, nothing of its body is read
    # (it could be --max-body-bytes, 10 MB, on each of many connections).
    for path in ("/websub/unread/not-the-token", "/websub/no-such-feed/token", callback + "x"):
        head = await _answer_before_the_body(service, path, 5_000_000, 10_000)
        assert head.startswith(b"HTTP/1.1 410 "), (path, head)


async def test_a_delivery_larger_than_an_api_body_is_read_whole(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/large")
    site.feed("/large", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    await verified(service, hub, "large", own)
    entries = [f"large-{n}" for n in range(400)]
    body = atom(*entries, hub=hub.hub_url, own=own).encode()
    assert len(body) > 2 * MAX_REQUEST_BYTES
    assert await hub.deliver(own, body, ATOM) == 202
    await _wait_pushes(service, "large", 1)
    assert (await push_state(service, "large"))["dropped"] == 0


@pytest.mark.parametrize(("reflect", "said"), [("body", "the hub answered 400"), ("redirect", "bad_redirect")])
async def test_a_hub_quoting_the_request_in_its_refusal_reveals_neither_token_nor_secret(
    service: Service, site: FeedServer, reflect: str, said: str
) -> None:
    hub = WebSubHub()
    hub.behaviour.reflect = reflect
    await hub.start()
    try:
        own = site.url(f"/reflected-{reflect}")
        site.feed(f"/reflected-{reflect}", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await watch(service, f"reflected-{reflect}", own)
        await hub.wait_for(lambda: len(hub.asked) >= 1)
        form = hub.asked[0].form
        async with asyncio.timeout(20):
            while (push := await push_state(service, f"reflected-{reflect}"))["state"] != "failed":
                await asyncio.sleep(0.05)
    finally:
        await hub.stop()
    token = form["hub.callback"].rsplit("/", 1)[1]
    assert said in push["reason"], push
    assert token not in push["reason"] and form["hub.secret"] not in push["reason"], push
    assert service.log_path is not None
    logged = service.log_path.read_text(errors="replace")
    assert token not in logged and form["hub.secret"] not in logged


# -- a hub that pushes without end -----------------------------------------------------------------------------------


async def test_a_hub_pushing_without_end_gets_no_more_entries_than_polls_could_bring(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    """Polls bring at most --max-entries-per-poll entries every --feed-min-interval; a hub (chosen by whoever
    publishes the feed) could push as often as it likes, each new entry an event and, with "follow", a fetch. Past
    that budget a delivery is answered 429 (the hub retries later), neither checked nor parsed."""
    service = Service("--allow-private-networks", "--rate-limit", "0", "--feed-min-interval", "600",
                      "--max-entries-per-poll", "5", store=f"sqlite:///{tmp_path}/l.db",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    try:
        own = site.url("/flood")
        site.feed("/flood", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await verified(service, hub, "flood", own)
        answers = []
        for push in range(4):
            body = atom(*[f"flood-{push}-{n}" for n in range(3)], hub=hub.hub_url, own=own).encode()
            answers.append(await hub.deliver(own, body, ATOM))
        assert answers == [202, 202, 429, 429]
        _status, listed = await service.call("GET", "/feeds/flood/entries")
        pushed = [e["entry_id"] for e in listed["entries"] if "flood-" in e["entry_id"]]
        assert pushed == ["urn:flood-0-0", "urn:flood-0-1", "urn:flood-0-2", "urn:flood-1-0", "urn:flood-1-1"]
        push = await push_state(service, "flood")
        assert (push["pushes"], push["dropped"]) == (2, 2)
        # Dropped whatever they hold, so answered before their bodies are read: each was read whole first (a hub
        # could send 10 MB after 10 MB, on as many connections at once, to be dropped).
        callback = hub.subscribers[own].callback.removeprefix(service.base_url)
        signed = "X-Hub-Signature: sha256=" + "0" * 64 + "\r\n"
        over_budget = await _answer_before_the_body(service, callback, 5_000_000, 10_000, signed)
        assert over_budget.startswith(b"HTTP/1.1 429 "), over_budget
        unsigned = await _answer_before_the_body(service, callback, 5_000_000, 10_000)
        assert unsigned.startswith(b"HTTP/1.1 403 "), unsigned
        assert (await push_state(service, "flood"))["dropped"] == 4
    finally:
        service.stop()


async def test_large_deliveries_spend_the_budget_by_their_bytes_as_polls_would(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    """A poll reads one body, of up to --max-body-bytes, every --feed-min-interval; a delivery spent one unit of the
    budget per entry, one at least, whatever its size: a hub could push --max-entries-per-poll (1,000) bodies of
    10 MB every interval, each read in a child for up to --parse-timeout (a 10 MB feed of one entry with a million
    attributes: 6 s of a core), 1,000 times what polls of the feed could cost. A delivery now also spends a unit per
    --max-body-bytes / --max-entries-per-poll bytes of its body."""
    service = Service("--allow-private-networks", "--rate-limit", "0", "--feed-min-interval", "600",
                      "--max-entries-per-poll", "10", "--max-body-bytes", "200000",
                      store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    try:
        own = site.url("/heavy")
        site.feed("/heavy", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await verified(service, hub, "heavy", own)
        padding = f"<subtitle>{'x' * 90_000}</subtitle>"  # half the most a body may be: five units of ten
        answers = []
        for push in range(3):
            body = atom(f"heavy-{push}", hub=hub.hub_url, own=own).replace("<entry>", padding + "<entry>", 1)
            answers.append(await hub.deliver(own, body.encode(), ATOM))
        assert answers == [202, 202, 429]
        _status, listed = await service.call("GET", "/feeds/heavy/entries")
        assert [e["entry_id"] for e in listed["entries"] if "heavy-" in e["entry_id"]] == ["urn:heavy-0", "urn:heavy-1"]
    finally:
        service.stop()


async def test_deliveries_pushed_at_once_share_one_budget(tmp_path: Path, site: FeedServer, hub: WebSubHub) -> None:
    """The budget was read before a delivery was parsed and spent after its entries were kept: deliveries that
    arrived together each found all of it left, and each took --max-entries-per-poll entries (and, with "follow",
    as many fetches). Whatever their number, deliveries in one window take the budget once between them."""
    service = Service("--allow-private-networks", "--rate-limit", "0", "--feed-min-interval", "600",
                      "--max-entries-per-poll", "5", store=f"sqlite:///{tmp_path}/l.db",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    try:
        own = site.url("/flood-at-once")
        site.feed("/flood-at-once", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await verified(service, hub, "at-once", own)
        # Past 32 KiB, so read in an extraction child: each delivery then waits its turn there, after it read the
        # budget and before it spent it, however soon the first of them arrives.
        padding = f"<subtitle>{'x' * 40_000}</subtitle>"
        entries = [atom(*[f"at-once-{push}-{n}" for n in range(5)], hub=hub.hub_url, own=own) for push in range(12)]
        bodies = [body.replace("<entry>", padding + "<entry>", 1).encode() for body in entries]
        answers = await asyncio.gather(*(hub.deliver(own, body, ATOM) for body in bodies))
        assert 202 in answers and set(answers) <= {202, 429, 503}, answers  # 503: swapped by another, try again
        _status, listed = await service.call("GET", "/feeds/at-once/entries")
        pushed = [e["entry_id"] for e in listed["entries"] if "at-once-" in e["entry_id"]]
        assert len(pushed) <= 5, pushed
    finally:
        service.stop()


# -- deliveries held open at once -----------------------------------------------------------------------------------


async def test_large_deliveries_read_at_once_hold_no_more_than_the_budget(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    """A hub (chosen by whoever publishes the feed, so anyone's) knows its callback: every delivery it sent with a
    signature, any signature, was read whole before it was checked, and each had --max-body-bytes. 40 held open at
    once, 10 MB each, made the server hold 383 MiB, and one address may open 256 connections: 2.5 GB. A delivery
    larger than an API body now takes its announced size of --websub-memory-bytes before a byte of it is read, and
    one that finds the budget taken is a 503 (the hub delivers it again later); small ones never wait."""
    service = Service("--allow-private-networks", "--rate-limit", "0", *FAST,
                      "--max-request-bytes", str(MAX_REQUEST_BYTES),
                      store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip
    service.flags += ["--public-url", service.base_url]
    await service.start()
    held: list[asyncio.StreamWriter] = []
    try:
        own = site.url("/held")
        site.feed("/held", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        callback, _secret = await verified(service, hub, "held", own)
        signed = f"X-Hub-Signature: sha256={'0' * 64}\r\n"
        head = f"POST {callback} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
        head += f"Content-Length: {MAX_BODY}\r\n{signed}\r\n"
        for _ in range(DEFAULT_WEBSUB_MEMORY // MAX_BODY):  # each announces a whole --max-body-bytes, sends 10 KB
            _reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(head.encode() + b"x" * 10_000)
            await writer.drain()
            held.append(writer)
        busy = await _answer_before_the_body(service, callback, MAX_BODY, 10_000, signed)
        assert busy.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in busy.lower(), busy
        assert await hub.deliver(own, atom("small", hub=hub.hub_url, own=own).encode(), ATOM) == 202
        for writer in held:
            writer.close()
        held.clear()
        large = atom(*[f"large-{n}" for n in range(400)], hub=hub.hub_url, own=own).encode()
        assert len(large) > MAX_REQUEST_BYTES  # larger than an API body
        async with asyncio.timeout(20):
            while (status := await hub.deliver(own, large, ATOM)) == 503:  # the held ones' shares come back
                await asyncio.sleep(0.05)
        assert status == 202
    finally:
        for writer in held:
            writer.close()
        service.stop()
