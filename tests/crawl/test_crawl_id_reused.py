"""A crawl id used again once its crawl was pruned (``--retain-days``) is a new crawl to the workers too: its own
options, and none of the old crawl's links taken for visited. In process (the store pruned on demand), against a
local site: / links to /a."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from linkcast.core.crawls import CRAWL_ENDED
from linkcast.runtime import Runtime
from tests.support.in_process import in_process_service
from tests.support.site import LocalSite

WAIT = 30.0


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    local = LocalSite()
    local.page("/", "<a href='/a'>a</a>")
    local.page("/a", "<p>a leaf</p>")
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def service() -> AsyncIterator[tuple[Client, Runtime]]:
    async with in_process_service() as running:
        yield running


async def crawled(client: Client, crawl_id: str, body: dict[str, Any], site: LocalSite) -> dict[str, str]:
    """PUT the crawl, wait for its end, and answer each URL's outcome (a page's 'page', a skip's reason)."""
    answer = await client.put(f"/crawls/{crawl_id}", json=body)
    assert answer.status_code == 201, await answer.get_json()
    async with asyncio.timeout(WAIT):
        while (await (await client.get(f"/crawls/{crawl_id}")).get_json())["state"] not in CRAWL_ENDED:
            await asyncio.sleep(0.02)
    pages = (await (await client.get(f"/crawls/{crawl_id}/pages")).get_json())["pages"]
    return {page["url"].removeprefix(site.origin): page.get("reason", page["type"]) for page in pages}


@pytest.mark.parametrize("first_depth", [0, 1], ids=["other-options", "same-options"])
async def test_a_crawl_id_used_again_after_its_crawl_was_pruned_is_a_new_crawl(
    service: tuple[Client, Runtime], site: LocalSite, first_depth: int
) -> None:
    client, runtime = service
    first = await crawled(client, "c", {"url": site.url("/"), "max_depth": first_depth}, site)
    assert first["/"] == "page"
    await runtime.store.prune(time.time() + 1, keep_events=0)
    assert (await client.get("/crawls/c")).status_code == 404
    again = await crawled(client, "c", {"url": site.url("/"), "max_depth": 1}, site)
    assert again == {"/": "page", "/a": "page"}
