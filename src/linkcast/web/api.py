"""The HTTP API of single pages: submit URLs (PUT with your id, POST for ids chosen by the server, one or many at
once), read a request's state, list requests, retry a failed one."""

from __future__ import annotations

import uuid
from typing import Any

from quart import Blueprint, Response, request
from werkzeug.routing import PathConverter

from linkcast.core.errors import InvalidInput, LinkcastError, NotFound, Unavailable
from linkcast.core.events import DONE, FAILED, QUEUED, RUNNING
from linkcast.core.inputs import validate_request_id
from linkcast.web.bodies import fetchable_url, read_json_object
from linkcast.web.connections import submitter_flow
from linkcast.web.current import runtime
from linkcast.web.guard import guard
from linkcast.web.query import page_args
from linkcast.web.request_webhooks import pop_webhook, with_webhook
from linkcast.web.responses import json_response

api = Blueprint("api", __name__)

ONE_URL = '{"url": "https://..."}'
MAX_BATCH = 1000
STATES = (QUEUED, RUNNING, DONE, FAILED)


def accepting() -> None:
    if runtime().draining.is_set():
        raise Unavailable("the server is shutting down")


def url_of(payload: dict[str, Any]) -> str:
    if "url" not in payload:
        raise InvalidInput("the body has no 'url'", code="missing_url")
    return fetchable_url(payload["url"])


async def accept(request_id: str, url: str) -> Response:
    accepting()
    rt = runtime()
    with rt.foreground.accepting(request_id):  # from now on, background work in this process lets it pass
        record, created = await rt.store.submit(request_id, url, submitter_flow(request.remote_addr))
    location = f"/urls/{request_id}"
    if not created:
        return json_response({"status": record.state, **record.to_dict()}, 200, {"Location": location})
    rt.metrics.requests_accepted.inc()
    return json_response({"status": "accepted", "request_id": request_id, "url": url}, 201, {"Location": location})


class RequestPath(PathConverter):
    """The id in ``/urls/<id>``: any path, so that an id with a slash is a 400 that says why, but not one ending in
    ``/retry``, which is another route's (a PUT there is that route's 405, not a bad id)."""

    regex = r"[^/].*?(?<!/retry)"


@api.put("/urls/<request_path:request_id>")
async def put_url(request_id: str) -> Response:
    guard().limit_submission(request.remote_addr or "")
    validate_request_id(request_id)
    payload = await read_json_object(ONE_URL)
    webhook = pop_webhook(payload, "urls")
    url = url_of(payload)
    return await with_webhook("urls", request_id, webhook, lambda: accept(request_id, url))


@api.post("/urls")
async def post_urls() -> Response:
    """``{"url": ...}``: one URL, answered like a PUT; ``{"urls": [...]}``: up to ``MAX_BATCH``, one answer each."""
    payload = await read_json_object(f'{ONE_URL} or {{"urls": ["https://...", ...]}}')
    if "urls" not in payload:
        guard().limit_submission(request.remote_addr or "")
        if "url" not in payload:
            raise InvalidInput("the body has neither 'url' nor 'urls'", code="missing_url")
        webhook = pop_webhook(payload, "urls")
        request_id, url = uuid.uuid4().hex, fetchable_url(payload["url"])
        return await with_webhook("urls", request_id, webhook, lambda: accept(request_id, url))
    if "url" in payload:  # which one was meant? Taking either would drop the other without a word
        raise InvalidInput("the body has both 'url' and 'urls': send one URL or a list", code="invalid_urls")
    if "webhook" in payload:
        raise InvalidInput(
            "a batch takes no 'webhook': make one with PUT /webhooks/<id> and the batch's request_ids",
            code="unknown_option",
        )
    urls = payload["urls"]
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_BATCH or not all(isinstance(u, str) for u in urls):
        raise InvalidInput(f"'urls' must be a list of 1 to {MAX_BATCH} URLs (strings)", code="invalid_urls")
    guard().limit_submission(request.remote_addr or "", len(urls))
    accepting()
    return json_response({"results": await _submit_batch(urls)})


async def _submit_batch(urls: list[str]) -> list[dict[str, Any]]:
    """One answer per URL, in order: accepted with its id, or the error that refused it (the others go on)."""
    answers: list[dict[str, Any]] = []
    valid: list[tuple[str, str]] = []
    for index, value in enumerate(urls):
        try:
            valid.append((uuid.uuid4().hex, fetchable_url(value)))
            answers.append({"index": index})
        except LinkcastError as error:
            answers.append({"index": index, "error": error.to_dict()})
    rt = runtime()
    with rt.foreground.accepting(*(request_id for request_id, _url in valid)):
        submitted = iter(await rt.store.submit_many(valid, submitter_flow(request.remote_addr)))
    pairs = iter(valid)
    for answer in answers:
        if "error" in answer:
            continue
        (request_id, url), _outcome = next(pairs), next(submitted)  # fresh ids: never a conflict
        answer.update(status="accepted", request_id=request_id, url=url)
    rt.metrics.requests_accepted.inc(len(valid))
    return answers


@api.get("/urls")
async def list_urls() -> Response:
    after, limit = page_args()
    state = request.args.get("state")
    if state is not None and state not in STATES:
        raise InvalidInput(f"'state' must be one of {', '.join(STATES)}", code="invalid_state")
    page = await runtime().store.list_requests(state, after, limit)
    return json_response({"requests": [record.summary() for record in page.items], "next": page.next})


@api.get("/urls/<request_path:request_id>")
async def get_url(request_id: str) -> Response:
    validate_request_id(request_id)
    record = await runtime().store.get_request(request_id)
    if record is None:
        raise NotFound(f"no request with id {request_id!r}")
    return json_response(record.to_dict())


@api.post("/urls/<path:request_id>/retry")
async def retry_url(request_id: str) -> Response:
    """Queue a failed request again under the same id: a new ``accepted`` event, then a new outcome."""
    guard().limit_submission(request.remote_addr or "")
    validate_request_id(request_id)
    accepting()
    with runtime().foreground.accepting(request_id):
        record = await runtime().store.retry(request_id, submitter_flow(request.remote_addr))
    answer = {"status": "accepted", "request_id": request_id, "url": record.url, "retry": True}
    return json_response(answer, 202, {"Location": f"/urls/{request_id}"})
