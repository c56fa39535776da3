"""Fixtures for tests of feeds, on loopback and one per test: a feed site (``feed_site``) and a WebSub hub
(``websub_hub``). The root conftest imports them, so that every test folder can ask for them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.feed_site import FeedServer
from tests.support.websub_hub import WebSubHub


@pytest.fixture
async def feed_site() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def websub_hub() -> AsyncIterator[WebSubHub]:
    async with WebSubHub() as server:
        yield server
