"""The page's feeds view, a reader, in headless Chromium against the real service and a local feed server: a feed added
by a site's URL shows its backlog unread and then a new entry live on top; read marks kept across a reload; mark all
read; an OPML import and a removal; refusals, a failing feed and a gone one said as such; nothing loaded from
elsewhere, and the screenshot for the README."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import WAIT, BrowserPage, ConsoleLog
from tests.browser.outside import OutsideLoads
from tests.browser.shots import photograph
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "reader.png"
# Polled every half second: a change on the feed server reaches the page within about that.
TOKEN = "reader-token"
FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]


@pytest.fixture(scope="module")
async def feed_server() -> AsyncIterator[FeedServer]:
    site = FeedServer()
    await site.start()
    yield site
    await site.stop()


@pytest.fixture(scope="module")
async def reader_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    folder = tmp_path_factory.mktemp("reader")
    running = Service("--allow-private-networks", "--rate-limit", "0", *FAST,
                      store=f"sqlite:///{folder}/linkcast.db", log_path=folder / "serve.log")  # fmt: skip
    await running.start()
    yield running
    running.stop()


def feed_row(page: Page, title: str) -> Locator:
    return page.locator("#feeds > li.feed").filter(has=page.locator(".feed-title", has_text=title))


def entry_rows(page: Page) -> Locator:
    return page.locator("#entries > li.entry")


def entry_row(page: Page, title: str) -> Locator:
    return entry_rows(page).filter(has=page.get_by_role("link", name=title, exact=True))


async def open_reader(page: Page, service: Service) -> None:
    await page.goto(service.base_url + "/#feeds")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_role("tab", name="Feeds")).to_have_attribute("aria-selected", "true")


async def watch(service: Service, feed_id: str, url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}  # needed by the screenshot's server only; the others ignore it
    status, body = await service.call("PUT", f"/feeds/{feed_id}", json={"url": url}, headers=headers)
    assert status == 201, body


async def choose(page: Page, title: str) -> None:
    await feed_row(page, title).locator(".feed-pick").click()
    await expect(page.locator("#entries-heading")).to_have_text(title)


async def test_a_feed_added_by_its_sites_url_shows_its_backlog_unread_and_new_entries_live_on_top(
    reader_service: Service, feed_server: FeedServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    feed = Feed(rss(("a", "Alpha"), ("b", "Beta"), title="Blog"))
    feed_url = feed_server.feed("/blog/feed.xml", feed)
    site = feed_server.page("/blog/", '<link rel="alternate" type="application/rss+xml" href="feed.xml"><p>Hi</p>')
    await open_reader(page, reader_service)
    await page.get_by_label("Feed or site URL").fill(site)
    await page.get_by_role("button", name="Add feed").click()
    await expect(page.locator("#feed-status")).to_have_text(f"Watching {feed_url} (found from {site})")

    row = feed_row(page, "Blog")
    await expect(row.locator(".unread")).to_have_text("2")
    await expect(page.locator("#entries-heading")).to_have_text("Blog")  # the feed added is the one shown
    await expect(entry_rows(page)).to_have_count(2)
    await expect(entry_rows(page).first).to_have_attribute("data-read", "no")
    await expect(entry_row(page, "Alpha").locator(".entry-summary")).to_have_text("About Alpha: more")
    await expect(entry_row(page, "Alpha").get_by_role("link")).to_have_attribute("href", feed_server.url("/entry/a"))

    feed.update(rss(("c", "Gamma"), ("a", "Alpha"), ("b", "Beta"), title="Blog"))
    await expect(entry_rows(page)).to_have_count(3)
    await expect(entry_rows(page).first.get_by_role("link")).to_have_text("Gamma")
    await expect(entry_rows(page).first).to_have_attribute("data-read", "no")
    await expect(row.locator(".unread")).to_have_text("3")
    assert browser_page.console.unexpected() == []


async def test_read_marks_are_kept_across_a_reload_and_mark_all_read_clears_the_count(
    reader_service: Service, feed_server: FeedServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    url = feed_server.feed("/keep.xml", Feed(rss(("x", "Ex"), ("y", "Why"), ("z", "Zed"), title="Kept")))
    await watch(reader_service, "kept", url)
    await open_reader(page, reader_service)
    row = feed_row(page, "Kept")
    await expect(row.locator(".unread")).to_have_text("3")
    await choose(page, "Kept")

    await page.get_by_role("button", name="Mark “Why” read").click()
    await expect(entry_row(page, "Why")).to_have_attribute("data-read", "yes")
    async with page.context.expect_page() as opened:  # its link opens the entry's page in a new tab, and marks it read
        await entry_row(page, "Ex").get_by_role("link").click()
    await (await opened.value).close()
    await expect(entry_row(page, "Ex")).to_have_attribute("data-read", "yes")
    await expect(row.locator(".unread")).to_have_text("1")

    await page.reload()
    await expect(row.locator(".unread")).to_have_text("1")
    await expect(page.locator("#entries-heading")).to_have_text("Kept")  # still the feed chosen
    await expect(entry_row(page, "Why")).to_have_attribute("data-read", "yes")
    await expect(entry_row(page, "Zed")).to_have_attribute("data-read", "no")
    await page.get_by_role("button", name="Mark “Why” unread").click()
    await expect(row.locator(".unread")).to_have_text("2")
    await page.get_by_role("button", name="Mark all read").click()
    await expect(row.locator(".unread")).to_have_text("")
    await expect(page.get_by_role("button", name="Mark all read")).to_be_disabled()

    await page.reload()
    await choose(page, "Kept")
    await expect(entry_rows(page)).to_have_count(3)
    await expect(page.locator('#entries > li.entry[data-read="yes"]')).to_have_count(3)
    await expect(row.locator(".unread")).to_have_text("")
    assert browser_page.console.unexpected() == []


async def test_an_opml_import_counts_what_it_watched_and_a_removed_feed_goes(
    reader_service: Service, feed_server: FeedServer, browser_page: BrowserPage, tmp_path: Path
) -> None:
    page = browser_page.page
    one = feed_server.feed("/opml-one.xml", Feed(rss(("1", "First"), title="Opml One")))
    two = feed_server.feed("/opml-two.xml", Feed(rss(("2", "Second"), title="Opml Two")))
    opml = tmp_path / "mine.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
        f'<outline text="One" xmlUrl="{one}"/><outline text="Group"><outline text="Two" xmlUrl="{two}"/></outline>'
        '<outline text="Bad" xmlUrl="ftp://x.example/"/></body></opml>'
    )
    await open_reader(page, reader_service)
    await page.get_by_label("Import OPML").set_input_files(opml)
    await expect(page.locator("#feed-status")).to_have_text("Imported 2 feeds; 1 skipped.")
    await expect(feed_row(page, "Opml One").locator(".unread")).to_have_text("1")
    await expect(feed_row(page, "Opml Two").locator(".unread")).to_have_text("1")

    await page.get_by_role("button", name="Remove feed Opml One").click()
    await expect(feed_row(page, "Opml One")).to_have_count(0)
    _status, listed = await reader_service.call("GET", "/feeds?limit=1000")
    assert one not in [record["url"] for record in listed["feeds"]]
    assert two in [record["url"] for record in listed["feeds"]]
    await page.reload()
    await expect(feed_row(page, "Opml Two").locator(".unread")).to_have_text("1")
    await expect(feed_row(page, "Opml One")).to_have_count(0)
    assert browser_page.console.unexpected() == []


async def test_refusals_a_failing_feed_and_a_gone_one_say_why(
    reader_service: Service, feed_server: FeedServer, browser_page: BrowserPage
) -> None:
    page, status = browser_page.page, browser_page.page.locator("#feed-status")
    nothing = feed_server.page("/no-feed/", "<p>No feed here</p>")
    failing = Feed(rss(("f", "Fine"), title="Failing"))
    going = Feed(rss(("g", "Here"), title="Going"))
    await watch(reader_service, "failing", feed_server.feed("/failing.xml", failing))
    await open_reader(page, reader_service)
    await watch(reader_service, "going", feed_server.feed("/going.xml", going))  # another client's, while open

    await page.get_by_label("Feed or site URL").fill("ftp://example.org/")
    await page.get_by_role("button", name="Add feed").click()
    await expect(status).to_have_text("Enter an absolute http:// or https:// URL.")
    await page.get_by_label("Feed or site URL").fill(nothing)
    await page.get_by_role("button", name="Add feed").click()
    await expect(status).to_have_text(re.compile(r"^Refused \(no_feed_found\): "))
    await expect(status).to_have_attribute("data-kind", "error")

    await expect(feed_row(page, "Failing").locator(".unread")).to_have_text("1")
    await expect(feed_row(page, "Going").locator(".unread")).to_have_text("1")
    failing.update('<?xml version="1.0"?><rss version="2.0"><channel><title>unclosed')
    going.queued.append((410, {}))
    await expect(feed_row(page, "Failing")).to_have_attribute("data-state", "error")
    await expect(feed_row(page, "Failing").locator(".feed-error")).to_have_text(re.compile(r"^invalid_feed: "))
    await expect(feed_row(page, "Going")).to_have_attribute("data-state", "gone")
    await expect(feed_row(page, "Going").locator(".feed-state")).to_have_text("gone")
    # Their entries stay readable.
    await choose(page, "Going")
    await expect(entry_rows(page)).to_have_count(1)
    assert browser_page.console.unexpected([r"status of 400"]) == []


async def test_what_feeds_say_is_shown_as_text_never_as_markup(
    reader_service: Service, feed_server: FeedServer, browser_page: BrowserPage
) -> None:
    page, title = browser_page.page, '<img src="/x" onerror="window.pwned = 1">Owned'
    summary = "<script>window.pwned = 2</script> & more"
    document = orjson.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "<b>Hostile</b>",
        "items": [{"id": "h", "title": title, "summary": summary, "url": "/entry/h"},
                  {"id": "j", "title": "No link", "external_url": "javascript:window.pwned = 3"}],
    }).decode()  # fmt: skip
    await watch(reader_service, "hostile", feed_server.feed("/hostile.json", Feed(document, "application/feed+json")))
    await open_reader(page, reader_service)
    await choose(page, "<b>Hostile</b>")
    await expect(entry_row(page, title).locator(".entry-summary")).to_have_text(summary)
    unlinked = entry_rows(page).filter(has_text="No link").locator(".entry-title")
    await expect(unlinked).not_to_have_attribute("href", re.compile(r"."))
    assert await page.locator("#entries img, #entries script, #feeds b").count() == 0
    assert await page.evaluate("window.pwned") is None
    assert browser_page.console.unexpected() == []


# reader-store.js run in the page: what it keeps of 25,000 marks, and of those once a feed holds three entries.
STORE_BOUNDS = """async () => {
  const store = await import("/static/page/reader-store.js");
  const ids = Array.from({ length: 25000 }, (_, n) => `e${n}`);
  store.setRead("big", ids, true);
  const kept = JSON.parse(localStorage.getItem(store.READ_KEY)).big;
  const newestKept = store.isRead("big", "e24999") && !store.isRead("big", "e0");
  store.keepOnly("big", ["e24999", "e24998", "gone-already"]);
  const pruned = JSON.parse(localStorage.getItem(store.READ_KEY)).big;
  store.forgetFeed("big");
  return [kept.length, newestKept, pruned, localStorage.getItem(store.READ_KEY)];
}"""


async def test_read_marks_are_bounded_and_unreadable_ones_are_ignored(
    reader_service: Service, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await page.context.add_init_script('localStorage.setItem("linkcast.reader.read", "{not json")')
    await open_reader(page, reader_service)
    await expect(page.get_by_role("button", name=re.compile(r"^All feeds, \d+ unread$"))).to_be_visible()
    assert await page.evaluate(STORE_BOUNDS) == [20000, True, ["e24998", "e24999"], "{}"]
    assert browser_page.console.unexpected() == []


SHOT_POSTS = [
    ("p4", "Polling politely: ETags, Last-Modified and 304s", "Tue, 01 Dec 2026 09:30:00 GMT",
     "How the poller asks only for what changed, and backs off when a feed asks it to."),
    ("p3", "WebSub in practice", "Fri, 27 Nov 2026 16:00:00 GMT",
     "A hub pushes new entries the moment they are published; polling is the fallback when it stops."),
    ("p2", "Crawling a site, one host at a time", "Mon, 23 Nov 2026 08:15:00 GMT",
     "Depth, scope, robots.txt and sitemaps, with a delay between two fetches to one host."),
]  # fmt: skip
SHOT_NEWS = [
    ("n2", "Release 1.4: a reader view for feeds", "Sat, 05 Dec 2026 12:00:00 GMT",
     "Feeds with their unread counts, entries arriving live, and read marks kept in the browser."),
    ("n1", "Release 1.3: crawls on the page", "Sat, 28 Nov 2026 12:00:00 GMT",
     "Start a crawl from the page and watch its progress, counts and pages per second."),
]  # fmt: skip


def dated_rss(title: str, posts: list[tuple[str, str, str, str]]) -> str:
    items = "".join(
        f"<item><guid>{guid}</guid><title>{name}</title><link>/posts/{guid}</link><pubDate>{date}</pubDate>"
        f"<description>{summary}</description></item>"
        for guid, name, date, summary in posts
    )
    channel = f"<title>{title}</title><link>/</link>{items}"
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}</channel></rss>'


async def test_screenshot_of_the_reader_loading_nothing_from_elsewhere(
    browser: Browser, feed_server: FeedServer, tmp_path: Path
) -> None:
    """Three feeds (one failing), a new entry arrived live, two read; photographed in light, dark and on a phone;
    ``LINKCAST_UPDATE_SCREENSHOT=1`` writes docs/reader.png. No request goes anywhere but the server. The server
    wants a token: the page asks for it once, and every call of the reader carries it."""
    service = Service("--allow-private-networks", "--rate-limit", "0", "--token", TOKEN, *FAST, store="memory://",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    await service.start()
    context = await browser.new_context(
        viewport={"width": 1100, "height": 800}, color_scheme="light", service_workers="block"
    )
    context.set_default_timeout(WAIT * 1000)
    outside, console = OutsideLoads(service.base_url), ConsoleLog()
    await outside.watch(context)
    try:
        engineering = Feed(dated_rss("Loopback Engineering", SHOT_POSTS))
        await watch(service, "engineering", feed_server.feed("/shot/engineering.xml", engineering))
        await watch(service, "news", feed_server.feed("/shot/news.xml", Feed(dated_rss("Linkcast News", SHOT_NEWS))))
        flaky_posts = [("f1", "Ten links worth reading", "Thu, 26 Nov 2026 07:00:00 GMT", "From around the web.")]
        flaky = Feed(dated_rss("Flaky Weekly", flaky_posts))
        await watch(service, "flaky", feed_server.feed("/shot/flaky.xml", flaky))
        page = await context.new_page()
        page.on("console", console.on_console)
        page.on("pageerror", console.on_page_error)
        await page.goto(service.base_url + "/#feeds")
        await page.get_by_label("Access token").fill(TOKEN)
        await page.get_by_role("button", name="Use token").click()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(page.locator("#entries > li.entry")).to_have_count(6)
        flaky.update(dated_rss("Flaky Weekly", flaky_posts)[:-40])  # cut short: invalid
        await expect(feed_row(page, "Flaky Weekly")).to_have_attribute("data-state", "error")
        newest = ("p5", "Reading feeds in the browser", "Sun, 06 Dec 2026 10:00:00 GMT",
                  "The page keeps which entries you have read in localStorage, bounded.")  # fmt: skip
        engineering.update(dated_rss("Loopback Engineering", [newest, *SHOT_POSTS]))
        await expect(entry_rows(page).first.get_by_role("link")).to_have_text(newest[1])
        await page.get_by_role("button", name=f"Mark “{SHOT_POSTS[1][1]}” read").click()
        await page.get_by_role("button", name=f"Mark “{SHOT_NEWS[1][1]}” read").click()
        await expect(page.locator("#unread-total")).to_have_text("(5 unread)")
        await photograph(page, tmp_path / "reader", SCREENSHOT)
        assert outside.all() == []
        # The refused handshake and the 401 that tells why, until the token is given.
        assert console.unexpected((r"status of 401", r"WebSocket connection to .* failed")) == []
    finally:
        await context.close()
        service.stop()
