"""The HTTP API of crawls: start one (PUT with your id, POST for one chosen by the server), read its state and its
pages, list crawls, cancel one. Its events arrive on ``/scraped_urls`` with ``request_id`` = the crawl id."""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, request

from linkcast.core.errors import NotFound
from linkcast.core.inputs import validate_request_id
from linkcast.crawl.spec import CrawlSpec
from linkcast.crawl.urls import crawl_key
from linkcast.web.api import accepting
from linkcast.web.bodies import read_json_object
from linkcast.web.current import runtime
from linkcast.web.guard import guard
from linkcast.web.query import page_args
from linkcast.web.request_webhooks import pop_webhook, with_webhook
from linkcast.web.responses import json_response

crawls = Blueprint("crawls", __name__)

EXAMPLE = '{"url": "https://...", "max_depth": 1, "max_pages": 100}'


async def start(crawl_id: str) -> Response:
    rt = runtime()
    payload = await read_json_object(EXAMPLE)
    webhook = pop_webhook(payload, "crawls")
    spec = CrawlSpec.from_json(payload, max_pages_cap=rt.settings.max_crawl_pages)
    guard().limit_submission(request.remote_addr or "", len(spec.seeds))
    for seed in spec.seeds:  # a refused IP literal or denied name is a 400 now, not a failed page later
        rt.fetcher.policy.check_url(seed)
    accepting()

    async def create() -> Response:
        seeds = [crawl_key(seed) for seed in spec.seeds]
        record, created = await rt.store.create_crawl(crawl_id, spec.to_json(), seeds)
        headers = {"Location": f"/crawls/{crawl_id}"}
        if not created:
            return json_response({"status": record.state, **record.to_dict()}, 200, headers)
        return json_response({"status": "accepted", **record.to_dict()}, 201, headers)

    return await with_webhook("crawls", crawl_id, webhook, create)


@crawls.put("/crawls/<crawl_id>")
async def put_crawl(crawl_id: str) -> Response:
    return await start(validate_request_id(crawl_id, "crawl"))


@crawls.post("/crawls")
async def post_crawl() -> Response:
    return await start(uuid.uuid4().hex)


@crawls.get("/crawls")
async def list_crawls() -> Response:
    after, limit = page_args()
    page = await runtime().store.list_crawls(after, limit)
    return json_response({"crawls": [record.to_dict() for record in page.items], "next": page.next})


@crawls.get("/crawls/<crawl_id>")
async def get_crawl(crawl_id: str) -> Response:
    record = await runtime().store.get_crawl(validate_request_id(crawl_id, "crawl"))
    if record is None:
        raise NotFound(f"no crawl with id {crawl_id!r}")
    return json_response(record.to_dict())


@crawls.get("/crawls/<crawl_id>/pages")
async def crawl_pages(crawl_id: str) -> Response:
    validate_request_id(crawl_id, "crawl")
    after, limit = page_args()
    store = runtime().store
    if await store.get_crawl(crawl_id) is None:
        raise NotFound(f"no crawl with id {crawl_id!r}")
    page = await store.crawl_pages(crawl_id, after, limit)
    return json_response({"pages": page.items, "next": page.next})


@crawls.delete("/crawls/<crawl_id>")
async def cancel_crawl(crawl_id: str) -> Response:
    """Nothing more is fetched; ``crawl.done`` says ``"cancelled": true`` (a crawl that has ended is left as it is)."""
    record = await runtime().store.cancel_crawl(validate_request_id(crawl_id, "crawl"))
    return json_response(record.to_dict())
