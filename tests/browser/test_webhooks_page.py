"""The page's webhooks view in headless Chromium against the real service: every endpoint with its health, a
disabled one saying why, and nothing logged to the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import BrowserPage
from tests.support.service import Service
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    local = WebhookReceiver()
    local.page("/page", "<a href='/next'>next</a>")
    await local.start()
    yield local
    await local.stop()


async def test_the_webhooks_view_lists_endpoints_and_their_health(
    service: Service, receiver: WebhookReceiver, browser_page: BrowserPage
) -> None:
    for name, path, status in (("healthy", "/ok", 200), ("gone", "/gone", 410)):
        answer, _ = await service.call("PUT", f"/webhooks/{name}", json={"url": receiver.answer(path, status)})
        assert answer == 201
    assert (await service.put("r1", receiver.url("/page")))[0] == 201
    await receiver.wait_for(lambda: len(receiver.at("/ok")) == 1 and len(receiver.at("/gone")) == 1)
    page = browser_page.page
    await page.goto(f"{service.base_url}/#webhooks")
    gone = page.locator('#webhooks > li[data-webhook-id="gone"]')
    healthy = page.locator('#webhooks > li[data-webhook-id="healthy"]')
    await page.locator("#webhooks-refresh").click()
    await expect(gone.locator(".webhook-state")).to_have_text("disabled: the endpoint answered 410 Gone")
    await expect(healthy.locator(".webhook-state")).to_have_text("active")
    await expect(healthy.locator(".webhook-counts")).to_contain_text("1 delivered, 0 failed")
    await expect(page.locator("#webhook-count")).to_have_text("(2)")
    assert browser_page.console.unexpected() == []
