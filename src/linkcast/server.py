"""Running linkcast: ``serve`` (the web app on uvicorn around a runtime) and ``worker`` (a runtime without clients).

Both start their ``Runtime`` before anything listens, so a store that cannot be reached is one typed error (the CLI
prints it in one line) and no half-started server; both stop it on the way out, whatever ended them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
from collections.abc import Coroutine
from typing import Any

import uvicorn
from quart import Quart

from linkcast.core.errors import ConfigurationError
from linkcast.runtime import Runtime
from linkcast.settings import Settings
from linkcast.store import SHARED_STORE_SCHEMES
from linkcast.web.app import create_app, create_worker_app
from linkcast.web.connections import ConnectionGuard
from linkcast.web.http_protocols import guarded_protocols
from linkcast.web.request_log import RequestLog, install_query_redaction

log = logging.getLogger(__name__)

# Incoming WebSocket messages are ignored; a small cap stops a client from making the server buffer large ones.
WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it is installed (measured about twice asyncio's throughput for this service)."""
    if _has("uvloop"):
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def serve(settings: Settings) -> None:
    """The API, the WebSocket stream and (``--workers``) in-process workers."""
    configure_logging(settings)
    _run(_serve(settings))


async def _serve(settings: Settings) -> None:
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        await uvicorn.Server(uvicorn_config(app, settings, settings.port)).serve()
    finally:
        await runtime.stop()


def run_workers(settings: Settings) -> None:
    """Workers without the API, for a scaled-out deployment sharing a Redis store; ``/metrics`` and ``/healthz`` on
    ``--metrics-port`` when it is set."""
    if not settings.store.startswith(SHARED_STORE_SCHEMES):
        # memory:// is private to a process, and an SQLite store is owned by its one serving process (its open()
        # takes back the jobs that process is running): only Redis is shared between processes.
        raise ConfigurationError(
            "linkcast worker needs the shared Redis store: --store redis://HOST:PORT/DB", code="invalid_store"
        )
    configure_logging(settings)
    _run(_work(settings))


async def _work(settings: Settings) -> None:
    runtime = Runtime(settings, serves_clients=False)
    await runtime.start()
    log.info("%d workers running on %s", max(1, settings.workers), settings.store)
    try:
        if settings.metrics_port:
            app = create_worker_app(settings, runtime)
            await uvicorn.Server(uvicorn_config(app, settings, settings.metrics_port)).serve()
        else:
            await _until_signalled(runtime)
    finally:
        await runtime.stop()


async def _until_signalled(runtime: Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: (runtime.drain(), stop.set()))
    await stop.wait()


def uvicorn_config(app: Quart, settings: Settings, port: int) -> uvicorn.Config:
    guard = ConnectionGuard.from_settings(settings)
    protocols = guarded_protocols(guard, settings.http_parser)
    config = uvicorn.Config(
        RequestLog(app),
        host=settings.host,
        port=port,
        # The header size and time bounds and the connection limits (web/http_protocols.py), on httptools if
        # installed, else h11.
        http=protocols.http,
        # wsproto: it accepts the prototype's curl handshake (the websockets implementation rejects its 13-byte
        # Sec-WebSocket-Key), was the fastest measured, and waits for the transport to drain on send, so a stalled
        # client fills its own bounded queue (and is dropped) instead of growing the server's write buffer. Its
        # subclass adds the direct frame writer the stream uses (web/frame_writer.py), and keeps the connection's
        # place in the connection limits.
        ws=protocols.ws,
        ws_max_size=WEBSOCKET_MAX_MESSAGE_BYTES,
        ws_per_message_deflate=settings.websocket_compression,
        lifespan="on",
        log_level=settings.log_level,
        # uvicorn's access lines would write query strings, and with them a ?token=: RequestLog writes them without.
        access_log=False,
        timeout_graceful_shutdown=15,
        # h11's own bound on a request's head (it refuses with a plain 400): behind the guarded protocol's 431.
        h11_max_incomplete_event_size=settings.max_request_header_bytes,
        # Only the proxies named are believed: anyone else could claim any address in X-Forwarded-For.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=trusted_proxies(settings),
    )
    install_query_redaction()  # after uvicorn.Config, which sets up uvicorn's loggers
    return config


def trusted_proxies(settings: Settings) -> str:
    """``--trusted-proxies`` as uvicorn takes it: ``*``, or the networks, each checked when the settings were made."""
    networks = settings.trusted_proxy_networks
    return "*" if networks is None else ",".join(map(str, networks))
