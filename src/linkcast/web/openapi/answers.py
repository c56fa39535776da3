"""The pieces most descriptions are made of: answers with a body, errors in the API's one format, and the refusals
many routes share (token, Origin, rate limit...), so that describing a route states only what is its own."""

from __future__ import annotations

from typing import Any

from linkcast.web.openapi.group import Schema

JSON = "application/json"


def ref(name: str) -> Schema:
    """A reference to the schema ``name`` of ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def answer(description: str, media_type: str, schema: Schema, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer with a body of ``media_type``."""
    described: dict[str, Any] = {"description": description, "content": {media_type: {"schema": schema}}}
    if headers:
        described["headers"] = headers
    return described


def json_answer(schema: Schema, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return answer(description, JSON, schema, headers)


def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer: every 4xx and 5xx is ``{"error": {"code", "message"}}``."""
    return json_answer(ref("Error"), description, headers)


def html(description: str) -> dict[str, Any]:
    return answer(description, "text/html", {"type": "string"})


def header(description: str, schema_type: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": schema_type}}


ERROR_SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": ref("ErrorDetail")}},
    "ErrorDetail": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable, machine-readable", "example": "invalid_url"},
            "message": {"type": "string", "description": "for people"},
        },
    },
}

RETRY_AFTER = {"Retry-After": header("seconds to wait", "integer")}
UNAUTHORIZED = error("a bearer token is required (only when the server runs with --token)")
FORBIDDEN_ORIGIN = error("a browser page from another site (its Origin is not this host nor in --allowed-origins)")
RATE_LIMITED = error("too many submissions from this client; retry after Retry-After", RETRY_AFTER)
SHUTTING_DOWN = error("the server is shutting down")

# The two arguments of every listing (``web/query.py``).
PAGE_PARAMETERS = [
    {
        "name": "after",
        "in": "query",
        "description": "the 'next' cursor of the previous page (none: the first page)",
        "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"},
    },
    {
        "name": "limit",
        "in": "query",
        "description": "the most items in the page (default 100)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
]
