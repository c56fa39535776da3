"""``/docs`` in headless Chromium against the real service: Swagger UI renders every operation of the spec, and
"Try it out" with the token given through Authorize reaches the server, by address and by name.

Every load from anywhere but the server is counted (``outside.py``): a test fails if the page tried to load anything
from elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import WAIT, ConsoleLog
from tests.browser.outside import OutsideLoads
from tests.support.service import Service

TOKEN = "docs-token"
HOSTS = ["127.0.0.1", "localhost"]


@dataclass
class DocsPage:
    page: Page
    base_url: str
    outside: OutsideLoads
    console: ConsoleLog


@pytest.fixture(scope="module")
async def docs_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """With a token; no workers, so a submitted URL is queued and never fetched. Private networks allowed: the URL
    submitted is a loopback one."""
    log = tmp_path_factory.mktemp("docs") / "serve.log"
    running = Service(
        "--workers", "0", "--token", TOKEN, "--allow-private-networks", store="memory://", log_path=log
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


@pytest.fixture(params=HOSTS)
async def docs(request: pytest.FixtureRequest, browser: Browser, docs_service: Service) -> AsyncIterator[DocsPage]:
    """A fresh browser context on ``/docs``, reached by address or by name, watching for outside loads."""
    base_url = f"http://{request.param}:{docs_service.port}"
    # Service workers would fetch past the routes: blocked, so that every request is seen.
    context = await browser.new_context(service_workers="block", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT * 1000)
    outside, console = OutsideLoads(base_url), ConsoleLog()
    await outside.watch(context)
    page = await context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    await page.goto(f"{base_url}/docs")
    await expect(page.locator(".opblock").first).to_be_visible()
    yield DocsPage(page, base_url, outside, console)
    await context.close()


async def read_spec(base_url: str) -> dict[str, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/openapi.json") as response:
        assert response.status == 200
        spec: dict[str, dict[str, object]] = await response.json()
        return spec


async def test_docs_renders_every_operation_of_the_spec(docs: DocsPage) -> None:
    spec = await read_spec(docs.base_url)
    described = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
    blocks = docs.page.locator(".opblock")
    await expect(blocks).to_have_count(len(described))
    shown = await blocks.evaluate_all(
        """blocks => blocks.map(block => [
             block.querySelector(".opblock-summary-method").textContent,
             block.querySelector(".opblock-summary-path").dataset.path])"""
    )
    assert {(method, path) for method, path in shown} == described
    await expect(docs.page.locator(".info .title")).to_contain_text("linkcast")
    assert docs.outside.all() == []
    assert docs.console.unexpected() == []


async def test_try_it_out_puts_a_url_with_the_token_given_through_authorize(
    docs: DocsPage, docs_service: Service
) -> None:
    page, request_id = docs.page, f"docs-{urlsplit(docs.base_url).hostname}"
    put = page.locator("#operations-urls-put_urls__request_id_")
    await put.locator(".opblock-summary").click()
    await put.get_by_role("button", name="Try it out").click()
    await put.locator('tr[data-param-name="request_id"] input').fill(request_id)
    await put.locator("textarea.body-param__text").fill('{"url": "http://127.0.0.1:9/never-fetched"}')
    status = put.locator(".live-responses-table tbody .response-col_status")
    body = put.locator(".live-responses-table tbody .response-col_description")

    # Without the token, the server's refusal is what the page shows.
    await put.get_by_role("button", name="Execute").click()
    await expect(status).to_have_text("401")
    await expect(body).to_contain_text('"unauthorized"')

    await page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    await dialog.locator("input").fill(TOKEN)
    await dialog.locator("button.authorize").click()  # by class: its accessible name differs across Swagger UI 5.x
    await dialog.get_by_role("button", name="Close").click()
    await put.get_by_role("button", name="Execute").click()
    await expect(status).to_have_text("201")
    await expect(body).to_contain_text('"accepted"')
    await expect(body).to_contain_text(f"/urls/{request_id}")  # the Location header

    # The server has it, under the id typed in the page.
    status_code, record = await docs_service.call(
        "GET", f"/urls/{request_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status_code == 200 and record["request_id"] == request_id and record["state"] == "queued"
    assert docs.outside.all() == []
    # Chromium logs the 401 answer as a failed load: the refusal this test asked for, and only that.
    assert docs.console.unexpected([r"status of 401"]) == []


async def test_a_load_from_elsewhere_is_blocked_and_counted(docs: DocsPage) -> None:
    """The watch itself: a load the policy refuses and a request it lets through both count (loopback ports no
    server listens on: were the watch broken, nothing would leave this machine)."""
    elsewhere = "http://127.0.0.1:9" if urlsplit(docs.base_url).hostname == "localhost" else "http://localhost:9"
    await docs.page.evaluate("url => { new Image().src = url; }", f"{elsewhere}/refused.png")
    assert await docs.outside.until(1) == [f"img-src refused {elsewhere}/refused.png"]

    # A navigation is no load the policy governs: the route stops it.
    await docs.page.evaluate("url => { window.location.href = url; }", f"{elsewhere}/navigated")
    await docs.outside.until(2)
    assert docs.outside.requests == [f"{elsewhere}/navigated"]
