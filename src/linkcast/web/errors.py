"""Every error leaves as JSON ``{"error": {"code", "message"}}`` with its status: mapped here, once."""

from __future__ import annotations

import logging

from quart import Quart, Response, current_app, has_websocket_context, jsonify, request, websocket
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing.exceptions import WebsocketMismatch

from linkcast.core.errors import Busy, LinkcastError, PayloadTooLarge, RateLimited, Unauthorized

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def not_websocket() -> Response:
    """A WebSocket handshake to a route of plain HTTP."""
    return error_response(400, "not_websocket", f"{websocket.path} is not a WebSocket: the stream is /scraped_urls")


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(LinkcastError)
    async def linkcast_error(error: LinkcastError) -> Response:
        response = error_response(error.http_status, error.code, error.message)
        if isinstance(error, RateLimited | Busy):
            response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
        elif isinstance(error, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="linkcast"'
        return response

    @app.errorhandler(RequestEntityTooLarge)
    async def body_too_large(error: RequestEntityTooLarge) -> Response:
        # Quart raises werkzeug's exception for a body over MAX_CONTENT_LENGTH (--max-request-bytes); it leaves as
        # linkcast's own type, so the code is the stable ``payload_too_large`` rather than werkzeug's name for it.
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return await linkcast_error(PayloadTooLarge(f"the body is larger than {limit} bytes (--max-request-bytes)"))

    @app.errorhandler(WebsocketMismatch)
    async def websocket_mismatch(error: WebsocketMismatch) -> Response:
        # A route asked the wrong way: werkzeug's own words ("The browser (or proxy) sent a request that this server
        # could not understand") say nothing of why.
        if has_websocket_context():  # a WebSocket client pointed at an HTTP route (/, /healthz)
            return not_websocket()
        # Plain HTTP to the stream: a browser's address bar, curl without the handshake.
        message = (
            f"{request.path} is a WebSocket: open it with a WebSocket client (Upgrade: websocket), "
            "such as linkcast watch or the live page at /"
        )
        return error_response(400, "websocket_required", message)

    @app.errorhandler(NoRoute)
    async def no_route(error: NoRoute) -> Response:
        # werkzeug's words ("The requested URL was not found on the server. If you entered the URL manually...")
        # name no path: a client with a wrong base URL (--server http://host/api) could not tell what it asked for.
        path = websocket.path if has_websocket_context() else request.path
        return error_response(404, "not_found", f"no route {path} here: the API's routes are listed at /openapi.json")

    @app.errorhandler(MethodNotAllowed)
    async def wrong_method(error: MethodNotAllowed) -> Response:
        # werkzeug's words ("The method is not allowed for the requested URL.") named neither the method nor those
        # the route takes, which only the Allow header said.
        if has_websocket_context():  # a handshake to a route that answers GET over HTTP (/urls/<id>)
            return not_websocket()
        methods = sorted(error.valid_methods or [])  # werkzeug gives them in a set's order
        taken = ", ".join(method for method in methods if method not in ("HEAD", "OPTIONS"))
        message = f"{request.method} is not allowed on {request.path}: it takes {taken}"
        response = error_response(405, "method_not_allowed", message)
        response.headers["Allow"] = ", ".join(methods)
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(status, code, error.description or error.name)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "internal", "internal error")
