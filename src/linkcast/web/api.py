"""The HTTP API: submit a URL (PUT with your id, POST for a server-chosen one), read a request's state, health."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, request

from linkcast.core.errors import InvalidInput, NotFound, Unavailable, UnsupportedMediaType
from linkcast.core.inputs import validate_request_id, validate_url
from linkcast.web.app import runtime
from linkcast.web.guard import guard

api = Blueprint("api", __name__)

# curl -d sends this type unless told otherwise: accepted when the body is JSON, to keep curl recipes working.
LENIENT_TYPES = frozenset({"", "application/x-www-form-urlencoded"})


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status=status, headers=headers, content_type="application/json")


async def read_url_from_body() -> str:
    raw = await request.get_data(cache=False)
    if not raw:
        raise InvalidInput('the body is empty: send {"url": "https://..."}', code="missing_body")
    mimetype = request.mimetype or ""
    if mimetype not in LENIENT_TYPES and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"the body must be JSON (application/json), not {mimetype}")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise InvalidInput('the body must be a JSON object: {"url": "https://..."}', code="invalid_body")
    if "url" not in payload:
        raise InvalidInput("the body has no 'url'", code="missing_url")
    url = validate_url(payload["url"])
    # What can be refused without resolving (an IP literal in a refused range, a denied name) is a 400 now rather
    # than an error event later; names are checked against their resolved addresses when fetched.
    runtime().fetcher.policy.check_url(url)
    return url


async def accept(request_id: str, url: str) -> Response:
    rt = runtime()
    if rt.draining.is_set():
        raise Unavailable("the server is shutting down")
    record, created = await rt.store.submit(request_id, url)
    location = f"/urls/{request_id}"
    if not created:
        return json_response({"status": record.state, **record.to_dict()}, 200, {"Location": location})
    rt.metrics.requests_accepted.inc()
    return json_response({"status": "accepted", "request_id": request_id, "url": url}, 201, {"Location": location})


@api.put("/urls/<path:request_id>")
async def put_url(request_id: str) -> Response:
    guard().limit_submission(request.remote_addr or "")
    validate_request_id(request_id)
    return await accept(request_id, await read_url_from_body())


@api.post("/urls")
async def post_url() -> Response:
    guard().limit_submission(request.remote_addr or "")
    url = await read_url_from_body()
    return await accept(uuid.uuid4().hex, url)


@api.get("/urls/<path:request_id>")
async def get_url(request_id: str) -> Response:
    validate_request_id(request_id)
    record = await runtime().store.get_request(request_id)
    if record is None:
        raise NotFound(f"no request with id {request_id!r}")
    return json_response(record.to_dict())


@api.get("/healthz")
async def healthz() -> Response:
    rt = runtime()
    if rt.draining.is_set():
        raise Unavailable("the server is shutting down")
    depth = await rt.store.queue_depth()
    health = rt.store.health
    if health.error is not None:
        # Reads work but writes fail (a full disk): the service cannot take work, and says why.
        degraded = {"status": "degraded", "queue_depth": depth, "since": health.since, "error": health.error.to_dict()}
        return json_response(degraded, 503)
    return json_response({"status": "ok", "queue_depth": depth})


@api.get("/metrics")
async def metrics() -> Response:
    rt = runtime()
    rt.metrics.queue_depth.set(await rt.store.queue_depth())
    rt.metrics.websocket_clients.set(rt.hub.client_count)
    return Response(generate_latest(rt.metrics.registry), content_type=CONTENT_TYPE_LATEST)
