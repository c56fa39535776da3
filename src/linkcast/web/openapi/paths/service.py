"""The service's own routes: health, metrics, the live page, and this description with the page that renders it."""

from __future__ import annotations

from linkcast.web.openapi.answers import UNAUTHORIZED, answer, error, html, json_answer, ref
from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.swagger import SWAGGER_ASSETS

SWAGGER_ASSET = {
    "name": "asset",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": list(SWAGGER_ASSETS)},
}
SWAGGER_ASSET_CONTENT = {media_type: {"schema": {"type": "string"}} for media_type in SWAGGER_ASSETS.values()}

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
                "summary": "This page: Swagger UI rendering this description, to try every call",
                "responses": {"200": html("the page")},
            }
        },
        "/docs/swagger-ui/<asset>": {
            "get": {
                "summary": "Swagger UI's files, which /docs loads (served here: the page loads nothing from elsewhere)",
                "parameters": [SWAGGER_ASSET],
                "responses": {
                    "200": {"description": "the file", "content": SWAGGER_ASSET_CONTENT},
                    "404": error("no such file"),
                },
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
