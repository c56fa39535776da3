"""The OpenAPI description: every route described, errors in the API's format, the docs page served whole by this
server, and schemathesis finding the live server answering every operation without a 5xx and as described.

The docs page in a browser (Swagger UI, "Try it out") is tested in ``tests/browser/test_docs.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from quart import Quart, websocket

from linkcast.settings import Settings
from linkcast.web.app import create_app
from linkcast.web.openapi import RouteGroup, build_spec, openapi_path
from linkcast.web.page import CONTENT_SECURITY_POLICY
from tests.support.service import Service

TOKEN = "docs-token"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Quart's own route for the pages' files (script, style, icon): fetched by the pages, not part of the API.
EXCEPTED_RULES = {"/static/<path:filename>"}


@pytest.fixture
async def api_only(tmp_path: Path) -> AsyncIterator[Service]:
    """No workers: generated URLs are accepted and queued, never fetched (tests may only reach loopback)."""
    running = Service("--workers", "0", "--token", TOKEN, store="memory://", log_path=tmp_path / "serve.log")
    await running.start()
    yield running
    running.stop()


def app_routes(app: Quart) -> set[tuple[str, str]]:
    """Every (OpenAPI path, method) the app answers: each method of each rule, a WebSocket as the GET opening it."""
    return {
        (openapi_path(rule.rule), "GET" if rule.websocket else method)
        for rule in app.url_map.iter_rules()
        if rule.rule not in EXCEPTED_RULES
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def described_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, operations in spec["paths"].items() for method in operations}


async def served_spec(app: Quart, host: str = "localhost") -> dict[str, Any]:
    response = await app.test_client().get("/openapi.json", headers={"Host": host})
    assert response.status_code == 200
    spec: dict[str, Any] = await response.get_json()
    return spec


def route_mismatch(routes: set[tuple[str, str]], described: set[tuple[str, str]]) -> str:
    return f"not described: {sorted(routes - described)}; described, not routes: {sorted(described - routes)}"


async def test_every_route_is_described() -> None:
    app = create_app(Settings(store="memory://", workers=0))
    spec, routes = await served_spec(app), app_routes(app)
    assert ("/scraped_urls", "GET") in routes and ("/urls/{request_id}", "PUT") in routes
    assert described_operations(spec) == routes, route_mismatch(routes, described_operations(spec))
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"] and operation["responses"], (path, method)


async def test_a_route_or_method_missing_from_the_spec_is_caught() -> None:
    app = create_app(Settings(store="memory://", workers=0))

    async def undescribed() -> str:
        return ""

    async def undescribed_stream() -> None:
        await websocket.accept()

    # A new method on a described path, a new path, and a new WebSocket.
    app.add_url_rule("/urls/<path:request_id>", "delete_url", undescribed, methods=["DELETE"])
    app.add_url_rule("/undescribed", "undescribed", undescribed, methods=["GET", "POST"])
    app.add_websocket("/undescribed/live", "undescribed_live", undescribed_stream)
    spec, routes = await served_spec(app), app_routes(app)
    assert routes - described_operations(spec) == {
        ("/urls/{request_id}", "DELETE"),
        ("/undescribed", "GET"),
        ("/undescribed", "POST"),
        ("/undescribed/live", "GET"),
    }


def test_an_operation_described_twice_is_refused() -> None:
    twice = [RouteGroup("a", "", {"/x": {"get": {}}}), RouteGroup("b", "", {"/x": {"get": {}, "put": {}}})]
    with pytest.raises(ValueError, match="GET /x is described twice"):
        build_spec({"/x"}, groups=twice)
    unlike = [RouteGroup("a", "", {"/x": {}}, {"S": {"type": "string"}}), RouteGroup("b", "", {"/y": {}}, {"S": {}})]
    with pytest.raises(ValueError, match="schema 'S' of 'b' differs"):
        build_spec({"/x", "/y"}, groups=unlike)


async def test_every_error_answer_is_described_in_the_api_error_format() -> None:
    spec = await served_spec(create_app(Settings(store="memory://", workers=0)))
    errors = [
        (path, method, status, answer)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    ]
    assert len(errors) > 20
    for path, method, status, answer in errors:
        assert answer["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, (
            path,
            method,
            status,
        )
    assert spec["components"]["schemas"]["ErrorDetail"]["required"] == ["code", "message"]


async def test_the_webhook_calls_describe_the_rate_limit_and_the_endpoint_cap_they_answer() -> None:
    """PUT /webhooks and a delivery's retry each spend a submission, so they answer 429 like every submission, and a
    PUT past --max-webhooks answers 409 too_many_webhooks: the spec (and Swagger UI) must say so."""
    settings = Settings(store="memory://", workers=0, allow_private_networks=True, max_webhooks=1)
    app = create_app(settings.replace(rate_burst=3, rate_limit=0.001))
    spec = await served_spec(app)
    put, retry = "/webhooks/{endpoint_id}", "/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry"
    endpoint = {"url": "http://127.0.0.1:9/"}
    async with app.test_app() as test_app:
        client = test_app.test_client()
        assert (await client.put("/webhooks/a", json=endpoint)).status_code == 201
        over_cap = await client.put("/webhooks/b", json=endpoint)
        assert over_cap.status_code == 409 and (await over_cap.get_json())["error"]["code"] == "too_many_webhooks"
        assert "--max-webhooks" in spec["paths"][put]["put"]["responses"]["409"]["description"]
        assert (await client.post("/webhooks/a/deliveries/1/retry")).status_code == 404
        answered = {
            (put, "put"): (await client.put("/webhooks/c", json=endpoint)).status_code,
            (retry, "post"): (await client.post("/webhooks/a/deliveries/1/retry")).status_code,
        }
    for (path, method), status in answered.items():
        assert status == 429 and "429" in spec["paths"][path][method]["responses"], (path, method, status)


async def test_the_spec_names_the_answers_every_route_may_give() -> None:
    """Answers the README promises of every route, which no operation lists on its own: the spec's description
    names them, so that a client reading only the spec knows them."""
    app = create_app(Settings(store="memory://", workers=0))
    description = (await served_spec(app))["info"]["description"]
    looped = await app.test_client().put(
        "/urls/x", json={"url": "https://example.com/"}, headers={"CDN-Loop": "linkcast"}
    )
    assert looped.status_code == 403 and (await looped.get_json())["error"]["code"] == "loop_detected"
    for status, code in ((400, "unknown_host"), (403, "loop_detected"), (503, "busy")):
        assert f"{status} '{code}'" in description, code


async def test_only_a_server_with_a_token_asks_for_one_and_never_on_public_routes() -> None:
    open_spec = await served_spec(create_app(Settings(store="memory://", workers=0)))
    assert "securitySchemes" not in open_spec["components"]
    assert not any("security" in op for ops in open_spec["paths"].values() for op in ops.values())

    spec = await served_spec(create_app(Settings(store="memory://", workers=0, token=TOKEN)))
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    protected = {
        (path, method) for path, ops in spec["paths"].items() for method, op in ops.items() if "security" in op
    }
    assert ("/urls/{request_id}", "put") in protected and ("/metrics", "get") in protected
    public = {"/", "/healthz", "/openapi.json", "/docs", "/docs/swagger-ui/{asset}"}
    assert not {path for path, _ in protected} & public


async def test_the_spec_is_the_same_whichever_name_the_server_is_reached_by() -> None:
    app = create_app(Settings(store="memory://", workers=0))
    by_address, by_name = await served_spec(app, "127.0.0.1:8080"), await served_spec(app, "localhost:8080")
    assert by_address == by_name
    # Relative: Swagger UI and clients call the server that served the spec, by the name they reached it by.
    assert by_address["servers"] == [{"url": "/", "description": "this server"}]
    assert b"127.0.0.1" not in orjson.dumps(by_address) and b"localhost:" not in orjson.dumps(by_address)


async def test_docs_page_and_every_file_it_loads_are_served_here_without_a_token() -> None:
    client = create_app(Settings(store="memory://", workers=0, token=TOKEN)).test_client()
    response = await client.get("/docs")
    assert response.status_code == 200 and response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = (await response.get_data()).decode()
    loads = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/docs/swagger-ui/swagger-ui-bundle.js" in {url.split("?")[0] for url in loads}
    assert "<script>" not in html and "style=" not in html  # nothing inline: the policy would refuse it
    for url in loads:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = await client.get(url)
        assert loaded.status_code == 200, url
    assets = [url.split("?")[0] for url in loads if url.startswith("/docs/swagger-ui/")]
    for url, media_type in zip(sorted(assets), ("text/javascript", "text/css"), strict=True):
        assert (await client.get(url)).mimetype == media_type


async def test_a_range_of_a_served_file_is_never_a_server_error() -> None:
    """Quart handed a suffix range (``bytes=-1``: the last byte) on as a negative offset, which werkzeug asserts
    against: a 500 for anyone, on the public files. Such a range is now ignored (RFC 9110 14.2: a server may), and
    the whole file is the answer; other ranges are served as before."""
    client = create_app(Settings(store="memory://", workers=0, token=TOKEN)).test_client()
    html = (await (await client.get("/docs")).get_data()).decode()
    files = [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if url.startswith(("/docs/", "/static/"))]
    assert any(url.startswith("/static/") for url in files) and any(url.startswith("/docs/") for url in files)
    for url in files:
        whole = await (await client.get(url)).get_data()
        for suffix in ("bytes=-1", "bytes=-100000000"):
            answer = await client.get(url, headers={"Range": suffix})
            assert answer.status_code == 200 and await answer.get_data() == whole, (url, suffix)
        first = await client.get(url, headers={"Range": "bytes=0-0"})
        assert first.status_code == 206 and await first.get_data() == whole[:1], url
        assert (await client.get(url, headers={"Range": "bytes=5-1"})).status_code == 416, url


def test_schemathesis_finds_no_server_error_nor_schema_mismatch(api_only: Service, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    junit = tmp_path / "junit.xml"
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
        # DELETE /crawls/<id> cancels a crawl: its record and pages stay readable (state 'cancelled'), as the API
        # says, so "a deleted resource is gone" does not apply.
        "--exclude-checks", "positive_data_acceptance,use_after_free",
        # Schemathesis leaves out the operation that served the spec (GET /openapi.json) unless a filter names it.
        "--include-path-regex", "^/",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--max-examples", "15", "--seed", "20261125", "--no-shrink", "--request-timeout", "10",
        "--output-truncate", "true", "--report", "junit", "--report-junit-path", str(junit),
    ]  # fmt: skip
    # In tmp_path: schemathesis keeps a .schemathesis/ folder of its own in the working directory.
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    report = done.stdout[done.stdout.find("FAILURES") :]
    assert done.returncode == 0, report[:6000] + done.stderr[-2000:]

    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(f"{api_only.base_url}/openapi.json", timeout=10) as served:
        spec = orjson.loads(served.read())
    described = {f"{method} {path}" for path, method in described_operations(spec)}
    tested = {case.get("name") for case in ET.parse(junit).iter("testcase") if case.find("skipped") is None}
    assert described <= tested, f"operations schemathesis did not test: {sorted(described - tested)}"
