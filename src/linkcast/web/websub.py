"""The WebSub callback, ``/websub/<feed id>/<callback token>``: what hubs call (``feeds.websub.callbacks`` decides
every answer). Public, like ``/healthz``: a hub has no bearer token; the callback token (unguessable, one per
subscription) and the signature of each delivery are what stand for it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote_to_bytes

from hypercorn.typing import ASGIReceiveCallable
from quart import Blueprint, Quart, Response, request
from quart.asgi import ASGIHTTPConnection
from quart.wrappers import Request
from werkzeug.exceptions import RequestEntityTooLarge

from linkcast.feeds.websub import Reply
from linkcast.feeds.websub.callbacks import BUSY
from linkcast.web.current import runtime
from linkcast.web.errors import error_response

websub = Blueprint("websub", __name__)

PLAIN = "text/plain; charset=utf-8"
CALLBACK_PREFIX = "/websub/"


class _Request(Request):
    """A request whose body cap is ``callback_max_bytes`` for a delivery (a POST to the callback: a whole feed, larger
    than any API body) and the app's ``--max-request-bytes`` everywhere else. A delivery carries ``admitted``: none
    of its body is read until it is set (``_Connection``)."""

    callback_max_bytes: int | None = None

    def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
        delivery = method == "POST" and path.startswith(CALLBACK_PREFIX) and self.callback_max_bytes is not None
        if delivery:  # only a delivery: a verification (GET) has no body to speak of
            kwargs["max_content_length"] = self.callback_max_bytes
        super().__init__(method, scheme, path, *args, **kwargs)
        self.admitted = asyncio.Event() if delivery else None


class _Connection(ASGIHTTPConnection):
    """Quart's HTTP connection, which reads a body as it arrives, whatever the handler will make of it; here a
    delivery's body waits until its callback is known to be a subscription's. Anyone may POST to ``/websub/...``,
    and a delivery may be ``--max-body-bytes`` (10 MB): read at once, every connection to a made-up callback could
    make the server hold that much. Unread, the body stays in the socket (uvicorn stops reading past 64 KiB), and is
    discarded once the 410 is sent."""

    async def handle_messages(self, request: Request, receive: ASGIReceiveCallable) -> None:
        admitted: asyncio.Event | None = getattr(request, "admitted", None)
        if admitted is not None:
            await admitted.wait()
        await super().handle_messages(request, receive)


def cap_deliveries(app: Quart, max_bytes: int) -> None:
    """Let deliveries to the callback be up to ``max_bytes`` (``--max-body-bytes``, the cap of a polled feed), read
    only once their callback is known."""
    app.request_class = type("Request", (_Request,), {"callback_max_bytes": max_bytes})
    app.asgi_http_class = _Connection


def _answer(reply: Reply) -> Response:
    if reply.code is not None:
        return error_response(reply.status, reply.code, reply.text)
    # nosniff: the challenge is the hub's text, echoed; it must never be taken for a page.
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(reply.body, status=reply.status, content_type=PLAIN, headers=headers)


def query_bytes(query_string: bytes, name: bytes) -> bytes | None:
    """The first value of ``name`` in a query string as the bytes it encodes (``application/x-www-form-urlencoded``:
    ``+`` is a space, then percent-decoding), or None. ``request.args`` decodes values as UTF-8 and leaves a sequence
    that is not as it was written (``%FF`` stays the three characters), so a challenge of any other bytes would not
    come back as the hub sent it."""
    for pair in query_string.split(b"&"):
        key, _, value = pair.partition(b"=")
        if unquote_to_bytes(key.replace(b"+", b" ")) == name:
            return unquote_to_bytes(value.replace(b"+", b" "))
    return None


@websub.get("/websub/<feed_id>/<token>")
async def verify(feed_id: str, token: str) -> Response:
    challenge = query_bytes(request.query_string, b"hub.challenge")
    return _answer(await runtime().callbacks.verify(feed_id, token, request.args, challenge))


@websub.post("/websub/<feed_id>/<token>")
async def deliver(feed_id: str, token: str) -> Response:
    callbacks = runtime().callbacks
    cap = runtime().settings.max_body_bytes
    refused = await callbacks.admits(feed_id, token, request.headers.get("X-Hub-Signature"))
    if refused is not None:
        return _answer(refused)
    share = callbacks.memory_for(request.content_length)
    if share is None:
        busy = _answer(BUSY)
        busy.headers["Retry-After"] = "1"
        return busy
    admitted: asyncio.Event | None = getattr(request, "admitted", None)
    if admitted is not None:
        admitted.set()
    try:
        body = await request.get_data(cache=False)
        return _answer(
            await callbacks.deliver(
                feed_id, token, request.headers.get("X-Hub-Signature"), body, request.headers.get("Content-Type"),
                request.headers.getlist("Link"),
            )
        )  # fmt: skip
    except RequestEntityTooLarge:
        await callbacks.too_large(feed_id, token)
        return _answer(Reply(413, f"a delivery may be at most {cap} bytes", "too_large"))
    finally:
        share.give_back()
