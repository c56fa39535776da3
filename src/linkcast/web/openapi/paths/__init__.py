"""Every route's description, one module per group of routes.

To describe a new group (crawls, feeds, webhooks...): a module here with a ``RouteGroup`` of its operations and
schemas, built from ``answers`` (the error format, the shared refusals), and one line in ``GROUPS``. A route of the
app that no group describes fails ``tests/web/test_openapi.py``.
"""

from __future__ import annotations

from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.paths.crawls import CRAWLS
from linkcast.web.openapi.paths.feeds import FEEDS
from linkcast.web.openapi.paths.service import SERVICE
from linkcast.web.openapi.paths.stream import STREAM
from linkcast.web.openapi.paths.urls import URLS
from linkcast.web.openapi.paths.webhooks import WEBHOOKS
from linkcast.web.openapi.paths.websub import WEBSUB

# In the order the docs page shows them.
GROUPS: tuple[RouteGroup, ...] = (URLS, CRAWLS, FEEDS, WEBHOOKS, STREAM, SERVICE, WEBSUB)

__all__ = ["GROUPS"]
