"""``/urls``: submit a URL (PUT with your id, POST for one chosen by the server) and read a request's state."""

from __future__ import annotations

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.web.openapi.answers import (
    FORBIDDEN_ORIGIN,
    JSON,
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
    "description": "1 to 128 characters from A-Z a-z 0-9 . _ ~ -",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,128}$"},
}
LOCATION = {"Location": header("where the request's state is read")}
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
        "/urls/<path:request_id>": {
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
                "summary": "Submit a URL under an id chosen by the server",
                "requestBody": SUBMISSION_BODY,
                "responses": {"201": ACCEPTED, **SUBMISSION_ERRORS},
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
                }
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["status", "request_id", "url"],
            "properties": {
                "status": {"type": "string", "enum": ["accepted"]},
                "request_id": {"type": "string"},
                "url": {"type": "string", "description": "the URL as it will be fetched (normalised)"},
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
                "links_truncated": {"type": "boolean"},
                "timings": {"type": "object", "additionalProperties": {"type": "number"}},
                "error": ref("ErrorDetail"),
            },
        },
    },
)
