"""Flows: whom a job is queued for. The scheduler shares the workers between flows as well as between hosts, so
that a submitter with many jobs on many hosts (ports, subdomains) gets one share, not one per host.

A flow is a string: ``client:<address>`` for the URLs a client submits (``PUT /urls/<id>``, ``POST /urls``, a
retry; the web layer names the client), ``crawl:<id>`` for a crawl's pages, ``feed:<id>`` for a feed's polls, the
entries it follows and its WebSub subscription, ``webhook:<id>`` for an endpoint's deliveries. ``NO_FLOW`` (a job
queued by a caller that names no client) is ordered by its host alone.
"""

from __future__ import annotations

NO_FLOW = ""


def client_flow(client: str) -> str:
    """The flow of a client's submissions; ``client`` is its address as ``web.connections.client_key`` counts it."""
    return f"client:{client}" if client else NO_FLOW


def crawl_flow(crawl_id: str) -> str:
    return f"crawl:{crawl_id}"


def feed_flow(feed_id: str) -> str:
    return f"feed:{feed_id}"


def webhook_flow(endpoint_id: str) -> str:
    return f"webhook:{endpoint_id}"
