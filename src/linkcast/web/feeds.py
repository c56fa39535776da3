"""The HTTP API of feeds: watch one (PUT with your id, POST for one chosen by the server; a site's URL finds its feed),
read its state and entries, list feeds, stop watching, and OPML in and out. Its events arrive on ``/scraped_urls``
with ``request_id`` = the feed id."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from quart import Blueprint, Response, request
from werkzeug.routing import BaseConverter

from linkcast.core.errors import (
    Busy,
    Conflict,
    InvalidInput,
    LinkcastError,
    NotFound,
    PayloadTooLarge,
    StoreCorrupt,
    StoreFull,
    StoreUnavailable,
)
from linkcast.core.feeds import WATCH_FEED, WATCH_LINKS, WATCHING, FeedRecord
from linkcast.core.inputs import validate_request_id
from linkcast.feeds.discover import discover_feed
from linkcast.feeds.opml import OpmlFeed, export_opml, read_opml
from linkcast.feeds.room import FeedRoom
from linkcast.reading_threads import read_in_thread
from linkcast.web.api import accepting
from linkcast.web.bodies import fetchable_url, read_json_object
from linkcast.web.current import runtime
from linkcast.web.guard import guard
from linkcast.web.query import page_args
from linkcast.web.request_webhooks import pop_webhook, with_webhook
from linkcast.web.responses import json_response

feeds = Blueprint("feeds", __name__)

EXAMPLE = '{"url": "https://…", "follow": false, "watch": "feed"}'
OPTIONS = ("url", "follow", "watch")
# Names that are routes of their own under /feeds/, so no feed may have them as its id.
RESERVED_IDS = frozenset({"import", "export.opml"})
MAX_IMPORT = 10_000
OPML_TYPE = "text/x-opml; charset=utf-8"
SHOWN_URL_CHARS = 200  # of an outline's URL that was skipped, in the answer


def feed_spec(payload: dict[str, Any]) -> dict[str, Any]:
    """What a client asks to watch, checked: ``{"url", "follow", "watch"}`` with their defaults."""
    unknown = sorted(set(payload) - set(OPTIONS))
    if unknown:
        known = ", ".join((*OPTIONS, "webhook"))  # 'webhook' is taken off the body before: web/request_webhooks.py
        raise InvalidInput(f"unknown option {unknown[0]!r}: the options are {known}", code="unknown_option")
    if "url" not in payload:
        raise InvalidInput(f"the body has no 'url': send {EXAMPLE}", code="missing_url")
    follow, watch = payload.get("follow", False), payload.get("watch", WATCH_FEED)
    if not isinstance(follow, bool):
        raise InvalidInput("'follow' must be true or false", code="invalid_option")
    if watch not in (WATCH_FEED, WATCH_LINKS):
        raise InvalidInput(f"'watch' must be {WATCH_FEED!r} or {WATCH_LINKS!r}", code="invalid_option")
    return {"url": fetchable_url(payload["url"]), "follow": follow, "watch": watch}


async def watch(feed_id: str, spec: dict[str, Any]) -> tuple[FeedRecord, bool]:
    """Watch ``spec`` as ``feed_id``: a repeat answers the record, another spec for a taken id is a 409; else the
    feed is found (for a site's URL) and recorded. A repeat sent while the first is finding the feed waits for its
    answer: the site is asked once."""
    rt = runtime()
    key = (feed_id, orjson.dumps(spec, option=orjson.OPT_SORT_KEYS))
    while True:
        existing = await rt.store.get_feed(feed_id)
        if existing is not None and existing.asked == spec:
            return existing, False
        if existing is not None:  # refused before its URL is fetched: the site owes a refused PUT no request
            raise Conflict(f"feed {feed_id!r} is already watched with other options")
        pending = rt.feeds_being_added.get(key)
        if pending is None:
            break
        await asyncio.wait([pending])
        if not pending.cancelled():  # cancelled: the first PUT's client went away, and this one finds the feed
            record, _created = pending.result()  # or the first one's error, which is this one's too
            return record, False
    pending = rt.feeds_being_added[key] = asyncio.get_running_loop().create_future()
    try:
        found = await find_and_watch(feed_id, spec)
        pending.set_result(found)
        return found
    except Exception as error:
        pending.set_exception(error)
        pending.exception()  # read here: no PUT may be waiting for it
        raise
    finally:
        del rt.feeds_being_added[key]
        pending.cancel()  # a no-op once answered; else (this PUT cancelled) those waiting find the feed themselves


async def find_and_watch(feed_id: str, spec: dict[str, Any]) -> tuple[FeedRecord, bool]:
    """Find the feed of ``spec`` (for a site's URL) and record it as ``feed_id``, a new id: it takes room under
    ``--max-feeds``, checked before anything is fetched for it."""
    rt = runtime()
    (await FeedRoom.of(rt.store, rt.settings.max_feeds)).take()
    if spec["watch"] == WATCH_LINKS:
        url, watching = spec["url"], WATCH_LINKS
    else:
        url, watching = await discover_feed(rt.fetcher, rt.extraction, spec["url"], rt.first_answers)
    rt.fetcher.policy.check_url(url)
    stored = spec if watching == spec["watch"] else {**spec, WATCHING: watching}
    return await rt.store.create_feed(FeedRecord(feed_id, stored, url))


async def start(feed_id: str) -> Response:
    payload = await read_json_object(EXAMPLE)
    webhook = pop_webhook(payload, "feeds")
    spec = feed_spec(payload)
    guard().limit_submission(request.remote_addr or "")
    accepting()

    async def create() -> Response:
        record, created = await watch(feed_id, spec)
        headers = {"Location": f"/feeds/{feed_id}"}
        if not created:
            return json_response({"status": record.state, **record.to_dict()}, 200, headers)
        return json_response({"status": "accepted", **record.to_dict()}, 201, headers)

    return await with_webhook("feeds", feed_id, webhook, create)


class FeedIdPath(BaseConverter):
    """The id in ``/feeds/<id>``: any segment but the names of the routes beside it (so a PUT to ``/feeds/import``
    is that route's 405, not a feed named "import")."""

    regex = r"(?!(?:import|export\.opml)\Z)[^/]+"


def feed_id_of(value: str) -> str:
    if value in RESERVED_IDS:
        raise InvalidInput(f"{value!r} names a route of its own: choose another feed id", code="invalid_request_id")
    return validate_request_id(value, "feed")


@feeds.put("/feeds/<feed_id_path:feed_id>")
async def put_feed(feed_id: str) -> Response:
    return await start(feed_id_of(feed_id))


@feeds.post("/feeds")
async def post_feed() -> Response:
    return await start(uuid.uuid4().hex)


@feeds.get("/feeds")
async def list_feeds() -> Response:
    after, limit = page_args()
    page = await runtime().store.list_feeds(after, limit)
    return json_response({"feeds": [record.to_dict() for record in page.items], "next": page.next})


@feeds.get("/feeds/<feed_id_path:feed_id>")
async def get_feed(feed_id: str) -> Response:
    store = runtime().store
    record = await store.get_feed(feed_id_of(feed_id))
    if record is None:
        raise NotFound(f"no feed with id {feed_id!r}")
    subscription = await store.get_subscription(feed_id)
    return json_response({**record.to_dict(), "push": subscription.public(time.time()) if subscription else None})


@feeds.get("/feeds/<feed_id_path:feed_id>/entries")
async def feed_entries(feed_id: str) -> Response:
    feed_id_of(feed_id)
    after, limit = page_args()
    store = runtime().store
    if await store.get_feed(feed_id) is None:
        raise NotFound(f"no feed with id {feed_id!r}")
    page = await store.feed_entries(feed_id, after, limit)
    return json_response({"entries": page.items, "next": page.next})


@feeds.delete("/feeds/<feed_id_path:feed_id>")
async def remove_feed(feed_id: str) -> Response:
    rt = runtime()
    record = await rt.store.remove_feed(feed_id_of(feed_id))
    await rt.subscriptions.feed_removed(feed_id, time.time())  # its hub is asked to stop pushing
    return json_response({"status": "removed", **record.to_dict()})


@feeds.post("/feeds/import")
async def import_opml() -> Response:
    """Watch every feed of an OPML file (their URLs are feeds: no discovery), each under an id chosen here: one
    answer per feed (``existing`` with its id for a feed watched already), and the outlines skipped (not an http(s)
    URL, a repeat) with why."""
    body = await request.get_data(cache=False)
    if not body:
        raise InvalidInput("the body is empty: send an OPML file", code="missing_body")
    # Off the event loop: expat calls into Python for every element, and a list of --max-request-bytes is a tenth
    # of a second of that (some clients posting at once held every other request for seconds).
    document = await read_in_thread(read_opml, body)
    outlines = document.feeds
    if len(outlines) > MAX_IMPORT:
        raise PayloadTooLarge(f"at most {MAX_IMPORT} feeds at once")
    guard().limit_submission(request.remote_addr or "", max(1, len(outlines)))
    accepting()
    store = runtime().store
    watched = await feed_ids_by_url()
    room = await FeedRoom.of(store, runtime().settings.max_feeds)
    results: list[dict[str, Any]] = []
    for index, outline in enumerate(outlines):
        try:
            url = fetchable_url(outline.xml_url)
            if url in watched:  # importing a list twice (or an export of this server) watches nothing twice
                results.append({"index": index, "status": "existing", "feed_id": watched[url], "url": url})
                continue
            spec = {"url": url, "follow": False, "watch": WATCH_FEED}
            room.take()
            feed = FeedRecord(imported_feed_id(url), spec, url, title=outline.title)
            record, created = await store.create_feed(feed)
            status = "accepted" if created else "existing"
            results.append({"index": index, "status": status, "feed_id": record.feed_id, "url": url})
        except (StoreFull, StoreUnavailable, StoreCorrupt):
            # The store failed, not this feed: the import says so as a whole (507, 503), as a batch of URLs does,
            # rather than answer 200 with the same error for each of up to 10,000 feeds. Sent again, it adds each
            # feed watched already as existing.
            raise
        except LinkcastError as error:
            shown = outline.xml_url[:SHOWN_URL_CHARS]
            results.append({"index": index, "url": shown, "error": error.to_dict()})
    skipped = [{"url": written[:SHOWN_URL_CHARS], "reason": why} for written, why in document.skipped]
    return json_response({"results": results, "skipped": skipped})


def imported_feed_id(url: str) -> str:
    """The id an import gives the feed of ``url``: one for each URL, so that imports running at once (each finding
    the URL not watched yet) make it once, and the others find it made (``existing``), on every replica."""
    return uuid.uuid5(uuid.NAMESPACE_URL, url).hex


@feeds.get("/feeds/export.opml")
async def export() -> Response:
    # A GET, which no rate limit counts: Busy rather than wait (its client asks again after Retry-After).
    outlines = [OpmlFeed(r.url, r.title, r.site_link) async for r in watched_feeds(wait=False)]
    headers = {"Content-Disposition": 'attachment; filename="linkcast-feeds.opml"'}
    return Response(export_opml(outlines, "linkcast feeds"), content_type=OPML_TYPE, headers=headers)


async def watched_feeds(*, wait: bool) -> AsyncIterator[FeedRecord]:
    """Every feed watched as a feed (not a page's links), in the order they were added, read a page at a time, by
    one request at a time in a process: the others ``wait`` their turn, or are ``Busy``. Each reading is the whole
    store's feeds for one request of anyone (an export's GET, an import of one outline): 50,000 feeds are 2.4 s of
    the store and 11 MiB held until the answer is made, and 32 exports sent at once took 98 s and 367 MiB (one address
    may open 256 connections)."""
    rt = runtime()
    if not wait and rt.every_feed.locked():
        raise Busy("this server is reading every feed for another export or import: retry shortly", retry_after=1)
    async with rt.every_feed:
        after: str | None = None
        while True:
            page = await rt.store.list_feeds(after, 1000)
            for record in page.items:
                if record.watch != WATCH_LINKS:
                    yield record
            if page.next is None:
                return
            after = page.next


async def feed_ids_by_url() -> dict[str, str]:
    """The id of the feed watched under each URL, as it was asked for and as it is polled now (found, moved)."""
    ids: dict[str, str] = {}
    async for record in watched_feeds(wait=True):  # an import is a submission: rate-limited, it waits its turn
        ids.setdefault(record.url, record.feed_id)
        ids.setdefault(str(record.spec.get("url")), record.feed_id)
    return ids
