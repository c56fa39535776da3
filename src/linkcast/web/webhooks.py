"""The HTTP API of webhooks: endpoints (made, read, changed, listed, deleted), their secret rotated, their deliveries
listed and a failed one retried. A request's own webhook (its ``webhook`` field) is one of them too, under the id
``<scope>~<request id>``."""

from __future__ import annotations

from quart import Blueprint, Response, request

from linkcast.core.errors import InvalidInput, NotFound
from linkcast.core.inputs import store_id
from linkcast.fetch.dns import refuse_resolved
from linkcast.web.bodies import read_json_object
from linkcast.web.current import runtime
from linkcast.web.guard import guard
from linkcast.web.query import bad_cursor, limit_arg, page_args
from linkcast.web.responses import json_response
from linkcast.webhooks.config import parse_config, validate_endpoint_id
from linkcast.webhooks.subscriptions import put_endpoint, retry_delivery, rotate_secret

webhooks = Blueprint("webhooks", __name__)

EXAMPLE = '{"url": "https://...", "events": ["result", "error"], "request_ids": null}'


@webhooks.put("/webhooks/<endpoint_id>")
async def put_webhook(endpoint_id: str) -> Response:
    validate_endpoint_id(endpoint_id, creating=True)
    rt = runtime()
    config = parse_config(await read_json_object(EXAMPLE), "webhooks", rt.fetcher.policy)
    # A submission like any other: each PUT resolves a name, and an endpoint is POSTs to come.
    guard().limit_submission(request.remote_addr or "")
    await refuse_resolved(rt.fetcher.policy, config.url)
    endpoint, created = await put_endpoint(rt.store, endpoint_id, config, rt.settings.max_webhooks)
    headers = {"Location": f"/webhooks/{endpoint_id}"}
    if created:  # the only answer that shows the secret, with that of a rotation
        return json_response({**endpoint.public(), "secret": endpoint.secret}, 201, headers)
    return json_response(endpoint.public(), 200, headers)


@webhooks.get("/webhooks")
async def list_webhooks() -> Response:
    after = request.args.get("after")
    if after is not None:
        try:
            validate_endpoint_id(after)  # a page's next is the id of its last webhook
        except InvalidInput:
            raise bad_cursor() from None
    page = await runtime().store.list_webhooks(after, limit_arg())
    return json_response({"webhooks": [endpoint.public() for endpoint in page.items], "next": page.next})


@webhooks.get("/webhooks/<endpoint_id>")
async def get_webhook(endpoint_id: str) -> Response:
    found = await runtime().store.get_webhook(validate_endpoint_id(endpoint_id))
    if found is None:
        raise NotFound(f"no webhook with id {endpoint_id!r}")
    return json_response(found.public())


@webhooks.delete("/webhooks/<endpoint_id>")
async def delete_webhook(endpoint_id: str) -> Response:
    """The endpoint, its outbox and its queued job go; a delivery in flight ends without effect."""
    if not await runtime().store.delete_webhook(validate_endpoint_id(endpoint_id)):
        raise NotFound(f"no webhook with id {endpoint_id!r}")
    return Response(status=204)


@webhooks.post("/webhooks/<endpoint_id>/secret")
async def rotate_webhook_secret(endpoint_id: str) -> Response:
    rotated = await rotate_secret(runtime().store, validate_endpoint_id(endpoint_id))
    answer = {"id": endpoint_id, "secret": rotated.secret, "previous_secret_valid_until": rotated.previous_until}
    return json_response(answer)


@webhooks.get("/webhooks/<endpoint_id>/deliveries")
async def list_deliveries(endpoint_id: str) -> Response:
    validate_endpoint_id(endpoint_id)
    after, limit = page_args()
    store = runtime().store
    if await store.get_webhook(endpoint_id) is None:
        raise NotFound(f"no webhook with id {endpoint_id!r}")
    page = await store.webhook_deliveries(endpoint_id, after, limit)
    return json_response({"deliveries": [delivery.public() for delivery in page.items], "next": page.next})


@webhooks.post("/webhooks/<endpoint_id>/deliveries/<delivery_id>/retry")
async def retry_webhook_delivery(endpoint_id: str, delivery_id: str) -> Response:
    """A failed delivery sent again (in its place: before the endpoint's later pending ones), its endpoint
    re-enabled if it was disabled."""
    validate_endpoint_id(endpoint_id)
    event_id = store_id(delivery_id)
    if event_id is None:
        raise InvalidInput("a delivery id is the event id it delivers (digits)", code="invalid_delivery_id")
    guard().limit_submission(request.remote_addr or "")  # a POST sent again, as a request's retry is a fetch
    again = await retry_delivery(runtime().store, endpoint_id, event_id)
    return json_response(again.public(), 202)
