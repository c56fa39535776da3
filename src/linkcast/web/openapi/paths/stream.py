"""``/scraped_urls``: the WebSocket of events, described as the GET that opens it (OpenAPI has no WebSocket)."""

from __future__ import annotations

from linkcast.core.inputs import MAX_STREAM_FILTERS
from linkcast.web.openapi.answers import UNAUTHORIZED, error
from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.paths.urls import REQUEST_ID

STREAM = RouteGroup(
    tag="stream",
    description="The live stream of events, a WebSocket: connect with ws:// or wss:// (this page cannot).",
    operations={
        "/scraped_urls": {
            "get": {
                "summary": "The live stream of events (a WebSocket: connect with ws:// or wss://)",
                "description": "JSON text frames, one event each: 'result' and 'error' are terminal, exactly one per "
                "request; 'accepted' and 'started' report progress; clients ignore types they do not know. "
                "?since=<id> replays the retained events after it first (a since past the newest event is refused: "
                "since_ahead); ?request_id= (repeatable, at most 100) filters. With "
                "--token, send Authorization: Bearer or ?token=. Browsers' Origin must be this host or in "
                "--allowed-origins.",
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "request_id",
                        "in": "query",
                        "schema": {"type": "array", "items": REQUEST_ID["schema"], "maxItems": MAX_STREAM_FILTERS},
                    },
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "101": {"description": "switching to the WebSocket protocol"},
                    "400": error(
                        "an invalid query (invalid_since, since_ahead, invalid_request_id, too_many_filters), or not "
                        "a WebSocket handshake (websocket_required)"
                    ),
                    "401": UNAUTHORIZED,
                    "403": error("this Origin may not open the stream"),
                },
            }
        }
    },
)
