"""The page's crawls view in headless Chromium against the real service and a local site to crawl: start a crawl
from the form and watch it to the end, read its pages and their links, cancel one, see another client's crawl
arrive, find the crawls from before a reload, draw a large crawl's pages a hundred at a time, with a token, and
nothing loaded from elsewhere."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from playwright.async_api import Browser, Locator, Page, WebSocket, expect

from tests.browser.conftest import WAIT, BrowserPage, ConsoleLog
from tests.browser.outside import OutsideLoads
from tests.browser.shots import photograph
from tests.support.crawl_site import CrawlSite, TreeSite
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "crawls.png"
# A depth-1 crawl of CrawlSite's / admits 8 URLs (the seed and its 7 same-host links): 5 fetched, /broken failed
# (500), /private/x skipped for robots.txt, /redirect-to-a skipped as a duplicate (it redirects to /a).
SITE_PAGES = 8


@pytest.fixture
async def crawl_site() -> AsyncIterator[CrawlSite]:
    site = CrawlSite()
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
async def polite_service(tmp_path: Path) -> AsyncIterator[Service]:
    """0.3 s between two fetches to one host: a crawl lasts long enough to watch it run, and to cancel it."""
    running = Service(
        "--allow-private-networks", "--per-host-delay", "0.3",
        store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


def crawl_row(page: Page, crawl_id: str) -> Locator:
    return page.locator(f'#crawls > li[data-crawl-id="{crawl_id}"]')


def count_of(row: Locator, name: str) -> Locator:
    return row.locator(f'.crawl-counts dd[data-count="{name}"]')


def pages_of(row: Locator) -> Locator:
    """The disclosure of a crawl's pages: click it to show them."""
    return row.locator(".crawl-pages > summary")


def page_row(row: Locator, url: str) -> Locator:
    return row.locator(f'.crawl-page[data-url="{url}"]')


async def open_crawls(page: Page, service: Service) -> None:
    await page.goto(service.base_url + "/#crawls")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_role("tab", name="Crawls")).to_have_attribute("aria-selected", "true")


async def start_from_form(page: Page, url: str, crawl_id: str, depth: int = 1, max_pages: int = 100) -> None:
    await page.get_by_label("Seed URL").fill(url)
    await page.get_by_label("Depth").fill(str(depth))
    await page.get_by_label("Max pages").fill(str(max_pages))
    await page.get_by_label("Crawl id").fill(crawl_id)
    await page.get_by_role("button", name="Start crawl").click()
    await expect(page.locator("#crawl-status")).to_have_text(f"Started crawl {crawl_id}.")


async def crawl_to_end(service: Service, crawl_id: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
    """PUT a crawl as another client would, and return its crawl.done."""
    query = f"request_id={crawl_id}&since=0" + (f"&token={token}" if token else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with service.connect(query) as ws:
        status, answer = await service.call("PUT", f"/crawls/{crawl_id}", json=body, headers=headers)
        assert status == 201, answer
        frames = await receive_until(ws, lambda fs: any(f["type"] == "crawl.done" for f in fs), 60)
    return frames[-1]


async def watch_progress(page: Page) -> None:
    """Keep every text the progress of any crawl shows, in order, in ``window.progressSeen``."""
    await page.evaluate(
        """() => {
             window.progressSeen = [];
             new MutationObserver(() => {
               for (const text of document.querySelectorAll("#crawls .progress-text")) {
                 if (window.progressSeen.at(-1) !== text.textContent) window.progressSeen.push(text.textContent);
               }
             }).observe(document.getElementById("crawls"), { subtree: true, childList: true, characterData: true });
           }"""
    )


async def test_a_crawl_started_from_the_form_shows_its_progress_live_until_done_with_its_counts(
    polite_service: Service, crawl_site: CrawlSite, browser_page: BrowserPage
) -> None:
    page, service = browser_page.page, polite_service
    await page.goto(service.base_url + "/")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.get_by_role("tab", name="Crawls").click()
    await expect(page).to_have_url(re.compile(r"#crawls$"))
    await watch_progress(page)
    await page.get_by_label("Scope").select_option("same-host")
    await start_from_form(page, crawl_site.url("/"), "site", depth=1, max_pages=50)

    row = crawl_row(page, "site")
    await expect(row.locator(".crawl-options")).to_have_text("depth 1 · at most 50 pages · same host")
    await expect(row).to_have_attribute("data-state", "running")
    await expect(row.get_by_role("button", name="Cancel crawl site")).to_be_visible()
    await expect(row).to_have_attribute("data-state", "done")
    await expect(row.locator(".progress-text")).to_have_text(f"{SITE_PAGES} of {SITE_PAGES} pages (100%)")
    bar = row.get_by_role("progressbar", name="Progress of crawl site")
    await expect(bar).to_have_js_property("value", SITE_PAGES)
    await expect(bar).to_have_js_property("max", SITE_PAGES)
    await expect(bar).to_have_attribute("aria-valuetext", f"{SITE_PAGES} of {SITE_PAGES} pages (100%)")
    await expect(count_of(row, "fetched")).to_have_text("5")
    await expect(count_of(row, "failed")).to_have_text("1")
    await expect(count_of(row, "queued")).to_have_text("0")
    await expect(count_of(row, "skipped")).to_contain_text("robots 1")
    await expect(count_of(row, "skipped")).to_contain_text("duplicate 1")
    await expect(row.locator(".rate")).to_have_text(re.compile(r"^\d+(\.\d)? pages/s$"))  # its average, once done
    await expect(row.get_by_role("button", name="Cancel crawl site")).to_be_hidden()

    # The bar moved with the crawl, never back, from its first URL to its last.
    seen = await page.evaluate("window.progressSeen")
    done = [int(m.group(1)) for text in seen if (m := re.match(r"(\d+) of", text))]
    assert len(done) > 2 and done == sorted(done) and done[-1] == SITE_PAGES, seen
    status, record = await service.call("GET", "/crawls/site")
    assert status == 200 and record["options"]["max_pages"] == 50 and record["options"]["scope"] == "same-host"
    assert browser_page.console.unexpected() == []


async def test_a_crawls_pages_show_their_status_or_error_and_their_links(
    service: Service, crawl_site: CrawlSite, browser_page: BrowserPage
) -> None:
    page, site = browser_page.page, crawl_site
    await crawl_to_end(service, "site", {"url": site.url("/")})
    await open_crawls(page, service)
    row = crawl_row(page, "site")
    await expect(row).to_have_attribute("data-state", "done")
    await pages_of(row).click()
    await expect(row.locator(".crawl-page")).to_have_count(SITE_PAGES)
    await expect(row.locator(".pages-shown")).to_have_text(f"{SITE_PAGES} pages.")

    seed = page_row(row, site.url("/"))
    await expect(seed.locator(".page-status")).to_have_text("200")
    await expect(seed.locator(".link-count")).to_have_text("8 links")
    await seed.locator("summary").click()
    links = ["/a", "/b", "/c#top", "/private/x", "/broken", "/redirect-to-a", "/calendar/2026/1"]
    await expect(seed.locator(".links a")).to_have_text([site.url(p) for p in links] + [f"{site.other}/offsite"])
    await seed.get_by_label(f"Filter links of site {site.url('/')}").fill("calendar")
    await expect(seed.locator(".links a")).to_have_text([site.url("/calendar/2026/1")])
    await expect(seed.locator(".links-summary")).to_have_text("1 of 8 links match.")

    broken = page_row(row, site.url("/broken"))
    await expect(broken.locator(".page-status")).to_have_text("http_status")
    await broken.locator("summary").click()
    await expect(broken.locator(".error-message")).to_contain_text("500")
    await expect(broken.locator(".links-tools")).to_have_count(0)
    await expect(page_row(row, site.url("/private/x")).locator(".page-status")).to_have_text("skipped: robots")
    await expect(page_row(row, site.url("/redirect-to-a")).locator(".page-status")).to_have_text("skipped: duplicate")
    child = page_row(row, site.url("/b"))
    await child.locator("summary").click()
    await expect(child.locator(".meta")).to_contain_text(f"Found on{site.url('/')}")
    assert browser_page.console.unexpected() == []


async def test_cancelling_a_running_crawl_stops_it_and_says_so(
    polite_service: Service, crawl_site: CrawlSite, browser_page: BrowserPage
) -> None:
    page, service = browser_page.page, polite_service
    await open_crawls(page, service)
    await start_from_form(page, crawl_site.url("/calendar/2026/1"), "trap", depth=50)
    row = crawl_row(page, "trap")
    await expect(row).to_have_attribute("data-state", "running")
    await pages_of(row).click()  # while it runs, its pages arrive as they end
    await expect(row.locator(".crawl-page").nth(2)).to_be_attached()
    await expect(row.locator(".rate")).to_have_text(re.compile(r"^\d+(\.\d)? pages/s$"))  # measured as it runs
    await row.get_by_role("button", name="Cancel crawl trap").click()

    await expect(row).to_have_attribute("data-state", "cancelled")
    await expect(row.locator(".crawl-message")).to_have_text("Cancelled.")
    await expect(row.get_by_role("button", name="Cancel crawl trap")).to_be_hidden()
    status, record = await service.call("GET", "/crawls/trap")
    assert status == 200 and record["state"] == "cancelled"
    assert record["counts"]["fetched"] < 50
    ended = record["counts"]["fetched"] + record["counts"]["failed"]
    await expect(row.locator(".progress-text")).to_have_text(f"Cancelled after {ended} pages")
    await expect(row.locator("progress")).to_be_hidden()  # a full bar would read as complete
    await expect(count_of(row, "fetched")).to_have_text(str(record["counts"]["fetched"]))
    assert browser_page.console.unexpected() == []


async def test_a_crawl_started_by_another_client_appears_live_on_the_pages_one_stream(
    service: Service, crawl_site: CrawlSite, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    sockets: list[WebSocket] = []
    listings: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.on("request", lambda request: request.url.split("?")[0].endswith("/crawls") and listings.append(request.url))
    await open_crawls(page, service)
    await expect(page.locator("#crawls-empty")).to_be_visible()  # no crawls before

    await crawl_to_end(service, "theirs", {"url": crawl_site.url("/"), "max_depth": 0})
    row = crawl_row(page, "theirs")
    await expect(row).to_have_attribute("data-state", "done")
    await expect(row.locator(".target")).to_have_text(crawl_site.url("/"))
    await expect(row.locator(".progress-text")).to_have_text("1 of 1 page (100%)")
    await expect(count_of(row, "fetched")).to_have_text("1")
    await expect(page.locator("#crawl-count")).to_have_text("(1)")
    await expect(page.locator("#crawls-empty")).to_be_hidden()

    # The requests view is fed by the same connection meanwhile.
    assert (await service.put("a-request", crawl_site.url("/b")))[0] == 201
    await page.get_by_role("tab", name="Requests").click()
    await expect(page.locator('#requests > li[data-request-id="a-request"]')).to_have_attribute("data-state", "done")
    assert len(sockets) == 1 and len(listings) == 1  # no second stream; the listing once, on load
    assert browser_page.console.unexpected() == []


async def test_after_a_reload_the_crawls_from_before_are_listed_with_their_state(
    service: Service, site: LocalSite, browser_page: BrowserPage
) -> None:
    """The crawls are older than the replay of the page's stream (a crawl of 700 pages since): the list comes from
    GET /crawls."""
    page, release = browser_page.page, asyncio.Event()
    fetching: dict[str, asyncio.Event] = {"/held-cancelled": asyncio.Event(), "/held-running": asyncio.Event()}

    async def held(request: web.Request) -> web.Response:
        fetching[request.path].set()
        await release.wait()
        return web.Response(text="", content_type="text/html")

    for path in fetching:
        site.route(path, held)
    tree = TreeSite(700)
    await tree.start()
    try:
        await crawl_to_end(service, "old-done", {"url": site.page("/done", "<a href=/x>x</a>"), "max_depth": 0})
        assert (await service.call("PUT", "/crawls/old-cancelled", json={"url": site.url("/held-cancelled")}))[0] == 201
        assert (await service.call("DELETE", "/crawls/old-cancelled"))[1]["state"] == "cancelled"
        assert (await service.call("PUT", "/crawls/old-running", json={"url": site.url("/held-running")}))[0] == 201
        async with asyncio.timeout(WAIT):
            await fetching["/held-running"].wait()  # its page is being fetched: the crawl runs
        await crawl_to_end(service, "tree", {"url": tree.url("/p/0"), "max_depth": 12, "max_pages": 1000})

        frames: list[dict[str, Any]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(orjson.loads(data))))
        await open_crawls(page, service)
        await expect_listed(page, {"tree": "done", "old-running": "running", "old-cancelled": "cancelled",
                                   "old-done": "done"})  # fmt: skip
        await page.reload()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect_listed(page, {"tree": "done", "old-running": "running", "old-cancelled": "cancelled",
                                   "old-done": "done"})  # fmt: skip
        await expect(crawl_row(page, "old-done").locator(".progress-text")).to_have_text("1 of 1 page (100%)")
        await expect(crawl_row(page, "old-done").locator(".target")).to_have_text(site.url("/done"))
        await expect(crawl_row(page, "tree").locator(".progress-text")).to_have_text("700 of 700 pages (100%)")
        replayed = {f.get("request_id") for f in frames}
        assert not replayed & {"old-done", "old-cancelled", "old-running"}, "the replay held them after all"
    finally:
        release.set()
        await tree.stop()
    assert browser_page.console.unexpected() == []


async def expect_listed(page: Page, states: dict[str, str]) -> None:
    """Exactly these crawls, newest first, in these states."""
    for crawl_id, state in states.items():
        await expect(crawl_row(page, crawl_id)).to_have_attribute("data-state", state)
    await expect(page.locator("#crawls > li")).to_have_count(len(states))
    order = await page.locator("#crawls > li").evaluate_all("rows => rows.map(row => row.dataset.crawlId)")
    assert order == list(states)


async def test_a_large_crawl_draws_a_hundred_pages_and_more_on_demand(
    service: Service, browser_page: BrowserPage
) -> None:
    page, tree = browser_page.page, TreeSite(250)
    await tree.start()
    try:
        await crawl_to_end(service, "big", {"url": tree.url("/p/0"), "max_depth": 10, "max_pages": 1000})
        await open_crawls(page, service)
        row, more = crawl_row(page, "big"), crawl_row(page, "big").get_by_role("button", name="Load more pages of big")
        await expect(row).to_have_attribute("data-state", "done")
        await pages_of(row).click()
        await expect(row.locator(".crawl-page")).to_have_count(100)
        await expect(row.locator(".pages-shown")).to_have_text("Showing 100 of 250 pages.")
        await expect(row.locator(".crawl-page").first).to_have_attribute("data-url", tree.url("/p/0"))
        await more.click()
        await expect(row.locator(".crawl-page")).to_have_count(200)
        await more.click()
        await expect(row.locator(".crawl-page")).to_have_count(250)
        await expect(row.locator(".pages-shown")).to_have_text("250 pages.")
        await expect(more).to_be_hidden()
        urls = await row.locator(".crawl-page").evaluate_all("rows => rows.map(row => row.dataset.url)")
        assert set(urls) == tree.all_urls()  # each once
    finally:
        await tree.stop()
    assert browser_page.console.unexpected() == []


async def test_the_view_is_chosen_by_tab_or_arrow_keys_and_kept_by_a_reload(
    service: Service, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await page.goto(service.base_url + "/")
    requests_tab, crawls_tab = page.get_by_role("tab", name="Requests"), page.get_by_role("tab", name="Crawls")
    await expect(requests_tab).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_role("tabpanel", name="Requests")).to_be_visible()
    await expect(page.get_by_label("Seed URL")).to_be_hidden()
    await requests_tab.focus()
    await page.keyboard.press("ArrowRight")
    await expect(crawls_tab).to_be_focused()
    await expect(crawls_tab).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_role("tabpanel", name="Crawls")).to_be_visible()
    await expect(page.get_by_label("URL to fetch")).to_be_hidden()
    await page.reload()
    await expect(crawls_tab).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_label("Seed URL")).to_be_visible()
    await crawls_tab.focus()
    await page.keyboard.press("ArrowLeft")
    await expect(requests_tab).to_have_attribute("aria-selected", "true")
    await expect(page).to_have_url(re.compile(r"#requests$"))
    assert browser_page.console.unexpected() == []


async def test_crawls_work_with_a_token(crawl_site: CrawlSite, browser_page: BrowserPage, tmp_path: Path) -> None:
    service = Service(
        "--allow-private-networks", "--token", "s3cret", store=f"sqlite:///{tmp_path}/db", log_path=tmp_path / "log"
    )
    await service.start()
    try:
        await crawl_to_end(service, "before", {"url": crawl_site.url("/b2"), "max_depth": 0}, token="s3cret")
        page = browser_page.page
        await page.goto(service.base_url + "/#crawls")
        await page.get_by_label("Access token").fill("s3cret")
        async with page.expect_response(lambda response: "/crawls?" in response.url) as listing:
            await page.get_by_role("button", name="Use token").click()
        assert (await listing.value).status == 200  # the crawls from before, read with the token
        await expect(crawl_row(page, "before")).to_have_attribute("data-state", "done")
        await start_from_form(page, crawl_site.url("/b1"), "after", depth=0)
        await expect(crawl_row(page, "after")).to_have_attribute("data-state", "done")
        await pages_of(crawl_row(page, "after")).click()
        await expect(crawl_row(page, "after").locator(".crawl-page")).to_have_count(1)
    finally:
        service.stop()
    # The refused handshake and the 401 that tells why, until the token is given.
    assert browser_page.console.unexpected((r"status of 401", r"WebSocket connection to .* failed")) == []


async def test_the_crawls_view_loads_nothing_from_elsewhere(
    browser: Browser, service: Service, crawl_site: CrawlSite
) -> None:
    context = await browser.new_context(service_workers="block")
    context.set_default_timeout(WAIT * 1000)
    outside, console = OutsideLoads(service.base_url), ConsoleLog()
    await outside.watch(context)
    try:
        page = await context.new_page()
        page.on("console", console.on_console)
        page.on("pageerror", console.on_page_error)
        await open_crawls(page, service)
        await start_from_form(page, crawl_site.url("/"), "site")
        row = crawl_row(page, "site")
        await expect(row).to_have_attribute("data-state", "done")
        await pages_of(row).click()
        await page_row(row, crawl_site.url("/")).locator("summary").click()
        await expect(page_row(row, crawl_site.url("/")).locator(".links a")).to_have_count(8)
        assert outside.all() == []
        assert console.unexpected() == []
    finally:
        await context.close()


async def test_screenshot_of_real_crawls_in_light_dark_and_on_a_phone(
    service: Service, crawl_site: CrawlSite, browser_page: BrowserPage, tmp_path: Path
) -> None:
    """A crawl done (its pages and one page's links shown), one cancelled, one running, started from the form and
    photographed; ``LINKCAST_UPDATE_SCREENSHOT=1`` writes docs/crawls.png."""
    page, tree = browser_page.page, TreeSite(1000, delay=0.2)
    await tree.start()
    try:
        await open_crawls(page, service)
        await page.get_by_text("Options", exact=True).click()
        await page.get_by_label("Exclude").fill("/calendar/*")
        await start_from_form(page, crawl_site.url("/"), "docs-site", depth=2)
        done = crawl_row(page, "docs-site")
        await expect(done).to_have_attribute("data-state", "done")
        await expect(done.locator(".crawl-options")).to_contain_text("exclude /calendar/*")
        await page.get_by_label("Exclude").fill("")

        await start_from_form(page, tree.url("/p/0"), "tree-cancelled", depth=20, max_pages=1000)
        cancelled = crawl_row(page, "tree-cancelled")
        await expect(count_of(cancelled, "fetched")).to_have_text(re.compile(r"^[1-9]\d+$"))  # ten or more
        await cancelled.get_by_role("button", name="Cancel crawl tree-cancelled").click()
        await expect(cancelled).to_have_attribute("data-state", "cancelled")
        await start_from_form(page, tree.url("/p/0"), "tree", depth=20, max_pages=1000)
        await expect(crawl_row(page, "tree").locator(".rate")).to_have_text(re.compile(r"pages/s$"))

        await pages_of(done).click()
        seed = page_row(done, crawl_site.url("/"))
        await seed.locator("summary").click()
        await expect(seed.locator(".links a")).to_have_count(8)
        await photograph(page, tmp_path / "crawls", SCREENSHOT)
    finally:
        await tree.stop()
    assert browser_page.console.unexpected() == []


async def test_refused_crawls_say_why(service: Service, crawl_site: CrawlSite, browser_page: BrowserPage) -> None:
    page, status = browser_page.page, browser_page.page.locator("#crawl-status")
    await open_crawls(page, service)
    await page.get_by_label("Seed URL").fill("ftp://example.org/")
    await page.get_by_role("button", name="Start crawl").click()
    await expect(status).to_have_text("Enter an absolute http:// or https:// URL.")
    await expect(page.get_by_label("Seed URL")).to_be_focused()
    await page.get_by_label("Seed URL").fill(crawl_site.url("/"))
    await page.get_by_label("Depth").fill("101")
    await page.get_by_role("button", name="Start crawl").click()
    await expect(status).to_have_text("The depth is a whole number from 0 to 100.")
    await expect(page.get_by_label("Depth")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Depth").fill("1")
    await page.get_by_label("Max pages").fill("20000")  # over the server's --max-crawl-pages (10,000)
    await page.get_by_role("button", name="Start crawl").click()
    await expect(status).to_have_text(re.compile(r"^Refused \(max_pages_too_large\): .*10000"))
    await expect(page.locator("#crawls > li")).to_have_count(0)
    assert browser_page.console.unexpected([r"status of 400"]) == []
