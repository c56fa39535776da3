"""Running linkcast: the web server (uvicorn, uvloop, httptools) and the worker-only process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ipaddress
import logging
import signal

import uvicorn
from quart import Quart

from linkcast.fetch import Fetcher
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store import SHARED_STORE_SCHEMES, open_store
from linkcast.web.app import create_app
from linkcast.web.connections import ConnectionGuard
from linkcast.web.http_protocols import guarded_protocols
from linkcast.web.request_log import RequestLog, install_query_redaction
from linkcast.worker import WorkerPool

# Incoming WebSocket messages are ignored; a small cap stops a client from making the server buffer large ones.
WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def serve(settings: Settings) -> None:
    """Serve the API and stream; uvicorn with uvloop measured about twice hypercorn (see BENCHMARKS.md)."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.Server(uvicorn_config(create_app(settings), settings)).run()


def uvicorn_config(app: Quart, settings: Settings) -> uvicorn.Config:
    guard = ConnectionGuard.from_settings(settings, trusted_proxies(settings))
    protocols = guarded_protocols(guard, settings.http_parser)
    config = uvicorn.Config(
        RequestLog(app),
        host=settings.host,
        port=settings.port,
        loop="uvloop" if _has("uvloop") else "asyncio",
        # The header size and time bounds and the connection limits (web/http_protocols.py), on httptools if
        # installed, else h11.
        http=protocols.http,
        # wsproto: it accepts the prototype's curl handshake (the websockets implementation rejects its 13-byte
        # Sec-WebSocket-Key), was the fastest in BENCHMARKS.md, and waits for the transport to drain on send, so a
        # stalled client fills its own bounded queue (and is dropped) instead of growing the server's write buffer.
        # Its subclass adds the direct frame writer the stream uses (web/frame_writer.py), and keeps the
        # connection's place in the connection limits.
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
    """``--trusted-proxies`` as uvicorn takes it; an entry that is no address or network stops the process (uvicorn
    would take it as a name that never matches)."""
    entries = Settings.csv(settings.trusted_proxies)
    if entries == ["*"]:
        return "*"
    try:
        # A network with host bits set (10.1.2.3/8) is taken as the network it is in, as most tools do.
        return ",".join(str(ipaddress.ip_network(entry, strict=False)) for entry in entries)
    except ValueError as error:
        raise SystemExit(f"invalid --trusted-proxies: {error}") from None


def run_workers(settings: Settings) -> None:
    """Workers without HTTP, for a scaled-out deployment sharing a Redis store."""
    if not settings.store.startswith(SHARED_STORE_SCHEMES):
        # memory:// is private to a process, and an SQLite store is owned by its one serving process (its open()
        # takes back the jobs that process is running): only Redis is shared between processes.
        raise SystemExit("linkcast worker needs the shared Redis store: --store redis://HOST:PORT/DB")
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if _has("uvloop"):
        import uvloop

        uvloop.run(_work(settings))
    else:
        asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    store = open_store(settings)
    fetcher = Fetcher(settings)
    await store.open()
    await fetcher.open()
    pool = WorkerPool(settings, store, fetcher, Metrics())
    pool.start(max(1, settings.workers))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logging.getLogger(__name__).info("%d workers running on %s", max(1, settings.workers), settings.store)
    await stop.wait()
    await pool.stop()
    with contextlib.suppress(Exception):
        await fetcher.close()
    await store.close()
