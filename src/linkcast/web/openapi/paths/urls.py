"""``/urls``: submit a URL (PUT with your id, POST for one chosen by the server) and read a request's state."""

from __future__ import annotations

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.web.api import MAX_BATCH, STATES
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

REQUEST_ID = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "description": "1 to 128 characters from A-Z a-z 0-9 . _ ~ -, but not . or .. (clients rewrite them out of URLs)",
    "schema": {"type": "string", "pattern": "^(?!\\.\\.?$)[A-Za-z0-9._~-]{1,128}$"},
}
LOCATION = {"Location": header("where the request's state is read")}
STATE = {
    "name": "state",
    "in": "query",
    "description": "only the requests in this state",
    "schema": {"type": "string", "enum": list(STATES)},
}
SUBMISSION_BODY = {"required": True, "content": {JSON: {"schema": ref("Submission")}}}
ACCEPTED = json_answer(ref("Accepted"), "accepted: the fetch is queued", LOCATION)
SUBMISSION_ERRORS = {
    "400": error("an invalid body, URL or request id, or a URL whose address is refused (code 'blocked')"),
    "401": UNAUTHORIZED,
    "403": FORBIDDEN_ORIGIN,
    "413": error("the body is larger than --max-request-bytes"),
    "415": error("the body is not JSON"),
    "429": RATE_LIMITED,
    "503": SHUTTING_DOWN,
}

URLS = RouteGroup(
    tag="urls",
    description="Submit URLs and read their results (which also arrive on the WebSocket /scraped_urls).",
    operations={
        "/urls/<request_path:request_id>": {
            "put": {
                "summary": "Submit a URL under your own request id",
                "description": "Idempotent: the same id with the same URL answers 200 with the current state and "
                "starts nothing new; the same id with another URL is a 409. The result arrives on the WebSocket "
                "/scraped_urls and at GET /urls/{request_id}.",
                "parameters": [REQUEST_ID],
                "requestBody": SUBMISSION_BODY,
                "responses": {
                    "201": ACCEPTED,
                    "200": json_answer(ref("Request"), "a repeat of an accepted submission: its state", LOCATION),
                    "409": error("the id is taken by another URL"),
                    **SUBMISSION_ERRORS,
                },
            },
            "get": {
                "summary": "A request's state and, once finished, its result or error",
                "parameters": [REQUEST_ID],
                "responses": {
                    "200": json_answer(ref("Request"), "the request"),
                    "400": error("an invalid request id"),
                    "401": UNAUTHORIZED,
                    "404": error("no request with this id"),
                },
            },
        },
        "/urls": {
            "post": {
                "summary": "Submit a URL, or up to 1,000 at once, under ids chosen by the server",
                "description": 'With {"url"}: one request, answered like a PUT. With {"urls": [...]}: one '
                "answer per URL, in order, each accepted with its id or refused with its error (the others go on); "
                "the rate limit counts every URL.",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"oneOf": [ref("Submission"), ref("Batch")]}}},
                },
                "responses": {
                    "201": ACCEPTED,
                    "200": json_answer(ref("BatchAnswer"), "a batch: one answer per URL"),
                    **SUBMISSION_ERRORS,
                },
            },
            "get": {
                "summary": "The requests, in the order they were submitted, a page at a time",
                "parameters": [STATE, *PAGE_PARAMETERS],
                "responses": {
                    "200": json_answer(ref("RequestList"), "a page of requests (without their links)"),
                    "400": error("an invalid state, cursor or limit"),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/urls/<path:request_id>/retry": {
            "post": {
                "summary": "Queue a failed request again",
                "description": 'Its attempts and outcome are cleared; a new accepted event (with "retry": true), '
                "then a new outcome, arrive on the WebSocket.",
                "parameters": [REQUEST_ID],
                "responses": {
                    "202": json_answer(ref("Accepted"), "queued again", LOCATION),
                    "400": error("an invalid request id"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "404": error("no request with this id"),
                    "409": error("the request has not failed (it is queued, running or done)"),
                    "429": RATE_LIMITED,
                    "503": SHUTTING_DOWN,
                },
            }
        },
    },
    schemas={
        "Submission": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {
                    "type": "string",
                    "format": "uri",
                    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                    "maxLength": MAX_URL_BYTES,
                    "description": "an absolute http or https URL; refused addresses (loopback, private...) are a 400",
                    "example": "https://example.com/",
                },
                "webhook": ref("WebhookField"),
            },
        },
        "Batch": {
            "type": "object",
            "required": ["urls"],
            "properties": {
                "urls": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                    "items": {"type": "string"},
                    "example": ["https://example.com/", "https://example.org/"],
                }
            },
        },
        "BatchAnswer": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index"],
                        "properties": {
                            "index": {"type": "integer", "description": "the URL's place in the list"},
                            "status": {"type": "string", "enum": ["accepted"]},
                            "request_id": {"type": "string"},
                            "url": {"type": "string"},
                            "error": ref("ErrorDetail"),
                        },
                    },
                }
            },
        },
        "RequestList": {
            "type": "object",
            "required": ["requests", "next"],
            "properties": {
                "requests": {"type": "array", "items": ref("Request")},
                "next": {"type": ["string", "null"], "description": "the cursor of the next page (null: no more)"},
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["status", "request_id", "url"],
            "properties": {
                "status": {"type": "string", "enum": ["accepted"]},
                "request_id": {"type": "string"},
                "url": {"type": "string", "description": "the URL as it will be fetched (normalised)"},
                "retry": {"type": "boolean", "description": "true when a failed request was queued again"},
            },
        },
        "Request": {
            "type": "object",
            "required": ["request_id", "url", "state"],
            "description": "a request's state; once finished, its result (links...) or its error",
            "properties": {
                "request_id": {"type": "string"},
                "url": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "status": {"type": "string", "description": "the state again (in answers to a repeated PUT)"},
                "created_at": {"type": "number"},
                "started_at": {"type": ["number", "null"]},
                "finished_at": {"type": ["number", "null"]},
                "attempts": {"type": "integer"},
                "final_url": {"type": "string"},
                "status_code": {"type": "integer"},
                "links": {"type": "array", "items": {"type": "string"}},
                "link_count": {"type": "integer", "description": "in a list of requests, instead of the links"},
                "links_truncated": {"type": "boolean"},
                "timings": {"type": "object", "additionalProperties": {"type": "number"}},
                "error": ref("ErrorDetail"),
            },
        },
    },
)
