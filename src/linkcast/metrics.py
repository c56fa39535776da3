"""Prometheus metrics, one registry per app so that several apps can live in one process (tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests_accepted = Counter(
            "linkcast_requests_accepted", "Fetch requests accepted", registry=self.registry
        )
        self.fetches = Counter(
            "linkcast_fetches",
            "Fetches finished, by outcome code ('ok' or an error code)",
            ["outcome"],
            registry=self.registry,
        )
        self.fetch_seconds = Histogram(
            "linkcast_fetch_seconds",
            "Time to fetch a page, redirects included",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.extract_seconds = Histogram(
            "linkcast_extract_seconds",
            "Time to extract the links of a page",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.websocket_clients = Gauge(
            "linkcast_websocket_clients",
            "WebSocket clients connected to this process",
            registry=self.registry,
        )
        self.queue_depth = Gauge("linkcast_queue_depth", "Jobs waiting for a worker", registry=self.registry)
        self.slow_clients_dropped = Counter(
            "linkcast_slow_clients_dropped",
            "WebSocket clients disconnected for being too slow",
            registry=self.registry,
        )
        self.websub_requests = Counter(
            "linkcast_websub_requests",
            "Requests sent to WebSub hubs, by mode (subscribe, unsubscribe) and answer (accepted, refused)",
            ["mode", "answer"],
            registry=self.registry,
        )
        self.websub_deliveries = Counter(
            "linkcast_websub_deliveries",
            "Content deliveries from WebSub hubs, by outcome (accepted, unsigned, bad_signature, another_topic, "
            "too_large, unreadable, over_budget, unknown_callback, busy)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "linkcast_webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, failed: the attempt failed, retried later unless the "
            "endpoint was disabled)",
            ["outcome"],
            registry=self.registry,
        )
