"""The Quart app: HTTP API, WebSocket stream, the live page."""

from linkcast.web.app import create_app

__all__ = ["create_app"]
