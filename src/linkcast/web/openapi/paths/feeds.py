"""``/feeds``: watch a feed (or a page's links), read its state and entries, list, remove, OPML in and out."""

from __future__ import annotations

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.web.openapi.answers import (
    FORBIDDEN_ORIGIN,
    JSON,
    PAGE_PARAMETERS,
    RATE_LIMITED,
    RETRY_AFTER,
    SHUTTING_DOWN,
    UNAUTHORIZED,
    answer,
    error,
    header,
    json_answer,
    ref,
)
from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.paths.urls import REQUEST_ID

FEED_ID = {**REQUEST_ID, "name": "feed_id", "description": "the feed's id: the same rule as a request id"}
LOCATION = {"Location": header("where the feed's state is read")}
START = {
    "requestBody": {"required": True, "content": {JSON: {"schema": ref("FeedRequest")}}},
    "responses": {
        "201": json_answer(ref("Feed"), "watched: its first poll is due now", LOCATION),
        "400": error(
            "an invalid body or option, a refused address ('blocked'), or a page naming no feed ('no_feed_found')"
        ),
        "401": UNAUTHORIZED,
        "403": FORBIDDEN_ORIGIN,
        "409": error("'too_many_feeds': --max-feeds feeds are kept already"),
        "413": error("the body is larger than --max-request-bytes"),
        "415": error("the body is not JSON"),
        "429": RATE_LIMITED,
        "422": error("the URL could not be fetched to find its feed (code: timeout, dns, http_status...)"),
        "503": error(
            "the server is shutting down, or the processes reading large pages for requests are all busy "
            "('extraction_busy': try again later)"
        ),
    },
}
READ = {"401": UNAUTHORIZED, "404": error("no feed with this id"), "400": error("an invalid feed id")}

FEEDS = RouteGroup(
    tag="feeds",
    description="Watch RSS, Atom and JSON Feed (or any page's new links): each new entry arrives on the WebSocket "
    "/scraped_urls (request_id = the feed id) as a 'feed.entry' event.",
    operations={
        "/feeds/<feed_id_path:feed_id>": {
            "put": {
                "summary": "Watch a feed under your own id (a site's URL finds its feed)",
                "description": "Idempotent: the same id with the same body answers 200 with the feed's state; "
                "another body is a 409. The answer's 'url' is the feed found.",
                "parameters": [FEED_ID],
                **START,
                "responses": {
                    **START["responses"],
                    "200": json_answer(ref("Feed"), "a repeat: the feed's state", LOCATION),
                    "409": error(
                        "the id is taken by a feed watched with other options, or 'too_many_feeds': --max-feeds "
                        "feeds are kept already"
                    ),
                },
            },
            "get": {
                "summary": "A feed's state: title, site, last and next poll, last status and error, entry count",
                "parameters": [FEED_ID],
                "responses": {"200": json_answer(ref("Feed"), "the feed"), **READ},
            },
            "delete": {
                "summary": "Stop watching a feed",
                "parameters": [FEED_ID],
                "responses": {"200": json_answer(ref("Feed"), "the feed, removed"), "403": FORBIDDEN_ORIGIN, **READ},
            },
        },
        "/feeds": {
            "post": {"summary": "Watch a feed under an id chosen by the server", **START},
            "get": {
                "summary": "The feeds watched, in the order they were added, a page at a time",
                "parameters": PAGE_PARAMETERS,
                "responses": {
                    "200": json_answer(ref("FeedList"), "a page of feeds"),
                    "400": error("an invalid cursor or limit"),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/feeds/<feed_id_path:feed_id>/entries": {
            "get": {
                "summary": "A feed's entries as they were sent (feed.entry events), oldest first, a page at a time",
                "parameters": [FEED_ID, *PAGE_PARAMETERS],
                "responses": {"200": json_answer(ref("FeedEntries"), "a page of entries"), **READ},
            }
        },
        "/feeds/import": {
            "post": {
                "summary": "Watch every feed of an OPML file (its URLs are feeds: no discovery)",
                "requestBody": {
                    "required": True,
                    "content": {
                        media: {"schema": {"type": "string"}}
                        for media in ("text/x-opml", "application/xml", "text/xml")
                    },
                },
                "responses": {
                    "200": json_answer(ref("ImportAnswer"), "one answer per outline with a feed URL"),
                    "400": error("the body is no OPML, or unsafe XML"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "413": error("too large, or too many feeds"),
                    "429": RATE_LIMITED,
                    "503": SHUTTING_DOWN,
                },
            }
        },
        "/feeds/export.opml": {
            "get": {
                "summary": "Every feed watched, as an OPML file",
                "responses": {
                    "200": answer("an OPML 2.0 file", "text/x-opml", {"type": "string"}),
                    "401": UNAUTHORIZED,
                    "503": error(
                        "another export or import is reading every feed ('busy'): retry after Retry-After", RETRY_AFTER
                    ),
                },
            }
        },
    },
    schemas={
        "FeedRequest": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "webhook": ref("WebhookField"),
                "url": {
                    "type": "string",
                    "format": "uri",
                    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                    "maxLength": MAX_URL_BYTES,
                    "example": "https://example.com/feed.xml",
                },
                "follow": {"type": "boolean", "default": False, "description": "also fetch each new entry's page"},
                "watch": {
                    "type": "string",
                    "enum": ["feed", "links"],
                    "default": "feed",
                    "description": "'links': the page at 'url' is watched as it is, each new link an entry",
                },
            },
        },
        "Feed": {
            "type": "object",
            "required": ["feed_id", "url", "state"],
            "properties": {
                "status": {"type": "string"},
                "feed_id": {"type": "string"},
                "url": {"type": "string", "description": "the feed's URL (found, or moved by a permanent redirect)"},
                "state": {"type": "string", "enum": ["active", "error", "gone"]},
                "title": {"type": ["string", "null"]},
                "site_link": {"type": ["string", "null"]},
                "follow": {"type": "boolean"},
                "watch": {"type": "string"},
                "created_at": {"type": "number"},
                "last_poll": {"type": ["number", "null"]},
                "next_poll": {"type": ["number", "null"]},
                "last_status": {"type": ["integer", "null"]},
                "last_error": {"oneOf": [ref("ErrorDetail"), {"type": "null"}]},
                "entry_count": {"type": "integer"},
                "push": {
                    "oneOf": [ref("FeedPush"), {"type": "null"}],
                    "description": "GET /feeds/<id> only: its WebSub subscription, once a poll found a hub",
                },
            },
        },
        "FeedPush": {
            "type": "object",
            "properties": {
                "state": {
                    "type": "string",
                    "enum": ["off", "requested", "subscribed", "denied", "failed", "expired", "unsubscribing"],
                    "description": "'off': the feed names a hub but --public-url is not set (reason says so)",
                },
                "hub": {"type": "string"},
                "topic": {"type": "string"},
                "pending": {"type": ["string", "null"], "enum": ["subscribe", "unsubscribe", None]},
                "lease_seconds": {"type": ["integer", "null"]},
                "expires_at": {"type": ["number", "null"]},
                "verified_at": {"type": ["number", "null"]},
                "reason": {"type": ["string", "null"]},
                "pushes": {"type": "integer", "description": "deliveries accepted"},
                "dropped": {"type": "integer", "description": "deliveries dropped: unsigned, badly signed, too large"},
                "last_push_at": {"type": ["number", "null"]},
            },
        },
        "FeedList": {
            "type": "object",
            "required": ["feeds", "next"],
            "properties": {"feeds": {"type": "array", "items": ref("Feed")}, "next": {"type": ["string", "null"]}},
        },
        "FeedEntries": {
            "type": "object",
            "required": ["entries", "next"],
            "properties": {
                "entries": {"type": "array", "items": {"type": "object", "description": "a feed.entry event"}},
                "next": {"type": ["string", "null"]},
            },
        },
        "ImportAnswer": {
            "type": "object",
            "required": ["results", "skipped"],
            "properties": {
                "skipped": {
                    "type": "array",
                    "description": "outlines not watched: not an http(s) URL, or a repeat",
                    "items": {
                        "type": "object",
                        "properties": {"url": {"type": "string"}, "reason": {"type": "string"}},
                    },
                },
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {
                                "type": "string",
                                "enum": ["accepted", "existing"],
                                "description": "'existing': a feed watched already under this URL (its feed_id)",
                            },
                            "feed_id": {"type": "string"},
                            "url": {"type": "string"},
                            "error": ref("ErrorDetail"),
                        },
                    },
                },
            },
        },
    },
)
