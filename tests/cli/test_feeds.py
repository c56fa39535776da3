"""``linkcast feeds`` and ``linkcast watch --feeds`` against the real service and a feed server on loopback: a feed
added is listed, its entries are printed as they come, it is removed; OPML in and out; every
failure is one line and a non-zero status. (``watch --feeds`` resumes after a lost connection as ``watch`` does, by
the same code: ``tests/durability/test_cli_resume.py``.)

The commands that end by themselves run in this process (``tests.support.cli_in_process``: the CLI's ``run``, what
``main`` exits with), without a subprocess's second of start-up; ``watch`` runs as the real ``linkcast`` in one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
import pytest_asyncio

from linkcast.cli.report import EXIT_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.support.cli import error_line, start_cli
from tests.support.cli_in_process import linkcast
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.ports import free_port
from tests.support.service import Service, receive_until

FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]
DENIED = "denied.test"  # refused by name before anything is resolved: nothing is ever sent to it
WAIT = 30.0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[FeedServer]:
    site = FeedServer()
    await site.start()
    yield site
    await site.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def feeds_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """One service for the module; each test removes the feeds it adds."""
    folder = tmp_path_factory.mktemp("feeds-cli")
    service = Service(
        "--allow-private-networks", "--rate-limit", "0", "--deny-hosts", DENIED, *FAST,
        store=f"sqlite:///{folder}/linkcast.db", log_path=folder / "serve.log",
    )  # fmt: skip
    await service.start()
    yield service
    service.stop()


def site_naming(server: FeedServer, path: str, feed_path: str) -> str:
    """A page whose feed is found by ``<link rel="alternate">``."""
    head = f'<link rel="alternate" type="application/rss+xml" title="Feed" href="{feed_path}">'
    return server.page(path, f"<html><head>{head}</head><body>site</body></html>")


class Watcher:
    """``linkcast watch`` in a subprocess, its stdout read a line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def read_until(self, done: Callable[[list[str]], bool], timeout: float = WAIT) -> list[str]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while not done(self.lines):
                line = await self.process.stdout.readline()
                assert line, f"watch exited: {await self.process.stderr.read() if self.process.stderr else b''!r}"
                self.lines.append(line.decode().rstrip("\n"))
        return self.lines

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await asyncio.wait_for(self.process.wait(), 10)


def columns(line: str) -> list[str]:
    """A text line of watch: event id, type, feed id, link or URL, then the rest (an entry's title and flags)."""
    return line.split(maxsplit=4)


def entries_of(lines: list[str], feed_id: str) -> list[list[str]]:
    return [columns(line) for line in lines if columns(line)[1:3] == ["feed.entry", feed_id]]


async def test_a_feed_added_is_listed_its_entries_printed_as_they_come_and_removed(
    feeds_service: Service, server: FeedServer
) -> None:
    base = ["--server", feeds_service.base_url]
    feed = Feed(rss(("a", "Alpha"), ("b", "Beta")))
    feed_url = server.feed("/life.xml", feed)
    submitted = await linkcast("submit", server.page("/plain", '<a href="/x">x</a>'), *base)
    assert submitted.returncode == 0, submitted.stderr  # a request's events, which watch --feeds must not show
    watcher = Watcher(await start_cli("watch", "--feeds", "--since", "0", *base))
    try:
        added = await linkcast("feeds", "add", site_naming(server, "/life", "/life.xml"), "--id", "life", *base)
        assert (added.returncode, added.stdout.decode(), added.stderr) == (0, f"life\t{feed_url}\n", b"")

        await watcher.read_until(lambda lines: len(entries_of(lines, "life")) == 2)
        listed = await linkcast("feeds", *base, "list")  # --server before the action, or after it
        rows = [line.split() for line in listed.stdout.decode().splitlines()]
        assert rows[0] == ["ID", "STATE", "TITLE", "ENTRIES", "LAST", "POLL", "NEXT", "POLL"]
        assert [row[:4] for row in rows[1:]] == [["life", "active", "News", "2"]]

        feed.update(rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
        await watcher.read_until(lambda lines: len(entries_of(lines, "life")) == 3)
    finally:
        await watcher.stop()
    assert all(columns(line)[1].startswith("feed.") for line in watcher.lines), watcher.lines
    assert next(line for line in watcher.lines if columns(line)[2] == "life").split()[1:4] == [
        "feed.accepted", "life", feed_url,
    ]  # fmt: skip
    assert [entry[3:] for entry in entries_of(watcher.lines, "life")] == [
        [server.url("/entry/a"), "Alpha (backlog)"], [server.url("/entry/b"), "Beta (backlog)"],
        [server.url("/entry/c"), "Gamma"],
    ]  # fmt: skip
    event_ids = [columns(line)[0] for line in watcher.lines]
    assert len(event_ids) == len(set(event_ids)), "an event printed twice"

    removed = await linkcast("feeds", "rm", "life", *base)
    assert (removed.returncode, removed.stdout.decode()) == (0, f"removed feed life: {feed_url}\n")
    empty = await linkcast("feeds", "list", *base)
    assert (empty.returncode, empty.stdout, empty.stderr.decode()) == (0, b"", "linkcast: no feeds watched\n")


async def test_json_gives_the_answer_and_the_feeds_events_alone(feeds_service: Service, server: FeedServer) -> None:
    base = ["--server", feeds_service.base_url]
    feed_url = server.feed("/json.xml", Feed(rss(("j", "Jay"))))
    server.page("/entry/j", '<a href="/inside-j">in</a>')
    add = ["feeds", "add", feed_url, "--id", "js", "--follow", "--json", *base]
    answer = orjson.loads((await linkcast(*add)).stdout)
    assert (answer["status"], answer["feed_id"], answer["url"], answer["follow"]) == ("accepted", "js", feed_url, True)
    again = await linkcast(*add)
    assert (again.returncode, again.stderr.decode()) == (0, "linkcast: feed js was watched already (active): "
                                                             "nothing changed\n")  # fmt: skip

    watcher = Watcher(await start_cli("watch", "--feeds", "--json", "--since", "0", *base))
    try:
        async with feeds_service.connect("since=0") as ws:  # the followed entry's page: a request's events
            await receive_until(ws, lambda fs: any(f.get("feed_id") == "js" and f["type"] == "result" for f in fs))
        removed = await linkcast("feeds", "rm", "js", "--json", *base)
        assert orjson.loads(removed.stdout)["status"] == "removed"
        removal = '"type":"feed.removed","request_id":"js"'
        await watcher.read_until(lambda lines: any(removal in line for line in lines))
    finally:
        await watcher.stop()
    events = [orjson.loads(line) for line in watcher.lines]
    assert all(event["type"].startswith("feed.") for event in events), [event["type"] for event in events]
    mine = [(event["type"], event.get("entry_id")) for event in events if event["request_id"] == "js"]
    assert mine == [("feed.accepted", None), ("feed.entry", "j"), ("feed.removed", None)]


async def test_a_page_is_watched_as_it_is_with_watch_links(feeds_service: Service, server: FeedServer) -> None:
    base = ["--server", feeds_service.base_url]
    page = site_naming(server, "/links-page", "/never-read.xml")  # named feed or not, the page itself is watched
    added = await linkcast("feeds", "add", page, "--id", "links", "--watch-links", *base)
    assert (added.returncode, added.stdout.decode()) == (0, f"links\t{page}\n")
    record = orjson.loads((await linkcast("feeds", "rm", "links", "--json", *base)).stdout)
    assert (record["watch"], record["url"]) == ("links", page)


async def test_a_page_naming_no_feed_but_a_websub_hub_is_added_and_said_to_be_watched_for_its_links(
    feeds_service: Service, server: FeedServer
) -> None:
    """The server watches such a page for its links (a WebSub topic may be any document): the id and URL are printed
    as for a feed, and one line says what is watched; it was not said at all."""
    page = server.page("/hub-page", f"<html><head><link rel=hub href='{server.origin}/hub'></head></html>")
    added = await linkcast("feeds", "add", page, "--id", "hubpage", "--server", feeds_service.base_url)
    assert (added.returncode, added.stdout.decode()) == (0, f"hubpage\t{page}\n"), added.stderr
    assert added.stderr.decode().count("\n") == 1 and "watched for its links" in added.stderr.decode()


def feed_urls(listing: bytes) -> set[str]:
    return set(re.findall(r'xmlUrl="([^"]*)"', listing.decode()))


def opml(*outlines: tuple[str, str]) -> str:
    body = "".join(f'<outline text="{text}" xmlUrl="{url}"/>' for text, url in outlines)
    return f'<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>{body}</body></opml>'


async def test_import_counts_added_existing_and_failed_and_export_imports_back(
    feeds_service: Service, server: FeedServer, tmp_path: Path
) -> None:
    base = ["--server", feeds_service.base_url]
    one, two = server.feed("/one.xml", Feed(rss(("a", "A")))), server.feed("/two.xml", Feed(rss(("b", "B"))))
    denied = f"http://{DENIED}/feed.xml"
    mine = tmp_path / "mine.opml"
    mine.write_text(opml(("One", one), ("Two", two), ("Again", one), ("Ftp", "ftp://x.example/"), ("No", denied)))

    imported = await linkcast("feeds", "import", str(mine), *base)
    assert imported.stdout.decode().splitlines() == [
        "2 added, 1 existing, 2 failed",
        f"failed: {denied}: blocked: {DENIED} is on the deny list",
        "failed: ftp://x.example/: not an http(s) URL",
    ]
    assert error_line(imported, "import_incomplete", EXIT_FAILED) == f"2 of the 5 feeds of {mine} are not watched"
    piped = await linkcast("feeds", "import", "-", *base, stdin=mine.read_bytes())
    assert error_line(piped, "import_incomplete", EXIT_FAILED) == "2 of the 5 feeds of stdin are not watched"

    exported = tmp_path / "exported.opml"
    written = await linkcast("feeds", "export", "-o", str(exported), *base)
    assert (written.returncode, written.stdout, written.stderr) == (0, b"", b"")
    listing = exported.read_bytes()
    assert {one, two} <= feed_urls(listing)
    to_stdout = await linkcast("feeds", "export", *base)
    assert feed_urls(to_stdout.stdout) == feed_urls(listing)  # the titles may have changed: a first poll names them

    again = await linkcast("feeds", "import", "-", *base, stdin=listing)
    count = listing.count(b"<outline ")
    assert (again.returncode, again.stdout.decode(), again.stderr) == (0, f"0 added, {count} existing, 0 failed\n", b"")

    records = [orjson.loads(line) for line in (await linkcast("feeds", "list", "--json", *base)).stdout.splitlines()]
    assert {record["url"] for record in records} >= {one, two}
    for record in records:
        assert (await linkcast("feeds", "rm", record["feed_id"], *base)).returncode == 0


def _missing(tmp_path: Path, server: FeedServer) -> list[str]:
    return ["feeds", "import", str(tmp_path / "missing.opml")]


def _folder(tmp_path: Path, server: FeedServer) -> list[str]:
    return ["feeds", "import", str(tmp_path)]


def _empty(tmp_path: Path, server: FeedServer) -> list[str]:
    (tmp_path / "empty.opml").write_bytes(b"")
    return ["feeds", "import", str(tmp_path / "empty.opml")]


def _not_opml(tmp_path: Path, server: FeedServer) -> list[str]:
    (tmp_path / "feed.opml").write_text(rss(("a", "A")))
    return ["feeds", "import", str(tmp_path / "feed.opml")]


def _broken_opml(tmp_path: Path, server: FeedServer) -> list[str]:
    (tmp_path / "broken.opml").write_text('<?xml version="1.0"?><opml version="2.0"><body><outline')
    return ["feeds", "import", str(tmp_path / "broken.opml")]


def _unwritable(tmp_path: Path, server: FeedServer) -> list[str]:
    return ["feeds", "export", "-o", str(tmp_path / "no-such-folder" / "out.opml")]


def _no_feed(tmp_path: Path, server: FeedServer) -> list[str]:
    return ["feeds", "add", server.page("/no-feed", "<html><body>no feed here</body></html>")]


FAILURES: dict[str, tuple[Callable[[Path, FeedServer], list[str]], str, int, str]] = {
    "not a URL": (lambda *_: ["feeds", "add", "not-a-url"], "invalid_url", EXIT_FAILED, "'url' is not an absolute"),
    "a refused host": (lambda *_: ["feeds", "add", f"http://{DENIED}/"], "blocked", EXIT_FAILED, DENIED),
    "a page naming no feed": (_no_feed, "no_feed_found", EXIT_FAILED,
                              '"watch": "links" (linkcast feeds add --watch-links)'),
    "an invalid id": (lambda *_: ["feeds", "add", "http://127.0.0.1:9/x", "--id", "a b"], "invalid_request_id",
                      EXIT_FAILED, "A-Z a-z 0-9"),
    "rm of an unknown id": (lambda *_: ["feeds", "rm", "nobody"], "not_found", EXIT_FAILED, "no feed with id 'nobody'"),
    "a missing file": (_missing, "unreadable_file", EXIT_FAILED, "No such file or directory"),
    "a folder": (_folder, "unreadable_file", EXIT_FAILED, "Is a directory"),
    "an empty file": (_empty, "unreadable_file", EXIT_FAILED, "is empty"),
    "a feed, not OPML": (_not_opml, "invalid_opml", EXIT_FAILED, "feed.opml: not OPML"),
    "broken XML": (_broken_opml, "invalid_opml", EXIT_FAILED, "broken.opml: "),
    "an unwritable export": (_unwritable, "unwritable_file", EXIT_FAILED, "No such file or directory"),
    "no action": (lambda *_: ["feeds"], "usage", EXIT_USAGE, "required: ACTION"),
    "an unknown action": (lambda *_: ["feeds", "show"], "usage", EXIT_USAGE, "invalid choice: 'show'"),
    "add without URL": (lambda *_: ["feeds", "add"], "usage", EXIT_USAGE, "required: URL"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILURES))
async def test_each_failure_is_one_line_and_a_non_zero_status(
    feeds_service: Service, server: FeedServer, tmp_path: Path, case: str
) -> None:
    build, code, status, words = FAILURES[case]
    done = await linkcast(*build(tmp_path, server), "--server", feeds_service.base_url)
    assert words in error_line(done, code, status)
    assert done.stdout == b""


async def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    server = f"http://127.0.0.1:{free_port()}"
    for command in (["list"], ["rm", "x"], ["export"], ["add", "http://127.0.0.1:9/"]):
        done = await linkcast("feeds", *command, "--server", server)
        assert error_line(done, "unreachable", EXIT_UNAVAILABLE).startswith(f"cannot connect to {server}: ")
