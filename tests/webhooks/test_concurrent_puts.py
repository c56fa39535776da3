"""PUTs of one endpoint id at once, against the real service on SQLite: a repeat is answered as a repeat however many
run beside it."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from tests.support.service import Service

AT_ONCE = 50


async def test_the_same_put_of_an_endpoint_sent_many_times_at_once_makes_it_once_and_answers_the_rest_200(
    tmp_path: Path,
) -> None:
    service = Service("--allow-private-networks", "--workers", "0", "--rate-limit", "0",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        body = {"url": "http://127.0.0.1:9/in", "events": ["result"]}
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(
                *(service.call("PUT", "/webhooks/w", json=body, session=session) for _ in range(AT_ONCE))
            )
        assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, answers
        assert sum("secret" in answer for _, answer in answers) == 1
    finally:
        service.stop()


async def test_the_same_request_with_its_webhook_sent_many_times_at_once_is_made_once_and_answered_200_after(
    tmp_path: Path,
) -> None:
    service = Service("--allow-private-networks", "--workers", "0", "--rate-limit", "0",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        webhook = {"url": "http://127.0.0.1:9/in"}
        async with aiohttp.ClientSession() as session:
            for path, body in [
                ("/urls/x", {"url": "http://127.0.0.1:9/page"}),
                ("/crawls/x", {"url": "http://127.0.0.1:9/page"}),
                ("/feeds/x", {"url": "http://127.0.0.1:9/page", "watch": "links"}),
            ]:
                answers = await asyncio.gather(
                    *(service.call("PUT", path, json={**body, "webhook": webhook}, session=session)
                      for _ in range(AT_ONCE))
                )  # fmt: skip
                assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, (path, answers)
                assert sum("secret" in answer["webhook"] for _, answer in answers) == 1
    finally:
        service.stop()
