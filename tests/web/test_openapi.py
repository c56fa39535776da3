"""The OpenAPI description: every route described, the docs page renders offline, and schemathesis finds the live
server answering every generated request without a 5xx and as described."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from linkcast.settings import Settings
from linkcast.web.app import create_app
from linkcast.web.openapi import openapi_path
from tests.support.chromium import launch_chromium, require_chromium
from tests.support.service import Service

TOKEN = "docs-token"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
async def api_only(tmp_path: Path) -> AsyncIterator[Service]:
    """No workers: generated URLs are accepted and queued, never fetched (tests may only reach loopback)."""
    running = Service("--workers", "0", "--token", TOKEN, store="memory://", log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.stop()


async def test_every_route_is_described() -> None:
    app = create_app(Settings(store="memory://", workers=0))
    client = app.test_client()
    spec = await (await client.get("/openapi.json")).get_json()
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {
        (openapi_path(rule.rule), "GET" if rule.websocket else method)
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/static/")
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    assert routes, "no routes found"
    assert routes <= described, f"routes not described: {sorted(routes - described)}"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"] and operation["responses"], (path, method)


async def test_errors_are_described_in_the_api_error_format() -> None:
    app = create_app(Settings(store="memory://", workers=0))
    spec = await (await app.test_client().get("/openapi.json")).get_json()
    put = spec["paths"]["/urls/{request_id}"]["put"]
    for status in ("400", "401", "409", "413", "415", "429"):
        assert put["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    assert "security" not in put  # no token configured: nothing to authenticate


async def test_docs_page_loads_nothing_from_elsewhere() -> None:
    app = create_app(Settings(store="memory://", workers=0))
    response = await app.test_client().get("/docs")
    html = (await response.get_data()).decode()
    assert response.status_code == 200 and "/openapi.json" in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html


async def test_docs_page_renders_every_operation_in_a_browser(api_only: Service) -> None:
    require_chromium()
    async with launch_chromium() as browser:
        page = await browser.new_page()
        elsewhere: list[str] = []

        async def only_local(route: object) -> None:
            request = route.request  # type: ignore[attr-defined]
            if request.url.startswith(api_only.base_url):
                await route.continue_()  # type: ignore[attr-defined]
            else:
                elsewhere.append(request.url)
                await route.abort()  # type: ignore[attr-defined]

        await page.route("**/*", only_local)
        await page.goto(f"{api_only.base_url}/docs")
        await page.wait_for_selector("details summary code", timeout=10_000)
        paths = await page.locator("details summary code").all_inner_texts()
    assert {"/urls/{request_id}", "/urls", "/healthz", "/scraped_urls"} <= set(paths)
    assert elsewhere == []


def test_schemathesis_finds_no_server_error_nor_schema_mismatch(api_only: Service, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    # An invalid body may also be refused for its size (413): a refusal all the same.
    config.write_text(
        "[checks.negative_data_rejection]\n"
        "expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]\n"
    )
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        f"{api_only.base_url}/openapi.json",
        "--checks", "all",
        # Whether a schema-valid URL is accepted depends on the address policy (http://127.0.0.1/ is refused with a
        # 400 by design), so "valid data must be accepted" cannot hold here.
        "--exclude-checks", "positive_data_acceptance",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--max-examples", "15", "--seed", "20261125", "--no-shrink", "--request-timeout", "10",
        "--output-truncate", "true",
    ]  # fmt: skip
    # In tmp_path: schemathesis keeps a .schemathesis/ folder of its own in the working directory.
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    report = done.stdout[done.stdout.find("FAILURES") :]
    assert done.returncode == 0, report[:6000] + done.stderr[-2000:]
