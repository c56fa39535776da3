"""``create_app(settings)``: the Quart app around a ``Runtime``; ``create_worker_app``: a worker's health and metrics.

The app starts its runtime when it starts serving (``before_serving``) and stops it after, so any ASGI server can run
``create_app()``; ``linkcast serve`` starts the runtime first itself, so that a store it cannot reach is one clear
error before anything listens (starting twice is a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType

from quart import Blueprint, Quart, request
from werkzeug.http import parse_range_header

from linkcast.runtime import Runtime
from linkcast.settings import Settings
from linkcast.web.answer_memory import bound_answer_memory
from linkcast.web.api import RequestPath, api
from linkcast.web.crawls import crawls
from linkcast.web.current import RUNTIME_KEY
from linkcast.web.errors import register_error_handlers
from linkcast.web.feeds import FeedIdPath, feeds
from linkcast.web.guard import install_guard
from linkcast.web.health import health
from linkcast.web.openapi import openapi
from linkcast.web.page import page
from linkcast.web.stream import stream
from linkcast.web.webhooks import webhooks
from linkcast.web.websub import cap_deliveries, websub


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Quart:
    """The whole service: the API, the stream, the live page, the API description, health and metrics."""
    settings = settings or Settings.from_env()
    return _app(
        settings, runtime or Runtime(settings), (api, crawls, feeds, webhooks, websub, stream, page, openapi, health)
    )


def create_worker_app(settings: Settings, runtime: Runtime) -> Quart:
    """A worker process's ``/healthz`` and ``/metrics`` (``linkcast worker --metrics-port``)."""
    return _app(settings, runtime, (health,))


def _app(settings: Settings, rt: Runtime, blueprints: tuple[Blueprint, ...]) -> Quart:
    app = Quart(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    cap_deliveries(app, settings.max_body_bytes)
    app.extensions[RUNTIME_KEY] = rt
    app.url_map.converters["request_path"] = RequestPath
    app.url_map.converters["feed_id_path"] = FeedIdPath
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    install_guard(app, settings)
    app.before_request(_ignore_suffix_ranges)
    bound_answer_memory(app, settings.answer_memory_bytes)
    restore_signals: list[Callable[[], None]] = []

    @app.before_serving
    async def start() -> None:
        await rt.start()
        restore_signals.append(_drain_on_signal(rt))

    @app.after_serving
    async def stop() -> None:
        while restore_signals:
            restore_signals.pop()()
        await rt.stop()

    return app


async def _ignore_suffix_ranges() -> None:
    """A suffix range (``Range: bytes=-N``, the last N bytes) is ignored, and a file is sent whole, as RFC 9110 14.2
    allows: Quart hands such a range on as a negative offset, which werkzeug's ``ContentRange`` asserts against, so
    that anyone asking so for a public file (``/static/``, ``/docs/``) got a 500. Removed before anything reads it."""
    requested = parse_range_header(request.headers.get("Range"))
    if requested is not None and any(start < 0 for start, _stop in requested.ranges):
        del request.headers["Range"]


def _drain_on_signal(rt: Runtime) -> Callable[[], None]:
    """On SIGTERM or SIGINT, stop taking jobs at once, then let the server's own handler shut it down.

    The server closes its connections before it runs ``after_serving``; without this, workers would keep taking new
    jobs meanwhile. Running jobs get the pool's grace period to finish; the rest go back to the queue. Returns what
    puts the previous handlers back (an app started in a test process must not leave its handlers behind).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (an app served from a test thread)
    loop = asyncio.get_running_loop()
    previous_handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    for signum, previous in previous_handlers.items():

        def handler(received: int, frame: FrameType | None, previous: object = previous) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing left to drain
                loop.call_soon_threadsafe(rt.drain)
            if callable(previous):
                previous(received, frame)

        signal.signal(signum, handler)

    def restore() -> None:
        for signum, previous in previous_handlers.items():
            with contextlib.suppress(TypeError, ValueError):  # a handler not installed from Python
                signal.signal(signum, previous)

    return restore
