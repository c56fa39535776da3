"""The webhooks API in process (Quart's test client) with a receiver on loopback: endpoints made, read, listed,
changed, deleted; a secret shown once and rotated; deliveries listed and retried; the 'webhook' field of a request,
a crawl and a feed delivering their events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from quart.typing import TestClientProtocol as Client

from linkcast.runtime import Runtime
from linkcast.settings import Settings
from linkcast.web.app import create_app
from linkcast.web.current import RUNTIME_KEY
from tests.support.webhook_receiver import WebhookReceiver
from tests.webhooks.conftest import eventually

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x.example/</link>
<item><guid>one</guid><title>One</title><link>http://x.example/1</link></item></channel></rss>"""


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    settings = Settings(store="memory://", allow_private_networks=True, workers=2, webhook_retry_base=0.05)
    app = create_app(settings, Runtime(settings, serves_clients=False))
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def json_of(response: Any) -> Any:
    return await response.get_json()


async def test_an_endpoint_shows_its_secret_once_and_delivers_signed_events(
    client: Client, receiver: WebhookReceiver
) -> None:
    url = receiver.answer("/in")
    made = await client.put("/webhooks/mine", json={"url": url, "events": ["result"]})
    assert made.status_code == 201
    body = await json_of(made)
    secret = body["secret"]
    assert secret.startswith("whsec_") and body["state"] == "active" and body["request_ids"] is None
    read = await json_of(await client.get("/webhooks/mine"))
    assert "secret" not in read and secret not in str(read)
    await client.put("/urls/r1", json={"url": receiver.url("/page")})
    await receiver.wait_for(lambda: len(receiver.at("/in")) == 1)
    assert receiver.at("/in")[0].verified(secret)["request_id"] == "r1"
    again = await client.put("/webhooks/mine", json={"url": url, "events": ["result"]})
    assert again.status_code == 200 and "secret" not in await json_of(again)
    listed = await json_of(await client.get("/webhooks"))
    assert [e["id"] for e in listed["webhooks"]] == ["mine"] and listed["next"] is None
    deliveries = await json_of(await client.get("/webhooks/mine/deliveries"))
    assert deliveries["deliveries"][0]["webhook_id"] == receiver.at("/in")[0].webhook_id
    assert (await client.delete("/webhooks/mine")).status_code == 204
    assert (await client.get("/webhooks/mine")).status_code == 404


async def test_a_rotated_secret_signs_beside_the_new_one_during_its_grace(
    client: Client, receiver: WebhookReceiver
) -> None:
    made = await json_of(await client.put("/webhooks/rot", json={"url": receiver.answer("/rot"), "events": ["result"]}))
    rotated = await client.post("/webhooks/rot/secret")
    assert rotated.status_code == 200
    new = (await json_of(rotated))["secret"]
    assert new != made["secret"]
    await client.put("/urls/r1", json={"url": receiver.url("/page")})
    await receiver.wait_for(lambda: len(receiver.at("/rot")) == 1)
    got = receiver.at("/rot")[0]
    assert got.verified(new) == got.verified(made["secret"]), "receivers on the old secret keep verifying"


async def test_a_second_rotation_within_the_grace_keeps_the_first_old_secret_signing(
    client: Client, receiver: WebhookReceiver
) -> None:
    """Each rotated-out secret signs for its 24 h: a second rotation (the new secret leaked too) cut the first old one
    off at once, and receivers not yet switched refused every delivery."""
    made = await json_of(await client.put("/webhooks/rot", json={"url": receiver.answer("/rot"), "events": ["result"]}))
    first = (await json_of(await client.post("/webhooks/rot/secret")))["secret"]
    second = await json_of(await client.post("/webhooks/rot/secret"))
    await client.put("/urls/r1", json={"url": receiver.url("/page")})
    await receiver.wait_for(lambda: len(receiver.at("/rot")) == 1)
    got = receiver.at("/rot")[0]
    assert got.verified(made["secret"]) == got.verified(first) == got.verified(second["secret"])
    assert second["previous_secret_valid_until"] is not None
    shown = await json_of(await client.get("/webhooks/rot"))
    assert all(secret not in str(shown) for secret in (made["secret"], first, second["secret"]))


async def test_a_failed_delivery_is_retried_on_request_and_reenables_its_endpoint(
    client: Client, receiver: WebhookReceiver
) -> None:
    url = receiver.answer("/once-gone", 410, first=1)
    await client.put("/webhooks/g", json={"url": url, "events": ["result"]})
    await client.put("/urls/r1", json={"url": receiver.url("/page")})
    await receiver.wait_for(lambda: len(receiver.at("/once-gone")) == 1)

    async def disabled() -> bool:
        return bool((await json_of(await client.get("/webhooks/g")))["state"] == "disabled")

    await eventually(disabled)
    delivery = (await json_of(await client.get("/webhooks/g/deliveries")))["deliveries"][0]
    assert delivery["state"] == "failed" and delivery["last_status"] == 410
    retried = await client.post(f"/webhooks/g/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 202
    await receiver.wait_for(lambda: len(receiver.at("/once-gone")) == 2)
    assert len({r.webhook_id for r in receiver.at("/once-gone")}) == 1
    assert (await client.post(f"/webhooks/g/deliveries/{delivery['id']}/retry")).status_code in (409, 202)
    assert (await client.post("/webhooks/g/deliveries/999/retry")).status_code == 404


async def test_a_request_crawl_and_feed_deliver_their_own_events(client: Client, receiver: WebhookReceiver) -> None:
    hook = {"url": receiver.answer("/own")}
    answers = [
        await client.put("/urls/u1", json={"url": receiver.url("/page"), "webhook": hook}),
        await client.put("/crawls/c1", json={"url": receiver.url("/page"), "max_pages": 1, "webhook": hook}),
        await client.put(
            "/feeds/f1", json={"url": receiver.page("/feed.xml", RSS, "application/rss+xml"), "webhook": hook}
        ),
    ]
    secrets = {}
    for answer, name in zip(answers, ("urls~u1", "crawls~c1", "feeds~f1"), strict=True):
        assert answer.status_code == 201, await answer.get_data()
        webhook = (await json_of(answer))["webhook"]
        assert webhook["id"] == name
        secrets[name.split("~")[1]] = webhook["secret"]

    def types() -> list[tuple[object, object]]:
        seen = []
        for got in receiver.at("/own"):
            body = got.verified(secrets[got.webhook_id.split("_")[1].split("~")[1]])
            seen.append((body["request_id"], body["type"]))
        return seen

    wanted = {("u1", "result"), ("c1", "page"), ("c1", "crawl.done"), ("f1", "feed.entry")}
    await receiver.wait_for(lambda: wanted <= set(types()))
    repeat = await client.put("/urls/u1", json={"url": receiver.url("/page"), "webhook": hook})
    assert repeat.status_code == 200 and (await json_of(repeat))["webhook"] == {"id": "urls~u1"}
    other = await client.put("/urls/u1", json={"url": receiver.url("/page"), "webhook": {"url": receiver.url("/x")}})
    assert other.status_code == 409


async def test_whoever_makes_a_request_gets_the_secret_of_its_webhook_even_one_left_from_before(
    client: Client, receiver: WebhookReceiver
) -> None:
    """A feed removed and watched again under its id (or a request whose first attempt died after making its
    endpoint) finds its endpoint still there: the answer that made the request said only its id, and nobody could
    check the signatures of its events. An endpoint made for a request that existed already shows its secret too."""
    hook = {"url": receiver.answer("/again")}
    body = {"url": receiver.page("/again.xml", RSS, "application/rss+xml"), "webhook": hook}
    first = await client.put("/feeds/f2", json=body)
    assert first.status_code == 201 and "secret" in (await json_of(first))["webhook"]
    await receiver.wait_for(lambda: len(receiver.at("/again")) == 1)  # the first watch's entry
    assert (await client.delete("/feeds/f2")).status_code == 200
    again = await client.put("/feeds/f2", json=body)
    assert again.status_code == 201, await again.get_data()
    secret = (await json_of(again))["webhook"]["secret"]
    await receiver.wait_for(lambda: len(receiver.at("/again")) == 2)  # the entry again, from the new watch
    assert {got.verified(secret)["type"] for got in receiver.at("/again")} == {"feed.entry"}
    repeat = await client.put("/feeds/f2", json=body)
    assert repeat.status_code == 200 and (await json_of(repeat))["webhook"] == {"id": "feeds~f2"}

    assert (await client.put("/urls/plain", json={"url": receiver.url("/page")})).status_code == 201
    late = await client.put("/urls/plain", json={"url": receiver.url("/page"), "webhook": hook})
    assert late.status_code == 200 and "secret" in (await json_of(late))["webhook"]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/webhooks/a", {"url": "ftp://x.example/"}, "invalid_url"),
        ("/webhooks/a", {"url": "https://x.example/", "events": ["nope"]}, "invalid_events"),
        ("/webhooks/a", {"url": "https://x.example/", "events": []}, "invalid_events"),
        ("/webhooks/a", {"url": "https://x.example/", "request_ids": ["a/b"]}, "invalid_request_id"),
        ("/webhooks/a", {"url": "https://x.example/", "secret": "mine"}, "unknown_option"),
        ("/webhooks/urls~x", {"url": "https://x.example/"}, "invalid_webhook_id"),
        ("/urls/x", {"url": "https://x.example/", "webhook": {"url": "https://x.example/", "request_ids": []}},
         "unknown_option"),
        ("/urls/x", {"url": "https://x.example/", "webhook": "https://x.example/"}, "invalid_webhook"),
    ],
)  # fmt: skip
async def test_bad_webhooks_are_refused_with_a_reason(
    client: Client, path: str, body: dict[str, object], code: str
) -> None:
    answer = await client.put(path, json=body)
    assert answer.status_code == 400
    assert (await json_of(answer))["error"]["code"] == code


@pytest.mark.parametrize("after", ["%00", "a%20b", "..", "x" * 200])
async def test_a_listing_cursor_no_page_gave_is_invalid_cursor_as_in_every_listing(client: Client, after: str) -> None:
    """GET /webhooks?after= named the cursor a bad webhook id (invalid_webhook_id), where /urls, /crawls and /feeds
    say invalid_cursor for the same mistake."""
    answer = await client.get(f"/webhooks?after={after}")
    assert answer.status_code == 400
    assert (await json_of(answer))["error"]["code"] == "invalid_cursor"
    assert (await client.get("/webhooks?after=some-id")).status_code == 200


async def test_endpoints_made_with_put_are_bounded_so_no_event_fans_out_without_bound(
    receiver: WebhookReceiver,
) -> None:
    """Each endpoint that takes every request's events turns one submission into one POST more: past
    ``--max-webhooks`` a new one is refused, while a change of one, and a request's own, go on."""
    settings = Settings(store="memory://", allow_private_networks=True, workers=0, max_webhooks=2)
    app = create_app(settings, Runtime(settings, serves_clients=False))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hook = {"url": receiver.url("/in")}
        assert [(await client.put(f"/webhooks/h{n}", json=hook)).status_code for n in range(2)] == [201, 201]
        refused = await client.put("/webhooks/h2", json=hook)
        assert refused.status_code == 409
        assert (await json_of(refused))["error"]["code"] == "too_many_webhooks"
        assert (await client.put("/webhooks/h0", json={**hook, "events": ["error"]})).status_code == 200
        own = await client.put("/urls/r1", json={"url": receiver.url("/page"), "webhook": hook})
        assert own.status_code == 201
        assert (await client.delete("/webhooks/h0")).status_code == 204
        assert (await client.put("/webhooks/h2", json=hook)).status_code == 201


async def test_making_endpoints_spends_submissions_of_the_rate_limit(receiver: WebhookReceiver) -> None:
    settings = Settings(store="memory://", allow_private_networks=True, workers=0, rate_limit=0.001, rate_burst=2)
    app = create_app(settings, Runtime(settings, serves_clients=False))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hook = {"url": receiver.url("/in")}
        statuses = [(await client.put(f"/webhooks/h{n}", json=hook)).status_code for n in range(3)]
        assert statuses == [201, 201, 429]


async def test_a_refused_address_is_refused_when_the_endpoint_is_made() -> None:
    settings = Settings(store="memory://", workers=0)
    app = create_app(settings, Runtime(settings, serves_clients=False))
    async with app.test_app() as test_app:
        answer = await test_app.test_client().put("/webhooks/a", json={"url": "http://127.0.0.1:9/"})
        assert answer.status_code == 400
        assert (await json_of(answer))["error"]["code"] == "blocked"


@pytest.mark.parametrize("path", ["/urls/w", "/crawls/w", "/feeds/w"])
@pytest.mark.parametrize(
    ("hook_url", "code"), [("ftp://x.example/", "invalid_url"), ("http://127.0.0.1:9/", "blocked")]
)
async def test_a_requests_webhook_url_refused_is_named_as_the_webhooks(path: str, hook_url: str, code: str) -> None:
    """The request's own URL is "url" too: an error that did not say whose left the user to guess which was wrong."""
    settings = Settings(store="memory://", workers=0)
    app = create_app(settings, Runtime(settings, serves_clients=False))
    async with app.test_app() as test_app:
        body = {"url": "https://x.example/", "webhook": {"url": hook_url}}
        answer = await test_app.test_client().put(path, json=body)
        error = (await json_of(answer))["error"]
        assert (answer.status_code, error["code"]) == (400, code), error
        assert error["message"].startswith("webhook: "), error


async def test_secrets_never_appear_in_logs_events_or_errors(
    client: Client, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await json_of(await client.put("/webhooks/s", json={"url": receiver.answer("/s", 500, first=2, then=410)}))
    rotated = await json_of(await client.post("/webhooks/s/secret"))
    own = await json_of(await client.put("/urls/r1", json={"url": receiver.url("/page"), "webhook": {
        "url": receiver.url("/s")}}))  # fmt: skip
    secrets = [made["secret"], rotated["secret"], own["webhook"]["secret"]]
    await receiver.wait_for(lambda: len(receiver.at("/s")) >= 3)

    async def disabled() -> bool:
        return bool((await json_of(await client.get("/webhooks/s")))["state"] == "disabled")

    await eventually(disabled)
    seen = [caplog.text]
    for path in ("/webhooks", "/webhooks/s", "/webhooks/s/deliveries", "/webhooks/urls~r1/deliveries", "/urls/r1"):
        seen.append((await (await client.get(path)).get_data()).decode())
    store = client.app.extensions[RUNTIME_KEY].store  # type: ignore[attr-defined]
    seen += [event.json for event in await store.events_after(0)]
    everything = "\n".join(seen)
    assert "last_error" in everything and "410" in everything
    for secret in secrets:
        assert secret not in everything and secret.removeprefix("whsec_") not in everything


async def test_a_refused_request_leaves_the_endpoint_of_the_one_accepted_under_its_id(
    client: Client, receiver: WebhookReceiver
) -> None:
    """Two PUT /feeds/<id> at once, the same webhook and other URLs: the first made the request's endpoint, the second
    found it made and was accepted (201, with its secret) while the first still read its feed; the first, refused
    (409), must not remove the endpoint the accepted feed's events go to."""
    gate, asked = asyncio.Event(), asyncio.Event()

    async def held_feed(_request: web.Request) -> web.StreamResponse:
        asked.set()
        await gate.wait()
        return web.Response(text=RSS, content_type="application/rss+xml")

    held = receiver.route("/held.xml", held_feed)
    hook = {"url": receiver.answer("/in"), "events": ["feed.entry"]}
    first = asyncio.create_task(client.put("/feeds/f", json={"url": held, "webhook": hook}))
    try:
        async with asyncio.timeout(15):
            await asked.wait()  # the first made the endpoint, and reads its feed
        second = await client.put(
            "/feeds/f", json={"url": receiver.page("/feed.xml", RSS, "application/rss+xml"), "webhook": hook}
        )
        assert second.status_code == 201
        secret = (await json_of(second))["webhook"]["secret"]
    finally:
        gate.set()
    async with asyncio.timeout(15):
        assert (await first).status_code == 409
    await receiver.wait_for(lambda: len(receiver.at("/in")) == 1)
    assert receiver.at("/in")[0].verified(secret)["type"] == "feed.entry"


@pytest.mark.parametrize("path", ["/feeds/f", "/crawls/c"])
async def test_an_unknown_option_is_answered_with_every_option_the_body_takes_webhook_included(
    client: Client, path: str
) -> None:
    """A crawl and a feed take a 'webhook' (the README's table), so the answer to an unknown option names it too."""
    answer = await client.put(path, json={"url": "https://x.example/", "colour": "blue"})
    error = (await json_of(answer))["error"]
    assert answer.status_code == 400 and error["code"] == "unknown_option"
    assert "webhook" in error["message"], error["message"]
