"""The OpenAPI document: every group of ``paths/`` put together, for the routes the app really has."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from linkcast import __version__
from linkcast.web.guard import PUBLIC_PATHS, PUBLIC_PREFIXES
from linkcast.web.openapi.answers import ERROR_SCHEMAS
from linkcast.web.openapi.group import Operation, RouteGroup, Schema
from linkcast.web.openapi.paths import GROUPS

DESCRIPTION = (
    "Submit URLs; linkcast fetches them and pushes the links a browser would see to every WebSocket client. Every "
    'error is JSON {"error": {"code", "message"}}. Every route answers 400 \'unknown_host\' to a Host header that '
    "names neither an IP address, localhost, nor one of --server-names; every PUT, POST and DELETE sent by linkcast "
    "itself (CDN-Loop: linkcast) answers 403 'loop_detected'; and an answer over 1 MiB that finds "
    "--answer-memory-bytes taken is a 503 'busy' with Retry-After."
)


def openapi_path(rule: str) -> str:
    """Quart's ``/urls/<path:request_id>`` as OpenAPI's ``/urls/{request_id}``."""
    parts = []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].rsplit(":", 1)[-1] + "}"
        parts.append(part)
    return "/".join(parts)


def is_public(path: str) -> bool:
    """Whether the guard lets ``path`` (an OpenAPI path) be called without the token."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def build_spec(
    rules: Collection[str], token_required: bool = False, groups: Sequence[RouteGroup] = GROUPS
) -> dict[str, Any]:
    """The spec of the routes in ``rules`` (those the app really has, so it never describes a missing one).

    With a token configured, the protected operations say so (``security``), so that clients, schemathesis and the
    docs page's Authorize button know which calls need it; without one, no call does and the spec shows no scheme.
    """
    paths: dict[str, dict[str, Operation]] = {}
    schemas: dict[str, Schema] = dict(ERROR_SCHEMAS)
    tags: list[dict[str, str]] = []
    for group in groups:
        described = {rule: operations for rule, operations in group.operations.items() if rule in rules}
        if not described:
            continue
        tags.append({"name": group.tag, "description": group.description})
        for rule, operations in described.items():
            _add_operations(paths, openapi_path(rule), operations, group.tag, token_required)
        _add_schemas(schemas, group)
    components: dict[str, Any] = {"schemas": schemas}
    if token_required:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "linkcast", "version": __version__, "description": DESCRIPTION},
        # Relative: calls go to the server that served the spec, whichever name or address it was reached by.
        "servers": [{"url": "/", "description": "this server"}],
        "tags": tags,
        "paths": paths,
        "components": components,
    }


def _add_operations(
    paths: dict[str, dict[str, Operation]], path: str, operations: dict[str, Operation], tag: str, token_required: bool
) -> None:
    """Add one path's operations, tagged with their group; with a token, those it protects say they need it."""
    security: dict[str, Any] = {"security": [{"bearer": []}]} if token_required and not is_public(path) else {}
    for method, operation in operations.items():
        if method in paths.get(path, {}):
            raise ValueError(f"{method.upper()} {path} is described twice")
        paths.setdefault(path, {})[method] = {"tags": [tag], **operation, **security}


def _add_schemas(schemas: dict[str, Schema], group: RouteGroup) -> None:
    """Add ``group``'s schemas; two groups may share one only if they define it alike."""
    for name, schema in group.schemas.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"schema {name!r} of {group.tag!r} differs from another group's")
