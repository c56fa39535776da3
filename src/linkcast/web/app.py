"""``create_app(settings)``: the Quart app with its store, hub and (optionally) in-process workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from quart import Quart, current_app

from linkcast.fetch import Fetcher
from linkcast.hub import Hub
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store import Store, open_store
from linkcast.worker import WorkerPool

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 60.0


@dataclass
class Runtime:
    """Everything one serving process owns, reachable from request handlers through ``runtime()``."""

    settings: Settings
    store: Store
    hub: Hub
    metrics: Metrics
    fetcher: Fetcher
    workers: WorkerPool
    draining: asyncio.Event


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["linkcast"]
    return rt


def create_app(settings: Settings | None = None) -> Quart:
    from linkcast.web.api import api
    from linkcast.web.errors import register_error_handlers
    from linkcast.web.guard import install_guard
    from linkcast.web.openapi import openapi
    from linkcast.web.page import page
    from linkcast.web.stream import stream

    settings = settings or Settings.from_env()
    app = Quart(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    store = open_store(settings)
    metrics = Metrics()
    fetcher = Fetcher(settings)
    rt = Runtime(
        settings=settings,
        store=store,
        hub=Hub(store, settings.client_queue_size),
        metrics=metrics,
        fetcher=fetcher,
        workers=WorkerPool(settings, store, fetcher, metrics),
        draining=asyncio.Event(),
    )
    app.extensions["linkcast"] = rt
    app.register_blueprint(api)
    app.register_blueprint(stream)
    app.register_blueprint(page)
    app.register_blueprint(openapi)
    register_error_handlers(app)
    install_guard(app, settings)

    background: list[asyncio.Task[None]] = []
    restore_signals: list[Callable[[], None]] = []

    @app.before_serving
    async def start() -> None:
        rt.draining = asyncio.Event()
        await store.open()
        # Retention holds from the first request on: what expired while the server was down goes before it serves.
        await _prune_once(rt)
        await fetcher.open()
        await rt.hub.start()
        rt.workers.start(settings.workers)
        background.append(asyncio.create_task(_prune_forever(rt), name="linkcast-prune"))
        restore_signals.append(_drain_on_signal(rt, background))

    @app.after_serving
    async def stop() -> None:
        while restore_signals:
            restore_signals.pop()()
        rt.draining.set()
        await rt.workers.stop()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await rt.hub.stop()
        await fetcher.close()
        await store.close()

    return app


def _drain_on_signal(rt: Runtime, background: list[asyncio.Task[None]]) -> Callable[[], None]:
    """On SIGTERM or SIGINT, stop taking jobs at once, then let the server's own handler shut it down.

    The server closes its connections before it runs ``after_serving``; without this, workers would keep taking new
    jobs meanwhile. Running jobs get the pool's grace period to finish; the rest go back to the queue. Returns what
    puts the previous handlers back (an app started in a test process must not leave its handlers behind).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (an app served from a test thread)
    loop = asyncio.get_running_loop()
    previous_handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def begin_drain() -> None:
        if not rt.draining.is_set():
            rt.draining.set()
            background.append(asyncio.create_task(rt.workers.stop(), name="linkcast-drain"))

    for signum, previous in previous_handlers.items():

        def handler(received: int, frame: FrameType | None, previous: object = previous) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing left to drain
                loop.call_soon_threadsafe(begin_drain)
            if callable(previous):
                previous(received, frame)

        signal.signal(signum, handler)

    def restore() -> None:
        for signum, previous in previous_handlers.items():
            with contextlib.suppress(TypeError, ValueError):  # a handler not installed from Python
                signal.signal(signum, previous)

    return restore


async def _prune_once(rt: Runtime) -> None:
    """Drop events and finished requests older than ``--retain-days`` or beyond ``--retain-events``."""
    try:
        cutoff = time.time() - rt.settings.retain_days * 86400
        await rt.store.prune(cutoff, rt.settings.retain_events)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("pruning failed")


async def _prune_forever(rt: Runtime) -> None:
    """Prune in the background, every ``PRUNE_INTERVAL_SECONDS`` (the first prune runs before serving)."""
    while True:
        await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
        await _prune_once(rt)
