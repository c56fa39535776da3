"""Running linkcast: ``serve`` (the web app on uvicorn around a runtime) and ``worker`` (a runtime without clients).

Both start their ``Runtime`` before anything listens, so a store that cannot be reached is one typed error (the CLI
prints it in one line) and no half-started server; both stop it on the way out, whatever ended them.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import logging
import signal
import socket
from collections.abc import Coroutine
from typing import Any

import uvicorn
from quart import Quart

from linkcast.core.errors import ConfigurationError, LinkcastError
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
    sockets = bound_sockets(settings.host, settings.port)
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    try:
        await runtime.start()
    except BaseException:
        _close(sockets)
        raise
    try:
        await _serve_on(uvicorn.Server(uvicorn_config(app, settings, settings.port)), sockets)
    finally:
        await runtime.stop()


async def _serve_on(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
    """``server`` on ``sockets`` (it closes them as it stops), saying where, as uvicorn does for sockets it binds."""
    for sock in sockets:
        log.info("listening on http://%s", _where(sock.getsockname()))
    await server.serve(sockets=sockets)


def bound_sockets(host: str, port: int) -> list[socket.socket]:
    """A socket bound to ``port`` on each address ``host`` names (localhost: 127.0.0.1 and ::1), as uvicorn would
    bind them, but before anything starts: a port taken or a host that is not this machine's is one typed error.
    uvicorn found it out once the application had started, logged it over lines of its own and exited 3, which the
    CLI's statuses give to a server that cannot be reached."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                if error.errno != errno.EADDRNOTAVAIL or len(addresses) == 1:
                    raise CannotListen(f"cannot listen on {_where(address)}: {error.strerror.lower()}") from None
                sockets.pop().close()  # that family is not enabled here (asyncio skips it too)
    except BaseException:
        _close(sockets)
        raise
    if not sockets:
        raise CannotListen(f"cannot listen on {host}:{port}: none of its addresses is this machine's")
    return sockets


def _where(address: tuple[Any, ...]) -> str:
    return f"[{address[0]}]:{address[1]}" if ":" in str(address[0]) else f"{address[0]}:{address[1]}"


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


class CannotListen(LinkcastError):
    """``--host``/``--port`` (or ``--metrics-port``) cannot be listened on: taken, or not an address here."""

    code = "cannot_listen"


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
    sockets = bound_sockets(settings.host, settings.metrics_port) if settings.metrics_port else []
    runtime = Runtime(settings, serves_clients=False)
    try:
        await runtime.start()
    except BaseException:
        _close(sockets)
        raise
    log.info("%d workers running on %s", max(1, settings.workers), settings.store)
    try:
        if sockets:
            app = create_worker_app(settings, runtime)
            await _serve_on(uvicorn.Server(uvicorn_config(app, settings, settings.metrics_port)), sockets)
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
