"""``/webhooks``: endpoints that receive events by POST (signed, retried, in order), their secrets and deliveries;
and the ``webhook`` field that requests, crawls and feeds take (``WEBHOOK_FIELD``)."""

from __future__ import annotations

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.core.webhooks import EVENT_TYPES, MAX_REQUEST_IDS
from linkcast.web.openapi.answers import (
    FORBIDDEN_ORIGIN,
    JSON,
    PAGE_PARAMETERS,
    RATE_LIMITED,
    UNAUTHORIZED,
    error,
    json_answer,
    ref,
)
from linkcast.web.openapi.group import RouteGroup

ENDPOINT_ID = {
    "name": "endpoint_id",
    "in": "path",
    "required": True,
    "description": "1 to 140 characters from A-Z a-z 0-9 . _ ~ -; a request's own webhook is "
    "'<urls|crawls|feeds>~<id>'",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,140}$"},
}
DELIVERY_ID = {
    "name": "delivery_id",
    "in": "path",
    "required": True,
    "description": "the id of the event it delivers",
    "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
}
URL = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "maxLength": MAX_URL_BYTES}
EVENTS = {
    "type": ["array", "null"],
    "minItems": 1,
    "items": {"type": "string", "enum": sorted(EVENT_TYPES)},
    "description": "absent or null: the defaults (a request: result, error; a crawl: page, crawl.done; a feed: "
    "feed.entry)",
}
MISSING = error("no webhook with this id")
BAD_ID = error("an invalid webhook id")
WEBHOOK_FIELD = {
    "type": "object",
    "required": ["url"],
    "description": "POST this request's events to 'url' too, signed (Standard Webhooks): the answer gives the "
    "webhook's id and, once, its secret",
    "properties": {"url": URL, "events": EVENTS},
}
ENDPOINT = {
    "type": "object",
    "required": ["id", "url", "events", "state"],
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "request_ids": {"type": ["array", "null"], "items": {"type": "string"}},
        "state": {"type": "string", "enum": ["active", "disabled"]},
        "reason": {"type": ["string", "null"], "description": "why it is disabled"},
        "created_at": {"type": "number"},
        "failing_since": {"type": ["number", "null"]},
        "delivered": {"type": "integer"},
        "failed": {"type": "integer"},
        "last_success_at": {"type": ["number", "null"]},
        "last_failure_at": {"type": ["number", "null"]},
        "last_error": {"type": ["object", "null"]},
        "secret_rotated_until": {"type": ["number", "null"]},
        "cursor": {"type": "integer", "description": "the last event id read into its outbox"},
        "secret": {"type": "string", "description": "only when it is made: whsec_<base64>"},
    },
}

WEBHOOKS = RouteGroup(
    tag="webhooks",
    description="Endpoints that receive events by POST, signed as Standard Webhooks says (webhook-id, "
    "webhook-timestamp, webhook-signature), in event-id order, retried with back-off for --webhook-retry-hours.",
    operations={
        "/webhooks/<endpoint_id>": {
            "put": {
                "summary": "Make or change an endpoint (a disabled one is enabled again)",
                "parameters": [ENDPOINT_ID],
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("WebhookRequest")}}},
                "responses": {
                    "201": json_answer(ref("Webhook"), "made: the answer shows its secret, the only time"),
                    "200": json_answer(ref("Webhook"), "changed (its secret is kept)"),
                    "400": error("an invalid id, body, URL, event type or request id, or a refused address"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "409": error(
                        "too_many_webhooks: --max-webhooks endpoints are kept already; or changed by another request "
                        "at once: try again"
                    ),
                    "413": error("the body is larger than --max-request-bytes"),
                    "415": error("the body is not JSON"),
                    "429": RATE_LIMITED,
                },
            },
            "get": {
                "summary": "An endpoint and its health (never its secret)",
                "parameters": [ENDPOINT_ID],
                "responses": {
                    "200": json_answer(ref("Webhook"), "the endpoint"),
                    "400": BAD_ID,
                    "401": UNAUTHORIZED,
                    "404": MISSING,
                },
            },
            "delete": {
                "summary": "Remove an endpoint and its deliveries",
                "parameters": [ENDPOINT_ID],
                "responses": {
                    "204": {"description": "removed"},
                    "400": BAD_ID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "404": MISSING,
                },
            },
        },
        "/webhooks": {
            "get": {
                "summary": "The endpoints, by id, a page at a time",
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "description": "the 'next' cursor of the previous page",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,140}$"},
                    },
                    PAGE_PARAMETERS[1],
                ],
                "responses": {
                    "200": json_answer(ref("WebhookList"), "a page of endpoints"),
                    "400": error("an invalid cursor or limit"),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/webhooks/<endpoint_id>/secret": {
            "post": {
                "summary": "Rotate the secret: the new one is shown once; the old one still signs for 24 h",
                "parameters": [ENDPOINT_ID],
                "responses": {
                    "200": json_answer(ref("WebhookSecret"), "the new secret"),
                    "400": BAD_ID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "404": MISSING,
                    "409": error("changed by another request at once: try again"),
                },
            },
        },
        "/webhooks/<endpoint_id>/deliveries": {
            "get": {
                "summary": "An endpoint's deliveries (pending, delivered, failed), in event-id order, a page at a time",
                "parameters": [ENDPOINT_ID, *PAGE_PARAMETERS],
                "responses": {
                    "200": json_answer(ref("DeliveryList"), "a page of deliveries"),
                    "400": error("an invalid id, cursor or limit"),
                    "401": UNAUTHORIZED,
                    "404": MISSING,
                },
            },
        },
        "/webhooks/<endpoint_id>/deliveries/<delivery_id>/retry": {
            "post": {
                "summary": "Send a failed delivery again (its endpoint is enabled again if it was disabled)",
                "parameters": [ENDPOINT_ID, DELIVERY_ID],
                "responses": {
                    "202": json_answer(ref("Delivery"), "pending again, due now"),
                    "400": error("an invalid id"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN_ORIGIN,
                    "404": error("no such webhook or delivery"),
                    "409": error("the delivery has not failed, or stands for pruned events"),
                    "429": RATE_LIMITED,
                },
            },
        },
    },
    schemas={
        "WebhookRequest": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": URL,
                "events": {**EVENTS, "description": "default: result, error, page, crawl.done, feed.entry"},
                "request_ids": {
                    "type": ["array", "null"],
                    "maxItems": MAX_REQUEST_IDS,
                    "items": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,128}$"},
                    "description": "only these requests', crawls' and feeds' events (null: every one's)",
                },
            },
        },
        "Webhook": ENDPOINT,
        "WebhookList": {
            "type": "object",
            "required": ["webhooks", "next"],
            "properties": {
                "webhooks": {"type": "array", "items": ref("Webhook")},
                "next": {"type": ["string", "null"]},
            },
        },
        "WebhookSecret": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "secret": {"type": "string"},
                "previous_secret_valid_until": {"type": ["number", "null"]},
            },
        },
        "Delivery": {
            "type": "object",
            "required": ["id", "state"],
            "properties": {
                "id": {"type": "string", "description": "the event id"},
                "webhook_id": {"type": "string", "description": "the webhook-id header it is sent with"},
                "event_id": {"type": "integer"},
                "event_type": {"type": "string"},
                "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "created_at": {"type": "number"},
                "attempts": {"type": "integer"},
                "next_try": {"type": ["number", "null"]},
                "last_try_at": {"type": ["number", "null"]},
                "last_status": {"type": ["integer", "null"]},
                "last_error": {"type": ["object", "null"]},
                "delivered_at": {"type": ["number", "null"]},
            },
        },
        "DeliveryList": {
            "type": "object",
            "required": ["deliveries", "next"],
            "properties": {
                "deliveries": {"type": "array", "items": ref("Delivery")},
                "next": {"type": ["string", "null"]},
            },
        },
        "WebhookField": WEBHOOK_FIELD,
    },
)
