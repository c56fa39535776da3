"""Services for the CLI's failures: one with the default address policy, one that wants a token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.service import Service

TOKEN = "cli-s3cret"


@pytest.fixture
async def default_policy(tmp_path: Path) -> AsyncIterator[Service]:
    """``linkcast serve`` as a new user runs it: loopback and private targets refused."""
    running = Service(store="memory://", log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.stop()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Service]:
    """A service that wants ``TOKEN`` on every call and on the stream."""
    running = Service("--allow-private-networks", "--token", TOKEN, store="memory://", log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.stop()
