"""The HTTP API: submit a URL (PUT with your id, POST for a server-chosen one), read a request's state, health."""

from __future__ import annotations

import uuid

import orjson
from quart import Blueprint, Response, request

from linkcast.core.errors import InvalidInput, NotFound, Unavailable, UnsupportedMediaType
from linkcast.core.inputs import validate_request_id, validate_url
from linkcast.web.current import runtime
from linkcast.web.guard import guard
from linkcast.web.responses import json_response

api = Blueprint("api", __name__)

# curl -d sends this type unless told otherwise: accepted when the body is JSON, to keep curl recipes working.
LENIENT_TYPES = frozenset({"", "application/x-www-form-urlencoded"})


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
