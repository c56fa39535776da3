"""The runtime of the app serving the current request: what route handlers reach the store, hub and metrics by."""

from __future__ import annotations

from quart import current_app

from linkcast.runtime import Runtime

RUNTIME_KEY = "linkcast"


def runtime() -> Runtime:
    found: Runtime = current_app.extensions[RUNTIME_KEY]
    return found
