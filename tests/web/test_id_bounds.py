"""Ids a client sends back (a page's ``after`` cursor, a delivery id, ``since``) are 64-bit store integers: one past
the largest SQLite integer is a 400 that says so, never the store's OverflowError as a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.service import Service

PAST_INT64 = str(2**63)  # 19 digits, one more than SQLite's largest integer
TWENTY_NINES = "9" * 20


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    folder: Path = tmp_path_factory.mktemp("ids")
    running = Service("--allow-private-networks", store=f"sqlite:///{folder / 'ids.db'}", log_path=folder / "log")
    await running.start()
    status, _ = await running.call("PUT", "/webhooks/hook", json={"url": "http://127.0.0.1:9/in"})
    assert status == 201
    yield running
    running.stop()


@pytest.mark.parametrize("cursor", [PAST_INT64, TWENTY_NINES])
@pytest.mark.parametrize("listing", ["/urls", "/crawls", "/feeds", "/webhooks/hook/deliveries"])
async def test_a_cursor_past_the_largest_id_is_a_400(api: Service, listing: str, cursor: str) -> None:
    status, got = await api.call("GET", f"{listing}?after={cursor}")
    assert (status, got["error"]["code"]) == (400, "invalid_cursor"), got


async def test_the_largest_id_is_a_cursor_like_any_other(api: Service) -> None:
    status, got = await api.call("GET", f"/urls?after={2**63 - 1}")
    assert (status, got["requests"]) == (200, [])


async def test_a_delivery_id_past_the_largest_id_is_a_400(api: Service) -> None:
    status, got = await api.call("POST", f"/webhooks/hook/deliveries/{PAST_INT64}/retry")
    assert (status, got["error"]["code"]) == (400, "invalid_delivery_id"), got
    status, got = await api.call("POST", f"/webhooks/hook/deliveries/{2**63 - 1}/retry")
    assert (status, got["error"]["code"]) == (404, "not_found"), got
