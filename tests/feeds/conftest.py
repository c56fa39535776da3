"""Fixtures of the feed tests: a feed site and a WebSub hub, each on loopback, one per test.

``site`` here is a ``FeedServer`` (a ``LocalSite`` that also serves feeds with validators), in place of the root
conftest's plain ``LocalSite``; a module that wants them for all its tests defines its own, module-scoped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.feed_site import FeedServer
from tests.support.websub_hub import WebSubHub


@pytest.fixture
async def site() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def hub() -> AsyncIterator[WebSubHub]:
    async with WebSubHub() as server:
        yield server
