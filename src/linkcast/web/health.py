"""``/healthz`` and ``/metrics``: served by every process, the worker-only ones included (``--metrics-port``)."""

from __future__ import annotations

import contextlib

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response

from linkcast.core.errors import LinkcastError, Unavailable
from linkcast.web.current import runtime
from linkcast.web.responses import json_response

health = Blueprint("health", __name__)


@health.get("/healthz")
async def healthz() -> Response:
    rt = runtime()
    if rt.draining.is_set():
        raise Unavailable("the server is shutting down")
    depth = await rt.store.queue_depth()
    store = rt.store.health
    if store.error is not None:
        # Only a write clears a failure, and an API-only replica (--workers 0) writes nothing of its own: without a
        # probe it would say degraded for good once the store is back (and a load balancer would keep it out).
        with contextlib.suppress(LinkcastError):
            await rt.store.probe_write()
    if store.error is not None:
        # Reads work but writes fail (a full disk): the service cannot take work, and says why.
        degraded = {"status": "degraded", "queue_depth": depth, "since": store.since, "error": store.error.to_dict()}
        return json_response(degraded, 503)
    return json_response({"status": "ok", "queue_depth": depth})


@health.get("/metrics")
async def metrics() -> Response:
    rt = runtime()
    rt.metrics.queue_depth.set(await rt.store.queue_depth())
    if rt.hub is not None:
        rt.metrics.websocket_clients.set(rt.hub.client_count)
    return Response(generate_latest(rt.metrics.registry), content_type=CONTENT_TYPE_LATEST)
