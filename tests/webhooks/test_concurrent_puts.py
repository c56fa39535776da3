"""PUTs of one endpoint id at once, against the real service on SQLite: a repeat is answered as a repeat however many
run beside it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.support.service import Service

AT_ONCE = 50


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    folder: Path = tmp_path_factory.mktemp("webhook-puts")
    running = Service("--allow-private-networks", "--workers", "0", "--rate-limit", "0",
                      store=f"sqlite:///{folder}/s.db", log_path=folder / "s.log")  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def test_the_same_put_of_an_endpoint_sent_many_times_at_once_makes_it_once_and_answers_the_rest_200(
    service: Service,
) -> None:
    body = {"url": "http://127.0.0.1:9/in", "events": ["result"]}
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(service.call("PUT", "/webhooks/w", json=body, session=session) for _ in range(AT_ONCE))
        )
    assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, answers
    assert sum("secret" in answer for _, answer in answers) == 1


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("urls", {"url": "http://127.0.0.1:9/page"}),
        ("crawls", {"url": "http://127.0.0.1:9/page"}),
        ("feeds", {"url": "http://127.0.0.1:9/page", "watch": "links"}),
    ],
)
async def test_the_same_request_with_its_webhook_sent_many_times_at_once_is_made_once_and_answered_200_after(
    service: Service, kind: str, body: dict[str, str]
) -> None:
    webhook = {"url": "http://127.0.0.1:9/in"}
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(service.call("PUT", f"/{kind}/x", json={**body, "webhook": webhook}, session=session)
              for _ in range(AT_ONCE))
        )  # fmt: skip
    assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, answers
    assert sum("secret" in answer["webhook"] for _, answer in answers) == 1
