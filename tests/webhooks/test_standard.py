"""What a demanding Standard Webhooks receiver expects of each delivery, beyond a signature that verifies: a
``webhook-id`` with no full stop in it (the separator of what is signed), a 2xx taken as delivered whatever follows
it, a ``Retry-After`` honoured, the whole ``--webhook-timeout`` to answer (not less, and not spent waiting for the
host's turn), a ``webhook-timestamp`` of the sending, any type of answer accepted, and an old URL's 410 taken for no
word on the endpoint that has left it."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from aiohttp import web

from linkcast.core.webhooks import DELIVERY_DELIVERED, DELIVERY_PENDING, ENDPOINT_ACTIVE, Delivery
from linkcast.runtime import Runtime
from tests.support.webhook_receiver import WebhookReceiver
from tests.webhooks.conftest import RuntimeFactory, add_endpoint, eventually
from tests.webhooks.test_delivery import _a_run_held_at_its_first_post, submit


async def test_the_webhook_id_holds_no_full_stop_even_when_the_endpoint_id_does(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime()
    dotted = await add_endpoint(runtime.store, "v1.2", receiver.answer("/dotted"))
    plain = await add_endpoint(runtime.store, "v1_2", receiver.answer("/plain"))
    await submit(runtime.store, receiver, "a")
    await receiver.wait_for(lambda: bool(receiver.at("/dotted") and receiver.at("/plain")))
    got, other = receiver.at("/dotted")[0], receiver.at("/plain")[0]
    event_id = got.verified(dotted.secret)["id"]
    assert other.verified(plain.secret)["id"] == event_id
    assert "." not in got.webhook_id, "a full stop in the webhook-id makes what is signed ambiguous"
    assert got.webhook_id != other.webhook_id, "two endpoints' ids stay apart"
    assert other.webhook_id == f"msg_v1_2_{event_id}", "ids without a full stop are unchanged"
    page = await runtime.store.webhook_deliveries("v1.2", None, 10)
    assert [d.public()["webhook_id"] for d in page.items] == [got.webhook_id], "the API shows the id sent"


class RawReceiver:
    """A receiver on loopback that answers each POST with the bytes a test gives, then closes or holds the
    connection (``hold``: until the test ends), counting the POSTs it took whole."""

    def __init__(self, answer: bytes, *, hold: bool = False) -> None:
        self.answer, self.hold = answer, hold
        self.posts: list[bytes] = []
        self.closed = asyncio.Event()  # set: the test is over (held connections end)
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.closed.set()
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))  # fmt: skip
            self.posts.append(await reader.readexactly(length))
            writer.write(self.answer)
            await writer.drain()
            if self.hold:
                await self.closed.wait()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _delivered_once(runtime: Runtime, endpoint_id: str, raw: RawReceiver) -> Delivery:
    async def ended() -> bool:
        page = await runtime.store.webhook_deliveries(endpoint_id, None, 10)
        return (bool(page.items) and page.items[0].state != DELIVERY_PENDING) or len(raw.posts) > 1

    await eventually(ended)
    page = await runtime.store.webhook_deliveries(endpoint_id, None, 10)
    return page.items[0]


# A chunked body whose last chunk never comes.
ENDLESS = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"4000\r\n" + b"x" * 16384 + b"\r\n"


@pytest.mark.parametrize(
    ("answer", "hold"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok", False, id="reset-after-the-status"),
        pytest.param(b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\n", True, id="body-never-comes"),
        pytest.param(ENDLESS, True, id="endless-body"),
    ],
)
async def test_a_2xx_is_delivered_once_whatever_becomes_of_the_answer_s_body(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver, answer: bytes, hold: bool
) -> None:
    # The receiver said 2xx: it has the event. A connection that breaks, or a body that never ends, after that is no
    # failure of the delivery: taken for one, the same event was sent again and again (every attempt, for the whole
    # retry window, every later delivery waiting behind it), until the endpoint was disabled for it.
    runtime = await make_runtime(webhook_timeout=0.5)
    async with RawReceiver(answer, hold=hold) as raw:
        await add_endpoint(runtime.store, "hook", raw.url)
        await submit(runtime.store, receiver, "a")
        delivery = await _delivered_once(runtime, "hook", raw)
        assert (delivery.state, delivery.attempts, len(raw.posts)) == (DELIVERY_DELIVERED, 1, 1), delivery.last_error


@pytest.mark.parametrize("status", [429, 503])
async def test_a_retry_after_is_waited_for_before_the_next_attempt(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver, status: int
) -> None:
    # Standard Webhooks: a Retry-After "should be taken into consideration when scheduling the next attempt". It was
    # read by nobody: a receiver that asked for ten minutes' rest got the next attempt after --webhook-retry-base.
    runtime = await make_runtime()
    posts: list[float] = []

    async def busy(_request: web.Request) -> web.StreamResponse:
        posts.append(time.time())
        return web.Response(status=status, headers={"Retry-After": "600"})

    await add_endpoint(runtime.store, "busy", receiver.route("/busy", busy))
    await submit(runtime.store, receiver, "a")

    async def tried() -> bool:
        page = await runtime.store.webhook_deliveries("busy", None, 10)
        return bool(page.items) and page.items[0].attempts >= 1

    await eventually(tried)
    delivery = (await runtime.store.webhook_deliveries("busy", None, 10)).items[0]
    assert delivery.last_try_at is not None and delivery.next_try >= delivery.last_try_at + 600
    assert len(posts) == 1


async def test_waiting_for_the_host_s_turn_is_no_timeout_of_its_receiver(make_runtime: RuntimeFactory) -> None:
    # Each POST waits for its host's turn (--per-host-delay, --per-host-concurrency), as every fetch does. The
    # --webhook-timeout ran from before that wait: with a delay longer than the timeout, the second delivery of a run
    # timed out without ever being sent, recorded as a receiver too slow ("no complete answer"), its endpoint failing.
    runtime = await make_runtime(per_host_delay=0.6, webhook_timeout=0.3)
    hooks, pages = WebhookReceiver(), WebhookReceiver()
    pages.page("/page", "<a href='/next'>next</a>")
    await hooks.start()
    await pages.start()
    try:
        await add_endpoint(runtime.store, "spaced", hooks.answer("/spaced"))
        await submit(runtime.store, pages, "a", "b")
        await hooks.wait_for(lambda: len(hooks.at("/spaced")) >= 2)

        async def ended() -> bool:
            page = await runtime.store.webhook_deliveries("spaced", None, 10)
            return [d.state for d in page.items] == [DELIVERY_DELIVERED] * 2

        await eventually(ended)
        page = await runtime.store.webhook_deliveries("spaced", None, 10)
        assert [(d.attempts, d.last_error) for d in page.items] == [(1, None)] * 2
        assert len(hooks.at("/spaced")) == 2
    finally:
        await hooks.stop()
        await pages.stop()


async def test_a_410_from_the_url_an_endpoint_has_left_neither_disables_it_nor_drops_the_event(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    """An endpoint moved (PUT of a new URL) while a POST was on its way to the old URL, which answers 410 Gone as
    decommissioned servers do: the endpoint, now pointing elsewhere, stays active and the event goes to its new URL.
    It was disabled, and the event failed for good, by the answer of a URL it no longer had."""
    runtime = await make_runtime()
    _hook, gate = await _a_run_held_at_its_first_post(runtime, receiver, "/old", results=2, status=410)
    stored = await runtime.store.get_webhook("hook")
    assert stored is not None
    assert await runtime.store.save_webhook(dataclasses.replace(stored, url=receiver.answer("/new")), stored.version)
    gate.set()
    await receiver.wait_for(lambda: len(receiver.at("/new")) == 2)
    moved = await runtime.store.get_webhook("hook")
    assert moved is not None and (moved.state, moved.reason) == (ENDPOINT_ACTIVE, None)
    assert receiver.at("/new")[0].webhook_id == receiver.at("/old")[0].webhook_id, "the same event"


async def test_an_attempt_is_signed_when_it_is_sent_not_before_it_waited_for_its_host(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    # webhook-timestamp is "the timestamp of the attempt", which receivers hold within minutes of their clock. It was
    # taken before the POST waited for its host's turn (--per-host-concurrency, --per-host-delay), which no timeout
    # bounds: a POST that waited longer than a receiver's tolerance was refused as a replay.
    runtime = await make_runtime(per_host_concurrency=1)
    hooks = WebhookReceiver()
    await hooks.start()
    try:
        endpoint = await add_endpoint(runtime.store, "hook", hooks.answer("/hook"))
        gate = runtime.fetcher.gate
        key = f"127.0.0.1:{hooks.port}"
        async with gate.slot(key):  # the host's one turn, taken by something else
            await submit(runtime.store, receiver, "a")

            async def waiting() -> bool:
                host = gate._hosts.get(key)
                return host is not None and host.users == 2

            await eventually(waiting)
            await asyncio.sleep(1.1)  # held this long: the next second has come
            released = int(time.time())
        await hooks.wait_for(lambda: bool(hooks.at("/hook")))
        got = hooks.at("/hook")[0]
        got.verified(endpoint.secret)
        assert int(got.headers["webhook-timestamp"]) >= released
    finally:
        await hooks.stop()


async def test_a_receiver_has_the_whole_webhook_timeout_to_answer(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    # Standard Webhooks recommends 15 to 30 s for a receiver to answer; --webhook-timeout says how long it has. The
    # fetches' --read-timeout (10 s) cut every POST first: a --webhook-timeout of 30 s gave receivers 10.
    runtime = await make_runtime(webhook_timeout=5.0, read_timeout=0.3)

    async def thinking(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)  # a receiver that works before it answers: twice the read timeout
        return web.Response(status=204)

    await add_endpoint(runtime.store, "hook", receiver.route("/hook", thinking))
    await submit(runtime.store, receiver, "a")

    async def ended() -> bool:
        page = await runtime.store.webhook_deliveries("hook", None, 10)
        return bool(page.items) and (page.items[0].state != DELIVERY_PENDING or page.items[0].attempts > 0)

    await eventually(ended)
    delivery = (await runtime.store.webhook_deliveries("hook", None, 10)).items[0]
    assert (delivery.state, delivery.attempts) == (DELIVERY_DELIVERED, 1), delivery.last_error


async def test_a_receiver_that_negotiates_its_answer_s_type_is_asked_for_none_it_cannot_give(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    # A POST went with the page fetches' "Accept: text/html,application/xhtml+xml": a receiver that negotiates (a
    # JSON API answering 406 Not Acceptable when asked only for HTML, as RFC 9110 12.5.1 lets it) failed every
    # delivery. Any answer will do: its status is all that counts.
    runtime = await make_runtime()

    async def json_only(request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "*/*")
        if not any(kind in accept for kind in ("*/*", "application/*", "application/json")):
            return web.json_response({"error": "not acceptable"}, status=406)
        return web.json_response({"ok": True})

    await add_endpoint(runtime.store, "api", receiver.route("/api", json_only))
    await submit(runtime.store, receiver, "a")

    async def ended() -> bool:
        page = await runtime.store.webhook_deliveries("api", None, 10)
        return bool(page.items) and (page.items[0].state != DELIVERY_PENDING or page.items[0].attempts > 0)

    await eventually(ended)
    delivery = (await runtime.store.webhook_deliveries("api", None, 10)).items[0]
    assert (delivery.state, delivery.attempts) == (DELIVERY_DELIVERED, 1), delivery.last_error
