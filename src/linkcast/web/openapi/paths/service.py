"""The service's own routes: health, metrics, the live page, and this description with the page that renders it."""

from __future__ import annotations

from linkcast.web.openapi.answers import UNAUTHORIZED, answer, error, html, json_answer, ref
from linkcast.web.openapi.group import RouteGroup

SERVICE = RouteGroup(
    tag="service",
    description="Health, metrics, the live page, and this description.",
    operations={
        "/healthz": {
            "get": {
                "summary": "Liveness (never needs the token)",
                "responses": {"200": json_answer(ref("Health"), "serving"), "503": error("shutting down")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": answer("metrics", "text/plain", {"type": "string"}), "401": UNAUTHORIZED},
            }
        },
        "/": {
            "get": {
                "summary": "The live page: submit URLs and watch their results arrive",
                "responses": {"200": html("the page")},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This description", "responses": {"200": json_answer({"type": "object"}, "OpenAPI 3.1")}}
        },
        "/docs": {
            "get": {
                "summary": "A page that renders this description",
                "responses": {"200": html("the page")},
            }
        },
    },
    schemas={
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}, "queue_depth": {"type": "integer"}},
        },
    },
)
