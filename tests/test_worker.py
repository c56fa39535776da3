"""Workers end every request in one terminal event: a result, or an error with a stable code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from linkcast.core.events import PAGE_JOB, Job, result_body
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store.memory import MemoryStore
from linkcast.worker import WorkerPool
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def impatient(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """A service that gives up on a fetch after one second, so that a timeout test stays short."""
    folder: Path = tmp_path_factory.mktemp("impatient")
    running = Service(
        "--allow-private-networks", "--fetch-timeout", "1", "--read-timeout", "1", "--retries", "0",
        store="memory://", log_path=folder / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def outcome_of(service: Service, request_id: str, url: str) -> dict[str, object]:
    async with service.connect(f"request_id={request_id}") as ws:
        status, body = await service.put(request_id, url)
        assert status == 201, body
        frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {request_id})))
    return terminal_for(frames, {request_id})[request_id]


async def test_missing_page_ends_in_an_http_status_error(impatient: Service, site: LocalSite) -> None:
    event = await outcome_of(impatient, "missing", site.url("/does-not-exist"))
    assert event["type"] == "error"
    assert event["error"]["code"] == "http_status"  # type: ignore[index]
    assert "404" in event["error"]["message"]  # type: ignore[index]


async def test_server_error_ends_in_an_http_status_error(impatient: Service, site: LocalSite) -> None:
    event = await outcome_of(impatient, "broken", site.page("/broken", "oops", status=500))
    assert event["error"]["code"] == "http_status"  # type: ignore[index]


async def test_page_that_never_answers_ends_in_a_timeout_error(impatient: Service, site: LocalSite) -> None:
    async def never(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(60)
        return web.Response()

    event = await outcome_of(impatient, "slow", site.route("/never", never))
    assert event["type"] == "error"
    assert event["error"]["code"] == "timeout"  # type: ignore[index]


async def test_non_html_body_ends_in_a_not_html_error(impatient: Service, site: LocalSite) -> None:
    url = site.page("/data.json", '{"a": "<a href=/x>"}', content_type="application/json")
    event = await outcome_of(impatient, "json", url)
    assert event["error"]["code"] == "not_html"  # type: ignore[index]


async def test_refused_connection_ends_in_a_connect_error(impatient: Service) -> None:
    from tests.support.ports import free_port

    event = await outcome_of(impatient, "refused", f"http://127.0.0.1:{free_port()}/")
    assert event["error"]["code"] == "connect"  # type: ignore[index]


async def test_unresolvable_host_ends_in_a_dns_error(impatient: Service) -> None:
    # .invalid is reserved never to resolve (RFC 6761), so no lookup leaves this machine with an answer.
    event = await outcome_of(impatient, "nxdomain", "http://no-such-host.invalid/")
    assert event["error"]["code"] == "dns"  # type: ignore[index]


async def test_redirect_is_followed_and_links_resolve_against_the_final_url(
    impatient: Service, site: LocalSite
) -> None:
    site.page("/moved/here/page", '<a href="sibling">s</a><a href="../up">u</a>')

    async def redirect(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/moved/here/page")

    event = await outcome_of(impatient, "redirected", site.route("/old", redirect))
    assert event["final_url"] == site.url("/moved/here/page")
    assert event["status_code"] == 200
    assert event["links"] == [site.url("/moved/here/sibling"), site.url("/moved/up")]


async def test_fetch_names_linkcast_and_asks_for_html(impatient: Service, site: LocalSite) -> None:
    from linkcast import __version__

    seen: dict[str, str] = {}

    async def record_headers(request: web.Request) -> web.StreamResponse:
        seen.update(request.headers)
        return web.Response(text="<a href=/h>h</a>", content_type="text/html")

    event = await outcome_of(impatient, "headers", site.route("/headers", record_headers))
    assert event["type"] == "result"
    assert seen["User-Agent"].startswith(f"linkcast/{__version__}")
    assert seen["Accept"].startswith("text/html")


class LeakingHandler:
    """A handler whose first job ends in a cancellation that is not the worker's (as a shared fetch cancelled by
    another job's deadline once did): the worker took it for its own stop and ended for good."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    async def process(self, job: Job) -> None:
        self.attempts.append(job.attempt)
        if len(self.attempts) == 1:
            raise asyncio.CancelledError
        body = result_body(
            job.request_id, job.url, final_url=job.url, status_code=200, links=[], links_truncated=False, timings={}
        )
        await self.store.finish(job, body)

    store: Store


async def test_a_cancellation_leaking_out_of_a_job_gives_the_job_back_and_keeps_the_worker() -> None:
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    handler = LeakingHandler()
    handler.store = store
    pool = WorkerPool(store, {PAGE_JOB: handler})
    pool.start(1)
    try:
        await store.submit("leak", "https://example.com/")
        async with asyncio.timeout(30):
            while (record := await store.get_request("leak")) is None or record.state != "done":
                await asyncio.sleep(0.05)
        assert handler.attempts == [1, 2]  # one worker: the one that saw the cancellation took the job again
    finally:
        await pool.stop(1.0)
        await store.close()


class HangingHandler:
    """A handler whose every job hangs until its worker is stopped: a slow page running through restarts."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    async def process(self, job: Job) -> None:
        self.attempts.append(job.attempt)
        await asyncio.Event().wait()


async def test_a_job_drained_by_stop_after_stop_is_not_worn_out_as_by_dying_workers() -> None:
    """Each graceful stop gives the running job back; that is no worker's death: five quick restarts during one slow
    page ended it in worker_lost ("gave up after 5 attempts") though no worker had died."""
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    handler = HangingHandler()
    try:
        await store.submit("slow", "https://example.com/")
        for stops in range(1, 8):
            pool = WorkerPool(store, {PAGE_JOB: handler})
            pool.start(1)
            async with asyncio.timeout(30):
                while len(handler.attempts) < stops:
                    await asyncio.sleep(0.02)
            await pool.stop(0.05)
        record = await store.get_request("slow")
        assert record is not None and record.state == "queued", record
        assert handler.attempts == [1] + [2] * 6, handler.attempts
    finally:
        await store.close()
