"""In the feed tests, ``site`` is a feed site (``FeedServer``, a ``LocalSite`` that also serves feeds with
validators) in place of the root conftest's plain ``LocalSite`` (``server`` in the polling tests, which serve feeds
alone), and ``hub`` a WebSub hub: the fixtures of ``tests/support/feed_fixtures.py`` under the names these tests read
best with. A module that wants them for all its
tests defines its own, module-scoped."""

from __future__ import annotations

import pytest

from tests.support.feed_site import FeedServer
from tests.support.websub_hub import WebSubHub


@pytest.fixture
def site(feed_site: FeedServer) -> FeedServer:
    return feed_site


@pytest.fixture
def server(feed_site: FeedServer) -> FeedServer:
    return feed_site


@pytest.fixture
def hub(websub_hub: WebSubHub) -> WebSubHub:
    return websub_hub
