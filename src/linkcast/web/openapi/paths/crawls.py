"""``/crawls``: start a crawl, read its state and pages, list crawls, cancel one."""

from __future__ import annotations

from linkcast.core.crawls import SKIP_REASONS
from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.crawl.spec import DEFAULT_MAX_DEPTH, DEFAULT_MAX_PAGES, MAX_DEPTH, MAX_PATTERNS, MAX_SEEDS
from linkcast.web.openapi.answers import (
    FORBIDDEN_ORIGIN,
    JSON,
    PAGE_PARAMETERS,
    RATE_LIMITED,
    SHUTTING_DOWN,
    UNAUTHORIZED,
    error,
    header,
    json_answer,
    ref,
)
from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.paths.urls import REQUEST_ID

CRAWL_ID = {**REQUEST_ID, "name": "crawl_id", "description": "the crawl's id: the same rule as a request id"}
LOCATION = {"Location": header("where the crawl's state is read")}
URL = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "maxLength": MAX_URL_BYTES}
START_ERRORS = {
    "400": error("an invalid body, option, pattern or seed (a refused address: code 'blocked')"),
    "401": UNAUTHORIZED,
    "403": FORBIDDEN_ORIGIN,
    "413": error("the body is larger than --max-request-bytes"),
    "415": error("the body is not JSON"),
    "429": RATE_LIMITED,
    "503": SHUTTING_DOWN,
}
START = {
    "requestBody": {"required": True, "content": {JSON: {"schema": ref("CrawlRequest")}}},
    "responses": {
        "201": json_answer(ref("Crawl"), "accepted: the seeds are queued", LOCATION),
        **START_ERRORS,
    },
}
COUNTS = {
    "type": "object",
    "properties": {
        "fetched": {"type": "integer"},
        "failed": {"type": "integer"},
        "queued": {"type": "integer", "description": "admitted and not yet ended"},
        "skipped": {"type": "object", "properties": {reason: {"type": "integer"} for reason in SKIP_REASONS}},
    },
}

CRAWLS = RouteGroup(
    tag="crawls",
    description="Crawl whole sites: every page arrives on the WebSocket /scraped_urls (request_id = the crawl id) "
    "and at GET /crawls/{crawl_id}/pages.",
    operations={
        "/crawls/<crawl_id>": {
            "put": {
                "summary": "Start a crawl under your own id",
                "description": "Idempotent: the same id with the same options answers 200 with the crawl's state; "
                "other options are a 409.",
                "parameters": [CRAWL_ID],
                **START,
                "responses": {
                    **START["responses"],
                    "200": json_answer(ref("Crawl"), "a repeat: the crawl's state", LOCATION),
                    "409": error("the id is taken by a crawl with other options"),
                },
            },
            "get": {
                "summary": "A crawl's state and counts",
                "parameters": [CRAWL_ID],
                "responses": {
                    "200": json_answer(ref("Crawl"), "the crawl"),
                    "400": error("an invalid crawl id"),
                    "401": UNAUTHORIZED,
                    "404": error("no crawl with this id"),
                },
            },
            "delete": {
                "summary": "Cancel a crawl: nothing more is fetched, and crawl.done says cancelled: true",
                "parameters": [CRAWL_ID],
                "responses": {
                    "200": json_answer(ref("Crawl"), "the crawl, cancelled (or as it ended, if it had)"),
                    "400": error("an invalid crawl id"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "404": error("no crawl with this id"),
                },
            },
        },
        "/crawls": {
            "post": {"summary": "Start a crawl under an id chosen by the server", **START},
            "get": {
                "summary": "The crawls, in the order they were started, a page at a time",
                "parameters": PAGE_PARAMETERS,
                "responses": {
                    "200": json_answer(ref("CrawlList"), "a page of crawls"),
                    "400": error("an invalid cursor or limit"),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/crawls/<crawl_id>/pages": {
            "get": {
                "summary": "A crawl's pages (with their links or errors) and skipped URLs, in the order they ended",
                "parameters": [CRAWL_ID, *PAGE_PARAMETERS],
                "responses": {
                    "200": json_answer(ref("CrawlPages"), "a page of the crawl's pages"),
                    "400": error("an invalid crawl id, cursor or limit"),
                    "401": UNAUTHORIZED,
                    "404": error("no crawl with this id"),
                },
            }
        },
    },
    schemas={
        "CrawlRequest": {
            "type": "object",
            "description": "seeds as 'url' or 'urls', and options (unknown names are refused)",
            "properties": {
                "webhook": ref("WebhookField"),
                "url": {**URL, "example": "https://example.com/"},
                "urls": {"type": "array", "items": URL, "minItems": 1, "maxItems": MAX_SEEDS},
                "max_depth": {"type": "integer", "minimum": 0, "maximum": MAX_DEPTH, "default": DEFAULT_MAX_DEPTH},
                "max_pages": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MAX_PAGES,
                    "description": "at most --max-crawl-pages",
                },
                "scope": {
                    "type": "string",
                    "enum": ["same-host", "same-origin", "same-site", "any"],
                    "default": "same-host",
                },
                "include": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PATTERNS},
                "exclude": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PATTERNS},
                "respect_robots": {"type": "boolean", "default": True},
                "sitemaps": {"type": "boolean", "default": False},
            },
        },
        "Crawl": {
            "type": "object",
            "required": ["crawl_id", "state", "counts"],
            "properties": {
                "status": {"type": "string", "description": "'accepted', or the state (in answers to a PUT)"},
                "crawl_id": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "running", "done", "cancelled"]},
                "created_at": {"type": "number"},
                "started_at": {"type": ["number", "null"]},
                "finished_at": {"type": ["number", "null"]},
                "counts": COUNTS,
                "options": {"type": "object", "description": "the options in full (defaults filled in)"},
            },
        },
        "CrawlList": {
            "type": "object",
            "required": ["crawls", "next"],
            "properties": {
                "crawls": {"type": "array", "items": ref("Crawl")},
                "next": {"type": ["string", "null"]},
            },
        },
        "CrawlPages": {
            "type": "object",
            "required": ["pages", "next"],
            "properties": {
                "pages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "description": "a page event ('page': links or error) or a 'skipped' one (reason)",
                    },
                },
                "next": {"type": ["string", "null"]},
            },
        },
    },
)
