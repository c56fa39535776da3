"""Webhooks survive the process: on SQLite and on Redis, a restart while the endpoint is down loses no delivery,
and a SIGKILL in the middle of one sends again only that delivery, with the same webhook-id, then the rest in
order. One scenario per backend (each start of the service costs seconds)."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.service import Service
from tests.support.webhook_receiver import WebhookReceiver

COUNT = 12
FLAGS = ("--allow-private-networks", "--rate-limit", "0", "--workers", "4", "--webhook-retry-base", "0.05",
         "--job-visibility-timeout", "1")  # fmt: skip


@pytest.fixture(params=["sqlite", "redis"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    if request.param == "sqlite":
        running = Service(*FLAGS, store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log")
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        running = Service(*FLAGS, "--redis-prefix", prefix, store=url, log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.kill()


async def submit_pages(service: Service, receiver: WebhookReceiver) -> None:
    for n in range(COUNT):
        status, _ = await service.put(f"r{n}", receiver.url("/page") + f"?{n}")
        assert status == 201


async def make_endpoint(service: Service, url: str) -> str:
    status, body = await service.call("PUT", "/webhooks/h", json={"url": url, "events": ["result", "error"]})
    assert status == 201
    secret: str = body["secret"]
    return secret


def first_seen_order(ids: list[str]) -> list[int]:
    return [int(i.rsplit("_", 1)[1]) for i in dict.fromkeys(ids)]


async def test_restarts_lose_no_delivery_and_a_sigkill_resends_only_the_one_in_flight(
    service: Service, receiver: WebhookReceiver
) -> None:
    url = receiver.answer("/hook", 503, first=3)  # down at first: the deliveries wait in the store
    receiver.hold("/hook", 8)  # the fifth delivery that gets a 200 is in flight when the process is killed
    secret = await make_endpoint(service, url)
    await submit_pages(service, receiver)
    await receiver.wait_for(lambda: len(receiver.at("/hook")) >= 3)
    service.stop(signal.SIGTERM)
    await service.start()
    await receiver.wait_for(lambda: len(receiver.at("/hook")) == 8)
    service.kill()
    receiver.released.set()
    await service.start()
    await receiver.wait_for(lambda: len({r.webhook_id for r in receiver.at("/hook")}) == COUNT, timeout=30)
    got = receiver.at("/hook")
    answered_ok = Counter(r.webhook_id for r in got[3:])
    in_flight = got[7].webhook_id
    assert answered_ok[in_flight] == 2, "the delivery in flight is sent again, with the same webhook-id"
    assert all(n == 1 for i, n in answered_ok.items() if i != in_flight), f"nothing else twice: {answered_ok}"
    assert len({r.webhook_id for r in got[:3]}) == 1, "the first delivery retried while the endpoint was down"
    ids = [r.webhook_id for r in got]
    assert first_seen_order(ids) == sorted(first_seen_order(ids)), "in event-id order"
    assert {r.verified(secret)["request_id"] for r in got} == {f"r{n}" for n in range(COUNT)}
