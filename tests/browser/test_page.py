"""The live page in headless Chromium against the real service: submit, watch, expand, filter, copy, reconnect."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from playwright.async_api import Locator, Page, WebSocket, expect

from tests.browser.conftest import BrowserPage
from tests.browser.shots import photograph
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

ARTICLE = """<!doctype html><title>Articles</title>
<a href="/one">one</a> <a href="two?x=1">two</a> <a href="https://example.org/three">three</a>
<a href="/one">one again</a> <a href="mailto:someone@example.org">mail</a>"""

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
# Chromium logs a refused connection to the stopped server as a console error: expected, and only then.
SERVER_DOWN = (r"ERR_CONNECTION_REFUSED", r"WebSocket connection to .* failed")


def row(page: Page, request_id: str) -> Locator:
    return page.locator(f'#requests > li[data-request-id="{request_id}"]')


async def open_page(page: Page, service: Service) -> None:
    await page.goto(service.base_url + "/")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def test_submitting_a_url_through_the_form_shows_its_links(
    service: Service, site: LocalSite, browser_page: BrowserPage
) -> None:
    page, url = browser_page.page, site.page("/articles", ARTICLE)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.base_url)
    await open_page(page, service)

    # Keyboard only: type the URL, Enter submits (no request id: the server chooses one).
    await page.get_by_label("URL to fetch").fill(url)
    await page.get_by_label("URL to fetch").press("Enter")
    await expect(page.locator("#submit-status")).to_have_text(re.compile(r"Accepted as [0-9a-f]{32}\."))
    request_id = (await page.locator("#submit-status").inner_text()).removeprefix("Accepted as ").rstrip(".")
    item = row(page, request_id)
    await expect(item).to_have_attribute("data-state", "done")
    await expect(item.locator(".state")).to_have_text("done")
    await expect(item.locator(".status-code")).to_have_text("200")
    await expect(item.locator(".link-count")).to_have_text("3 links")
    await expect(item.locator(".elapsed")).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))

    await item.locator("summary").focus()
    await page.keyboard.press("Enter")
    expected = [site.url("/one"), site.url("/two?x=1"), "https://example.org/three"]
    await expect(item.locator(".links a")).to_have_text(expected)
    await expect(item.locator(".links a").first).to_have_attribute("href", site.url("/one"))

    await item.get_by_label(f"Filter links of {request_id}").fill("TWO")
    await expect(item.locator(".links a")).to_have_text([site.url("/two?x=1")])
    await expect(item.locator(".links-summary")).to_have_text("1 of 3 links match.")
    await item.get_by_role("button", name="Copy links").click()
    await expect(item.locator(".copy-status")).to_have_text("Copied 1 link.")
    assert await page.evaluate("navigator.clipboard.readText()") == site.url("/two?x=1")
    assert browser_page.console.unexpected() == []


async def test_a_failed_fetch_shows_its_error_code_and_message(
    service: Service, site: LocalSite, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await open_page(page, service)
    await page.get_by_label("URL to fetch").fill(site.url("/no-such-page"))
    await page.get_by_label("Request id").fill("missing-page")
    await page.get_by_role("button", name="Fetch").click()
    item = row(page, "missing-page")
    await expect(item).to_have_attribute("data-state", "failed")
    await item.locator("summary").click()
    await expect(item.locator(".error-code")).to_have_text("http_status")
    await expect(item.locator(".error-message")).to_contain_text("404")
    await expect(item.locator(".links-tools")).to_be_hidden()
    assert browser_page.console.unexpected() == []


async def test_refused_submissions_say_why(service: Service, browser_page: BrowserPage) -> None:
    page = browser_page.page
    await open_page(page, service)
    await page.get_by_label("URL to fetch").fill("ftp://example.org/")
    await page.get_by_role("button", name="Fetch").click()
    await expect(page.locator("#submit-status")).to_have_text("Enter an absolute http:// or https:// URL.")
    await expect(page.get_by_label("URL to fetch")).to_be_focused()
    await page.get_by_label("URL to fetch").fill("http://127.0.0.1:9/a")
    await page.get_by_label("Request id").fill("taken")
    assert (await service.put("taken", "http://127.0.0.1:9/b"))[0] == 201
    await page.get_by_role("button", name="Fetch").click()
    await expect(page.locator("#submit-status")).to_have_text(re.compile(r"^Refused \(conflict\): "))
    # The 409 answer is an expected HTTP error, which Chromium logs as a failed resource.
    assert browser_page.console.unexpected([r"status of 409"]) == []


async def test_history_on_load_and_only_what_i_submitted(
    service: Service, site: LocalSite, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    theirs = site.page("/theirs", '<a href="/t">t</a>')
    assert (await service.put("someone-else", theirs))[0] == 201
    await open_page(page, service)
    await expect(row(page, "someone-else")).to_have_attribute("data-state", "done")  # replayed from the log

    await page.get_by_label("URL to fetch").fill(site.page("/mine", '<a href="/m">m</a>'))
    await page.get_by_label("Request id").fill("mine")
    await page.get_by_label("Request id").press("Enter")
    await expect(row(page, "mine")).to_have_attribute("data-state", "done")
    await page.get_by_label("URL to fetch").fill(site.url("/mine"))  # the same id and URL again: nothing new
    await page.get_by_label("Request id").fill("mine")
    await page.get_by_role("button", name="Fetch").click()
    await expect(page.locator("#submit-status")).to_have_text("Already submitted as mine: done.")

    await page.get_by_label("Only what I submitted").check()
    await expect(row(page, "someone-else")).to_be_hidden()
    await expect(row(page, "mine")).to_be_visible()
    await expect(page.locator("#request-count")).to_have_text("(1 of 2)")

    # A reload shows the same history, and the tab remembers both the choice and what it submitted.
    await page.reload()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(row(page, "mine")).to_have_attribute("data-state", "done")
    await expect(page.get_by_label("Only what I submitted")).to_be_checked()
    await expect(row(page, "someone-else")).to_be_attached()
    await expect(row(page, "someone-else")).to_be_hidden()
    await page.get_by_label("Everything").check()
    await expect(row(page, "someone-else")).to_be_visible()
    await expect(page.locator("#requests > li")).to_have_count(2)
    assert browser_page.console.unexpected() == []


async def test_results_produced_while_disconnected_appear_once_after_a_restart(
    service: Service, site: LocalSite, browser_page: BrowserPage
) -> None:
    service, page = service, browser_page.page
    frames: list[dict[str, Any]] = []
    sockets: list[str] = []

    def watch(ws: WebSocket) -> None:
        sockets.append(ws.url)
        ws.on("framereceived", lambda payload: frames.append(orjson.loads(payload)))

    page.on("websocket", watch)
    # The page's clock is under the test's control, so that it stays disconnected while results are produced.
    await page.clock.install()
    await open_page(page, service)
    before = site.page("/before", '<a href="/b">b</a>')
    await page.get_by_label("URL to fetch").fill(before)
    await page.get_by_label("Request id").fill("before")
    await page.get_by_role("button", name="Fetch").click()
    await expect(row(page, "before")).to_have_attribute("data-state", "done")
    last_seen = max(f["id"] for f in frames if "id" in f)

    await page.clock.pause_at(await page.evaluate("Date.now()") + 1000)
    service.stop()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    await service.start()
    missed = {f"while-away-{n}": site.page(f"/away{n}", f'<a href="/a{n}">a</a>') for n in range(3)}
    async with service.connect(f"since={last_seen}") as ws:
        for request_id, url in missed.items():
            assert (await service.put(request_id, url))[0] == 201
        await receive_until(ws, lambda fs: len(terminal_for(fs, set(missed))) == len(missed))
    await expect(row(page, "while-away-0")).to_have_count(0)  # still disconnected

    await page.clock.resume()
    await page.clock.fast_forward(10_000)  # past the longest back-off: the page reconnects on its own
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    for request_id in missed:
        await expect(row(page, request_id)).to_have_attribute("data-state", "done")
        await expect(row(page, request_id).locator(".link-count")).to_have_text("1 link")
    await expect(page.locator("#requests > li")).to_have_count(4)

    assert sockets[-1].endswith(f"since={last_seen}")
    terminals = [f["request_id"] for f in frames if f.get("type") in ("result", "error")]
    assert sorted(terminals) == sorted(["before", *missed])  # each exactly once across both connections
    ids = [f["id"] for f in frames if "id" in f]
    assert ids == sorted(set(ids))
    assert browser_page.console.unexpected(SERVER_DOWN) == []


POSTS = "".join(f'<article><a href="posts/{n}-notes">Post {n}</a></article>' for n in range(1, 11))
BLOG = f"""<!doctype html><title>Field notes</title><base href="/blog/">
<nav><a href="/">Home</a> <a href="archive/">Archive</a> <a href="/about">About</a> <a href="feed.xml">Feed</a></nav>
<main>{POSTS}<a href="https://www.python.org/">Python</a> <a href="https://quart.palletsprojects.com/">Q</a></main>"""


async def test_screenshot_with_real_results_in_light_dark_and_on_a_phone(
    service: Service, site: LocalSite, browser_page: BrowserPage, tmp_path: Path
) -> None:
    """Fills the page with real results and photographs it; ``LINKCAST_UPDATE_SCREENSHOT=1`` writes docs/."""
    page = browser_page.page
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text='<a href="/done">done</a>', content_type="text/html")

    site.page("/docs/guide/", "<title>Guide</title>" + "".join(f'<a href="#s{n}">s</a>' for n in range(6)))
    site.route("/docs/guide", lambda _r: _redirect("/docs/guide/"))
    submissions = [
        ("changelog", site.page("/changelog", "".join(f'<a href="/v/{n}">v{n}</a>' for n in range(42)))),
        ("guide", site.url("/docs/guide")),
        ("old-page", site.url("/old-page")),
        ("blog", site.page("/blog/", BLOG)),
    ]
    await open_page(page, service)
    for request_id, url in submissions:
        await page.get_by_label("URL to fetch").fill(url)
        await page.get_by_label("Request id").fill(request_id)
        await page.get_by_role("button", name="Fetch").click()
        await expect(row(page, request_id)).to_have_attribute("data-state", re.compile("done|failed"))
    await page.get_by_label("URL to fetch").fill(site.route("/slow", slow))
    await page.get_by_role("button", name="Fetch").click()
    await expect(page.locator("#requests > li").first).to_have_attribute("data-state", "running")
    await row(page, "blog").locator("summary").click()
    await row(page, "blog").get_by_label("Filter links of blog").fill("posts")
    await expect(row(page, "blog").locator(".links li")).to_have_count(10)
    await page.get_by_label("Filter links of blog").blur()

    await photograph(page, tmp_path / "page", SCREENSHOT)
    release.set()
    await expect(page.locator("#requests > li").first).to_have_attribute("data-state", "done")
    assert browser_page.console.unexpected() == []


async def _redirect(location: str) -> web.Response:
    raise web.HTTPFound(location)


async def test_a_configured_token_is_asked_once_and_kept_for_the_session(
    site: LocalSite, browser_page: BrowserPage, tmp_path: Path
) -> None:
    service = Service(
        "--allow-private-networks", "--token", "s3cret", store=f"sqlite:///{tmp_path}/db", log_path=tmp_path / "log"
    )
    await service.start()
    try:
        page, dialog = browser_page.page, browser_page.page.locator("#token-dialog")
        await page.goto(service.base_url + "/")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("needs an access token")
        await page.get_by_label("Access token").fill("wrong")
        await page.get_by_label("Access token").press("Enter")
        await expect(dialog).to_contain_text("refused the token")
        await page.get_by_label("Access token").fill("s3cret")
        await page.get_by_role("button", name="Use token").click()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")

        await page.get_by_label("URL to fetch").fill(site.page("/secret", '<a href="/s">s</a>'))
        await page.get_by_label("Request id").fill("with-token")
        await page.get_by_role("button", name="Fetch").click()
        await expect(row(page, "with-token")).to_have_attribute("data-state", "done")

        await page.reload()  # the token is kept for the session: not asked again
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(row(page, "with-token")).to_have_attribute("data-state", "done")
        await expect(dialog).to_be_hidden()
    finally:
        service.stop()
    # Refused handshakes and the 401 that tells why are expected until the token is given.
    expected = (r"status of 401", r"WebSocket connection to .* failed")
    assert browser_page.console.unexpected(expected) == []


async def test_history_pruned_while_away_is_announced_after_reconnecting(
    site: LocalSite, browser_page: BrowserPage, tmp_path: Path
) -> None:
    # Keep two events: the server prunes the rest when it starts.
    service = Service(
        "--allow-private-networks", "--retain-events", "2", store=f"sqlite:///{tmp_path}/db", log_path=tmp_path / "log"
    )
    await service.start()
    page, notice = browser_page.page, browser_page.page.locator("#notice")
    try:
        assert (await service.put("early", site.page("/early", '<a href="/e">e</a>')))[0] == 201
        async with service.connect("since=0") as ws:
            await receive_until(ws, lambda fs: bool(terminal_for(fs, {"early"})))
        await service.restart()
        # First load: history starts later than asked, which is no loss to this page; it shows what is kept.
        await page.clock.install()
        await open_page(page, service)
        await expect(row(page, "early")).to_have_attribute("data-state", "done")
        await expect(notice).to_be_hidden()

        await page.clock.pause_at(await page.evaluate("Date.now()") + 1000)
        service.stop()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
        await service.start()
        assert (await service.put("pruned", site.page("/pruned", '<a href="/p">p</a>')))[0] == 201
        async with service.connect("since=0") as ws:
            await receive_until(ws, lambda fs: bool(terminal_for(fs, {"pruned"})))
        await service.restart()  # prunes what the page has not seen
        await page.clock.resume()
        await page.clock.fast_forward(10_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text("pruned by the server while this page was disconnected")
        await expect(row(page, "pruned")).to_have_attribute("data-state", "done")  # its last events were kept
    finally:
        service.stop()
    assert browser_page.console.unexpected(SERVER_DOWN) == []


async def test_a_page_whose_server_lost_its_log_starts_over_and_says_so(
    site: LocalSite, browser_page: BrowserPage, tmp_path: Path
) -> None:
    """A memory:// server restarts with an empty log: the page's last id is past its newest event, so the server
    refuses the page's since (since_ahead). The page must not retry it forever, nor drop the new events as seen."""
    service = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "log")
    await service.start()
    page, notice = browser_page.page, browser_page.page.locator("#notice")
    try:
        await page.clock.install()
        await open_page(page, service)
        assert (await service.put("old", site.page("/old", '<a href="/o">o</a>')))[0] == 201
        await expect(row(page, "old")).to_have_attribute("data-state", "done")

        await page.clock.pause_at(await page.evaluate("Date.now()") + 1000)
        await service.restart()  # the log starts again at event 1
        await page.clock.resume()
        await page.clock.fast_forward(10_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(notice).to_contain_text("no longer has the events this page saw")
        assert (await service.put("new", site.page("/new", '<a href="/n">n</a>')))[0] == 201
        await expect(row(page, "new")).to_have_attribute("data-state", "done")  # its ids were the old ones' ids
    finally:
        service.stop()
    # The refused handshake, and the probe that finds the server up (an unknown id: 404).
    assert browser_page.console.unexpected((*SERVER_DOWN, r"status of 404")) == []
