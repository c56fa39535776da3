"""The OpenAPI description of every route, served at ``/openapi.json``, and ``/docs``, a page that renders it.

Written by hand rather than generated (quart-schema would need a model library and its own validation in front of
ours): the spec documents the API exactly as ``api.py`` answers it, its error format included, and a test checks that
every route of the app is described here and a schemathesis run checks the live server against it. The docs page
renders the spec itself, with no script or style from a CDN, so it works offline.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app

from linkcast import __version__
from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.web.guard import PUBLIC_PATHS, guard

openapi = Blueprint("openapi", __name__)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
LOCATION = {"Location": {"description": "where the request's state is read", "schema": {"type": "string"}}}
UNAUTHORIZED = _error("a bearer token is required (only when the server runs with --token)")
RATE_LIMITED = _json(_ref("Error"), "too many submissions from this client; retry after Retry-After", RETRY_AFTER)

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _ref("ErrorDetail")}},
    "ErrorDetail": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable, machine-readable", "example": "invalid_url"},
            "message": {"type": "string", "description": "for people"},
        },
    },
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
            "error": _ref("ErrorDetail"),
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}, "queue_depth": {"type": "integer"}},
    },
}

REQUEST_ID = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "description": "1 to 128 characters from A-Z a-z 0-9 . _ ~ -",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,128}$"},
}
SUBMISSION_BODY = {"required": True, "content": {JSON: {"schema": _ref("Submission")}}}
SUBMISSION_ERRORS = {
    "400": _error("an invalid body, URL or request id, or a URL whose address is refused (code 'blocked')"),
    "401": UNAUTHORIZED,
    "403": _error("a browser page from another site (its Origin is not this host nor in --allowed-origins)"),
    "413": _error("the body is larger than --max-request-bytes"),
    "415": _error("the body is not JSON"),
    "429": RATE_LIMITED,
    "503": _error("the server is shutting down"),
}

# Every route, by its path in the app's URL map (Quart's <name> syntax) and method.
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/urls/<path:request_id>": {
        "put": {
            "summary": "Submit a URL under your own request id",
            "description": "Idempotent: the same id with the same URL answers 200 with the current state and starts "
            "nothing new; the same id with another URL is a 409. The result arrives on the WebSocket "
            "/scraped_urls and at GET /urls/{request_id}.",
            "parameters": [REQUEST_ID],
            "requestBody": SUBMISSION_BODY,
            "responses": {
                "201": _json(_ref("Accepted"), "accepted: the fetch is queued", LOCATION),
                "200": _json(_ref("Request"), "a repeat of an accepted submission: its current state", LOCATION),
                "409": _error("the id is taken by another URL"),
                **SUBMISSION_ERRORS,
            },
        },
        "get": {
            "summary": "A request's state and, once finished, its result or error",
            "parameters": [REQUEST_ID],
            "responses": {
                "200": _json(_ref("Request"), "the request"),
                "400": _error("an invalid request id"),
                "401": UNAUTHORIZED,
                "404": _error("no request with this id"),
            },
        },
    },
    "/urls": {
        "post": {
            "summary": "Submit a URL under an id chosen by the server",
            "requestBody": SUBMISSION_BODY,
            "responses": {
                "201": _json(_ref("Accepted"), "accepted: the fetch is queued", LOCATION),
                **SUBMISSION_ERRORS,
            },
        }
    },
    "/scraped_urls": {
        "get": {
            "summary": "The live stream of events (a WebSocket: connect with ws:// or wss://)",
            "description": "JSON text frames, one event each: 'result' and 'error' are terminal, exactly one per "
            "request; 'accepted' and 'started' report progress; clients ignore types they do not know. ?since=<id> "
            "replays the retained events after it first; ?request_id= (repeatable) filters. With --token, send "
            "Authorization: Bearer or ?token=. Browsers' Origin must be this host or in --allowed-origins.",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "request_id", "in": "query", "schema": {"type": "array", "items": REQUEST_ID["schema"]}},
                {"name": "token", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "101": {"description": "switching to the WebSocket protocol"},
                "400": _error("an invalid query, or not a WebSocket handshake"),
                "401": UNAUTHORIZED,
                "403": _error("this Origin may not open the stream"),
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness (never needs the token)",
            "responses": {"200": _json(_ref("Health"), "serving"), "503": _error("shutting down")},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "401": UNAUTHORIZED,
            },
        }
    },
    "/openapi.json": {
        "get": {"summary": "This description", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}
    },
    "/docs": {
        "get": {
            "summary": "A page that renders this description",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }
    },
    "/": {
        "get": {
            "summary": "The live page: submit URLs and watch their results arrive",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }
    },
}


def openapi_path(rule: str) -> str:
    """Quart's ``/urls/<path:request_id>`` as OpenAPI's ``/urls/{request_id}``."""
    parts = []
    for part in rule.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].rsplit(":", 1)[-1] + "}"
        parts.append(part)
    return "/".join(parts)


def build_spec(rules: set[str], token_required: bool = False) -> dict[str, Any]:
    """The spec of the routes in ``rules`` (those the app really has, so it never describes a missing one).

    With a token configured, the protected operations say so (``security``), so that clients and schemathesis
    know which calls need it.
    """
    paths: dict[str, dict[str, Any]] = {}
    for rule, operations in OPERATIONS.items():
        if rule not in rules:
            continue
        path = openapi_path(rule)
        paths[path] = {}
        for method, operation in operations.items():
            protected = token_required and path not in PUBLIC_PATHS
            paths[path][method] = {**operation, "security": [{"bearer": []}]} if protected else operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "linkcast",
            "version": __version__,
            "description": "Submit URLs; linkcast fetches them and pushes the links a browser would see to every "
            'WebSocket client. Every error is JSON {"error": {"code", "message"}}. Every route answers 400 '
            "'unknown_host' to a Host header that names neither an IP address, localhost, nor one of --server-names.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@openapi.get("/openapi.json")
async def openapi_json() -> Response:
    import orjson

    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    return Response(orjson.dumps(build_spec(rules, bool(guard().token))), content_type=JSON)


@openapi.get("/docs")
async def docs() -> Response:
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")


# A minimal renderer: each operation with its summary, parameters, body and answers, schemas shown as JSON.
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>linkcast API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} details{border:1px solid #ccc;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
summary{cursor:pointer} .m{display:inline-block;min-width:4rem;font-weight:bold;text-transform:uppercase}
code,pre{font:13px ui-monospace,monospace} pre{background:#f5f5f5;padding:.5rem;overflow:auto}
</style></head><body><h1>linkcast API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p>
<div id="ops"></div>
<script>
const el = (tag, text) => { const e = document.createElement(tag); if (text) e.textContent = text; return e; };
const pre = (value) => el("pre", JSON.stringify(value, null, 2));
fetch("/openapi.json").then(r => r.json()).then(spec => {
  const info = document.getElementById("info");
  info.textContent = spec.info.description + " (version " + spec.info.version + ", OpenAPI " + spec.openapi + ")";
  const ops = document.getElementById("ops");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const box = el("details"), head = el("summary");
      const m = el("span", method); m.className = "m";
      head.append(m, el("code", path), " — " + op.summary);
      box.append(head);
      if (op.description) box.append(el("p", op.description));
      if (op.parameters) { box.append(el("h4", "Parameters")); box.append(pre(op.parameters)); }
      if (op.requestBody) { box.append(el("h4", "Body")); box.append(pre(op.requestBody.content)); }
      box.append(el("h4", "Answers"));
      for (const [status, answer] of Object.entries(op.responses)) {
        box.append(el("p", status + ": " + answer.description));
        if (answer.content) box.append(pre(answer.content));
      }
      ops.append(box);
    }
  }
  const schemas = el("details"); schemas.append(el("summary", "Schemas"), pre(spec.components.schemas));
  ops.append(schemas);
}).catch(error => { document.getElementById("info").textContent = "Cannot load /openapi.json: " + error; });
</script></body></html>
"""
