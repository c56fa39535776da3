"""Webhook deliveries through a full disk: none lost once space returns, none sent twice, not even the one whose
receiver answered while the disk was full (its outcome could not be recorded then: it was sent again, with the same
webhook-id, although this process knew it had been delivered)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.support.disk import fill, small_disk
from tests.support.service import Service
from tests.support.webhook_receiver import WebhookReceiver

COUNT = 6


async def test_webhook_deliveries_through_a_full_disk_lose_nothing(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    receiver.page("/page", "<a href='/next'>next</a>")
    await receiver.start()
    url = receiver.answer("/hook")
    receiver.hold("/hook", 3)  # answered while the disk is full
    with small_disk(tmp_path / "disk") as disk:
        service = Service(
            "--allow-private-networks", "--rate-limit", "0", "--webhook-retry-base", "0.05",
            "--job-visibility-timeout", "2", store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log",
        )  # fmt: skip
        await service.start()
        try:
            status, _ = await service.call("PUT", "/webhooks/h", json={"url": url, "events": ["result", "error"]})
            assert status == 201
            for n in range(COUNT):
                assert (await service.put(f"r{n}", receiver.url("/page") + f"?{n}"))[0] == 201
            await receiver.wait_for(lambda: len(receiver.at("/hook")) >= 3)
            filler = fill(disk)
            receiver.released.set()
            status, body = await service.call("PUT", "/webhooks/other", json={"url": url})
            assert (status, body["error"]["code"]) == (507, "store_full"), body
            await asyncio.sleep(4)
            while_full = len(receiver.at("/hook"))
            filler.unlink()
            await receiver.wait_for(lambda: len({r.webhook_id for r in receiver.at("/hook")}) == COUNT, 30)
            await asyncio.sleep(1)
        finally:
            service.stop()
            await receiver.stop()
    sent = Counter(r.webhook_id for r in receiver.at("/hook"))
    assert set(sent.values()) == {1}, sent  # the one answered while the disk was full too: it was recorded later
    assert while_full == 3  # nothing sent while the disk could record nothing
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
