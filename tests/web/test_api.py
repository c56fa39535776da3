"""The HTTP API against the real service: validation, idempotency, state, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import yarl

from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    folder: Path = tmp_path_factory.mktemp("api")
    running = Service("--allow-private-networks", store="memory://", log_path=folder / "serve.log")
    await running.start()
    yield running
    running.stop()


BAD_BODIES = [
    pytest.param(None, None, 400, "missing_body", id="no-body"),
    pytest.param(b"{not json", "application/json", 400, "invalid_json", id="not-json"),
    pytest.param(b'["http://a.example/"]', "application/json", 400, "invalid_body", id="json-array"),
    pytest.param(b'"http://a.example/"', "application/json", 400, "invalid_body", id="json-string"),
    pytest.param(b"{}", "application/json", 400, "missing_url", id="url-missing"),
    pytest.param(b'{"url": 42}', "application/json", 400, "invalid_url", id="url-not-string"),
    pytest.param(b'{"url": null}', "application/json", 400, "invalid_url", id="url-null"),
    pytest.param(b'{"url": "/relative/path"}', "application/json", 400, "invalid_url", id="url-relative"),
    pytest.param(b'{"url": "ftp://a.example/f"}', "application/json", 400, "invalid_url", id="url-ftp"),
    pytest.param(b'{"url": "javascript:alert(1)"}', "application/json", 400, "invalid_url", id="url-javascript"),
    pytest.param(b'{"url": "http://"}', "application/json", 400, "invalid_url", id="url-no-host"),
    pytest.param(b'{"url": "http://a b/"}', "application/json", 400, "invalid_url", id="url-space-in-host"),
    pytest.param(
        b'{"url": "http://a.example/' + b"x" * 8200 + b'"}', "application/json", 400, "url_too_long", id="url-too-long"
    ),
    pytest.param(b"url=http://a.example/", "text/plain", 415, "unsupported_media_type", id="text-plain"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code"), BAD_BODIES)
async def test_bad_submission_gets_a_json_error(
    api: Service, body: bytes | None, content_type: str | None, status: int, code: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    got_status, got = await api.call("PUT", "/urls/bad", data=body, headers=headers)
    assert (got_status, got["error"]["code"]) == (status, code), got
    assert got["error"]["message"]


@pytest.mark.parametrize(
    "request_id",
    ["a%20b", "a/b", "x" * 129, "caf%C3%A9", "semi%3Bcolon", "%2E%2E%2Fetc"],
    ids=["space", "slash", "too-long", "non-ascii", "semicolon", "encoded-dots-slash"],
)
async def test_bad_request_id_is_refused_with_400(api: Service, request_id: str) -> None:
    status, body = await api.call("PUT", f"/urls/{request_id}", json={"url": "http://a.example/"})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request_id"


@pytest.mark.parametrize("method", ["PUT", "GET"])
@pytest.mark.parametrize("request_id", ["%2E", "%2E%2E", ".", ".."])
async def test_dot_segment_request_ids_are_refused_since_clients_could_not_read_them_back(
    api: Service, method: str, request_id: str
) -> None:
    """aiohttp, like browsers and curl, would send /urls/.. as /: the path goes out as written (encoded=True)."""
    url = yarl.URL(f"{api.base_url}/urls/{request_id}", encoded=True)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json={"url": "http://a.example/"}) as response,
    ):
        body = await response.json()
    assert (response.status, body["error"]["code"]) == (400, "invalid_request_id"), body
    assert "could never be read back" in body["error"]["message"]


@pytest.mark.parametrize("kind", ["crawl", "feed"])
async def test_a_bad_crawl_or_feed_id_is_named_as_such_not_as_a_request_id(api: Service, kind: str) -> None:
    """The code stays invalid_request_id (it is the request_id of their events); the message names the id the user
    gave and its route, not a request's and /urls/, which a user of PUT /crawls or linkcast crawl --id never wrote."""
    status, body = await api.call("PUT", f"/{kind}s/a%20b", json={"url": "http://a.example/"})
    assert (status, body["error"]["code"]) == (400, "invalid_request_id"), body
    assert body["error"]["message"].startswith(f"{kind}_id must be 1 to 128 characters"), body
    url = yarl.URL(f"{api.base_url}/{kind}s/..", encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json()
    assert (response.status, body["error"]["code"]) == (400, "invalid_request_id"), body
    assert body["error"]["message"] == (
        f"{kind}_id may not be '..': clients rewrite /{kind}s/.., so it could never be read back"
    )


async def test_a_path_no_route_has_is_named_in_its_404(api: Service) -> None:
    """werkzeug's words named no path, so a client given a wrong base URL (linkcast --server http://host/api) heard
    only "The requested URL was not found on the server. If you entered the URL manually please check your
    spelling and try again."."""
    status, body = await api.call("PUT", "/api/urls/1", json={"url": "http://a.example/"})
    assert (status, body["error"]) == (
        404,
        {"code": "not_found", "message": "no route /api/urls/1 here: the API's routes are listed at /openapi.json"},
    )


async def test_a_method_a_route_does_not_take_is_named_with_those_it_takes(api: Service) -> None:
    status, body = await api.call("DELETE", "/urls/1")
    assert (status, body["error"]) == (
        405,
        {"code": "method_not_allowed", "message": "DELETE is not allowed on /urls/1: it takes GET, PUT"},
    )


async def test_every_allowed_request_id_character_is_accepted(api: Service, site: LocalSite) -> None:
    status, body = await api.put("Az09._~-", site.page("/chars", "<a href=/x>x</a>"))
    assert status == 201, body
    assert body == {"status": "accepted", "request_id": "Az09._~-", "url": site.url("/chars")}


async def test_curl_default_form_type_is_accepted_when_the_body_is_json(api: Service, site: LocalSite) -> None:
    url = site.page("/curl", "<a href=/x>x</a>")
    status, body = await api.call(
        "PUT",
        "/urls/curl-form",
        data=f'{{"url": "{url}"}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 201, body


async def test_same_id_same_url_answers_200_and_fetches_nothing_new(api: Service, site: LocalSite) -> None:
    url = site.page("/idem", '<a href="/one">1</a>')
    async with api.connect("request_id=idem&since=0") as ws:
        assert (await api.put("idem", url))[0] == 201
        await receive_until(ws, lambda fs: bool(terminal_for(fs, {"idem"})))
        status, again = await api.put("idem", url)
        assert status == 200
        assert again["state"] == "done"
        assert again["links"] == [site.url("/one")]
    async with api.connect("request_id=idem&since=0") as ws:
        history = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"idem"})))
    assert [f["type"] for f in history].count("accepted") == 1


async def test_same_id_other_url_is_a_conflict(api: Service, site: LocalSite) -> None:
    assert (await api.put("taken", site.page("/first", "")))[0] == 201
    status, body = await api.put("taken", site.url("/second"))
    assert status == 409
    assert body["error"]["code"] == "conflict"


async def test_post_chooses_an_id_and_says_where(api: Service, site: LocalSite) -> None:
    url = site.page("/posted", "")
    async with aiohttp.ClientSession() as session, session.post(api.base_url + "/urls", json={"url": url}) as response:
        body = await response.json()
        assert response.status == 201
        assert response.headers["Location"] == f"/urls/{body['request_id']}"
    status, state = await api.call("GET", f"/urls/{body['request_id']}")
    assert status == 200 and state["url"] == url


async def test_state_goes_from_accepted_to_done_with_its_result(api: Service, site: LocalSite) -> None:
    url = site.page("/stateful", '<a href="/a">a</a><a href="https://b.example/">b</a>')
    async with api.connect("request_id=stateful") as ws:
        await api.put("stateful", url)
        await receive_until(ws, lambda fs: bool(terminal_for(fs, {"stateful"})))
    status, state = await api.call("GET", "/urls/stateful")
    assert status == 200
    assert state["state"] == "done"
    assert state["status_code"] == 200
    assert state["final_url"] == url
    assert state["links"] == [site.url("/a"), "https://b.example/"]


async def test_unknown_id_is_404(api: Service) -> None:
    status, body = await api.call("GET", "/urls/never-submitted")
    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_unknown_route_and_wrong_method_are_json_errors(api: Service) -> None:
    status, body = await api.call("GET", "/no/such/route")
    assert status == 404 and body["error"]["code"]
    status, body = await api.call("DELETE", "/urls/x")
    assert status == 405 and body["error"]["code"]


async def test_healthz_answers_while_serving(api: Service) -> None:
    status, body = await api.call("GET", "/healthz")
    assert status == 200
    assert body["status"] == "ok"


async def test_metrics_count_accepted_requests_and_outcomes(api: Service, site: LocalSite) -> None:
    url = site.page("/metered", "<a href=/m>m</a>")
    async with api.connect("request_id=metered") as ws:
        await api.put("metered", url)
        await receive_until(ws, lambda fs: bool(terminal_for(fs, {"metered"})))
        async with aiohttp.ClientSession() as session, session.get(api.base_url + "/metrics") as response:
            text = await response.text()
    assert response.status == 200
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(samples["linkcast_requests_accepted_total"]) >= 1
    assert float(samples['linkcast_fetches_total{outcome="ok"}']) >= 1
    assert float(samples["linkcast_websocket_clients"]) >= 1
    assert "linkcast_queue_depth" in samples
    assert float(samples["linkcast_fetch_seconds_count"]) >= 1
    assert float(samples["linkcast_extract_seconds_count"]) >= 1
