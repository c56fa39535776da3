"""Hostile feeds end quickly and cleanly: entity bombs, external entities (nothing read, nothing requested), sheer
size, deep nesting, a slow parse; and every bound holds."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkcast.feeds import FeedError, FeedLimits, json_feed, parse_feed

URL = "https://feeds.example.com/feed"


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = b'<!ENTITY x "FETCHED">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    requests: ClassVar[list[str]] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def refused(body: bytes, code: str) -> FeedError:
    with pytest.raises(FeedError) as raised:
        parse_feed(body, URL)
    assert raised.value.code == code, raised.value.message
    return raised.value


def billion_laughs() -> bytes:
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss><channel><title>&a9;</title></channel></rss>'.encode()


def test_billion_laughs_is_refused_before_any_entity_is_declared() -> None:
    refused(billion_laughs(), "unsafe_xml")


def test_quadratic_blowup_is_refused_at_once() -> None:
    entity = "x" * 100_000
    body = f'<!DOCTYPE rss [<!ENTITY a "{entity}">]><rss><channel><title>{"&a;" * 100_000}</title></channel></rss>'
    refused(body.encode(), "unsafe_xml")


def test_an_external_file_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    body = f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret}">]><rss><channel><title>&e;</title></channel></rss>'
    error = refused(body.encode(), "unsafe_xml")
    assert "SECRET" not in error.message


def test_external_entities_and_dtds_on_a_server_are_never_requested(loopback_server: tuple[str, list[str]]) -> None:
    origin, requests = loopback_server
    general = f'<!DOCTYPE rss [<!ENTITY e SYSTEM "{origin}/entity">]><rss><channel><title>&e;</title></channel></rss>'
    parameter = f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{origin}/parameter"> %p;]><rss><channel/></rss>'
    refused(general.encode(), "unsafe_xml")
    refused(parameter.encode(), "unsafe_xml")
    # A DOCTYPE that only names an external DTD is harmless: allowed, the DTD never read, its entities unknown.
    external = f'<!DOCTYPE rss SYSTEM "{origin}/rss.dtd"><rss><channel><title>a &x; b</title></channel></rss>'
    assert parse_feed(external.encode(), URL).title == "a &x; b"
    time.sleep(0.2)  # a request would have been made synchronously, during the parse; this only lets one land
    assert requests == []


def rss_of_items(count: int, tail: str = "") -> bytes:
    items = "".join(f"<item><guid>{n}</guid><title>t{n}</title></item>" for n in range(count))
    return f"<rss version='2.0'><channel>{items}{tail}</channel></rss>".encode()


def test_a_hundred_thousand_entries_stop_at_max_entries() -> None:
    # Broken XML after the entries: only a reader that goes on past max_entries reaches it (no clock needed).
    feed = parse_feed(rss_of_items(100_000, tail="<broken"), URL, max_entries=1000)
    assert len(feed.entries) == 1000 and feed.entries_truncated and feed.entries[-1].entry_id == "999"
    # The control, on fewer entries (each 100,000-entry read costs seconds): a reader let past them meets the break.
    with pytest.raises(FeedError):
        parse_feed(rss_of_items(3000, tail="<broken"), URL, max_entries=3000)
    whole = parse_feed(rss_of_items(3000), URL, max_entries=3000)
    assert len(whole.entries) == 3000 and not whole.entries_truncated


def test_json_feeds_stop_at_max_entries_too() -> None:
    items = ",".join(f'{{"id": "{n}"}}' for n in range(5000))
    feed = parse_feed(
        f'{{"version": "https://jsonfeed.org/version/1.1", "items": [{items}]}}'.encode(), URL, max_entries=10
    )
    assert [entry.entry_id for entry in feed.entries] == [str(n) for n in range(10)] and feed.entries_truncated


def test_a_json_feed_of_millions_of_empty_values_is_refused_before_they_are_built() -> None:
    """10 MB of ``{},`` once held some 290 MB while read (a dict of 64 bytes for each 3): too_complex, unread."""
    head = b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
    for value in (b"{}", b"[]", b"0", b'""'):
        with pytest.raises(FeedError) as raised:
            parse_feed(head + b",".join([value] * 300_000) + b"]}", URL)
        assert raised.value.code == "too_complex", raised.value.message


def test_braces_and_commas_inside_json_strings_are_no_values() -> None:
    text = r"\\\"{[, " * 100_000  # each an escaped backslash, an escaped quote, then what would be structure
    items = ",".join(f'{{"id": "{n}", "content_html": "{text}"}}' for n in range(3))
    feed = parse_feed(f'{{"version": "https://jsonfeed.org/version/1.1", "items": [{items}]}}'.encode(), URL)
    assert [entry.entry_id for entry in feed.entries] == ["0", "1", "2"]


def test_an_unterminated_json_string_is_an_invalid_feed() -> None:
    # Each quote of '"\\"\\"\\...' began a string the pattern could not close, tried again from the next one: 32 KiB
    # took 3 s (the thread that reads a small feed holds the GIL, so the event loop waited too). Now under 1 ms
    # (bench/bench_complexity.py).
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}, ' + b'"\\' * 16_000
    refused(body, "invalid_feed")
    # An array, an object and three commas; nothing inside a string, closed or not, nor after an unterminated one.
    assert json_feed._values('[1, {}, "a\\"{,", "unterminated, {[') == 5
    assert json_feed._values('[1, {}, "a\\"{,", "ends in a backslash\\') == 5


def test_an_author_of_many_names_is_the_last_name() -> None:
    # Each <name> was inserted at the head of a list of them all: 4 MB of names in one <author> took over 12 s (in
    # the extraction child, until its deadline). Now about 0.7 s, all of it expat's callbacks
    # (bench/bench_complexity.py).
    names = b"<email>e@example.com</email>" + b"<name>x</name>" * 300_000 + b"<name>Last</name><email>f</email>"
    body = b'<feed xmlns="http://www.w3.org/2005/Atom"><author>' + names + b"</author><entry><id>1</id></entry></feed>"
    feed = parse_feed(body, URL)
    assert [entry.author for entry in feed.entries] == ["Last"]  # the last name, as before


def test_many_namespace_declarations_keep_each_prefix_to_its_scope() -> None:
    # Each element declaring a prefix copied every prefix in scope: 30,000 on the root and 30,000 such children (1 MB)
    # took 3 s. Now about 0.1 s (bench/bench_complexity.py).
    root = " ".join(f'xmlns:p{n}="urn:{n}"' for n in range(30_000))
    children = '<x xmlns:q="urn:q"/>' * 30_000
    entry = '<item xmlns:d="http://purl.org/dc/elements/1.1/"><guid>1</guid><d:creator>Ann</d:creator></item>'
    body = f"<rss {root}><channel>{children}{entry}<item><guid>2</guid><d:creator>Bob</d:creator></item>"
    feed = parse_feed(f"{body}</channel></rss>".encode(), URL)
    # d: is dc: inside the item that declares it; past it, an undeclared prefix of no known meaning.
    assert [(entry.entry_id, entry.author) for entry in feed.entries] == [("1", "Ann"), ("2", None)]


def test_elements_under_a_long_base_each_with_a_base_of_their_own_keep_the_base_past_a_budget() -> None:
    # Each xml:base was resolved against the one in scope, copying it: 23,000 elements under a base of 200,000
    # characters (786 KB) took 7.6 s; links in content under a nested base as much. Past a budget, the base in scope
    # is kept (bench/bench_complexity.py measures the cost).
    long_base = "https://example.com/" + "a" * 200_000 + "/"
    elements = '<x xml:base="b/"/>' * 23_000
    links = '<a href="x">x</a>' * 23_000
    content = f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml" xml:base="c/">{links}</div></content>'
    body = (
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{long_base}">{elements}'
        f'<entry xml:base="{long_base}"><id>1</id>{content}</entry>'
        '<entry xml:base="https://example.com/d/"><id>2</id><link href="e"/></entry></feed>'
    )
    feed = parse_feed(body.encode(), URL)
    assert [entry.entry_id for entry in feed.entries] == ["1", "2"]
    assert feed.entries[1].link == long_base + "e"  # the budget spent, the base in scope is kept


def test_deep_nesting_is_too_complex() -> None:
    body = "<rss><channel><item><guid>g</guid>" + "<x>" * 10_000 + "</x>" * 10_000 + "</item></channel></rss>"
    refused(body.encode(), "too_complex")
    refused(
        b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 5000 + b"]" * 5000 + b"}", "too_complex"
    )


def test_a_parse_past_its_time_bound_is_too_complex() -> None:
    items = "".join(f"<item><guid>{n}</guid><description>&lt;a href='/{n}'&gt;x&lt;/a&gt;</description></item>"
                    for n in range(20_000))  # fmt: skip
    body = f"<rss version='2.0'><channel>{items}</channel></rss>".encode()
    with pytest.raises(FeedError) as raised:
        parse_feed(body, URL, max_entries=100_000, limits=FeedLimits(max_seconds=0.05))
    assert raised.value.code == "too_complex" and "took" in raised.value.message, raised.value.message


def test_a_huge_content_is_kept_bounded_but_fingerprinted_whole() -> None:
    def feed(tail: str) -> bytes:
        content = "&lt;p&gt;" + "text " * 400_000 + tail
        item = f"<item><guid>g</guid><description>{content}</description></item>"
        return f"<rss version='2.0'><channel>{item}</channel></rss>".encode()

    [first] = parse_feed(feed("end"), URL).entries
    [second] = parse_feed(feed("END"), URL).entries
    assert first.summary is not None and len(first.summary) <= 1000
    assert first.fingerprint != second.fingerprint  # the change is past what is kept, and still seen


@pytest.mark.parametrize("date", ["0000-00-00", "2026-13-01T00:00:00Z", "yesterday", "Sun, 32 Dec 2026 10:00:00 GMT",
                                  "9" * 10_000, "2026-02-30"])  # fmt: skip
def test_invalid_dates_are_none_not_errors(date: str) -> None:
    body = f"<rss version='2.0'><channel><item><guid>g</guid><pubDate>{date}</pubDate></item></channel></rss>"
    [entry] = parse_feed(body.encode(), URL).entries
    assert entry.published is None


def test_truncated_xml_is_an_invalid_feed() -> None:
    body = b"<rss version='2.0'><channel><item><guid>1</guid></item><item><guid>2</gu"
    refused(body, "invalid_feed")


FEED_PIECES = [
    "<rss version='2.0'>", "<channel>", "</channel>", "</rss>", "<item>", "</item>", "<title>", "</title>", "<link>",
    "</link>", "<guid>", "</guid>", "<description>", "</description>", "<pubDate>", "</pubDate>", "Sun, 06 Dec 2026",
    "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>", "<entry>", "</entry>", "<id>", "</id>",
    "<link href='/x'/>", "<content type='xhtml'>", "<content type='html'>", "</content>",
    "<div xmlns='http://www.w3.org/1999/xhtml'>", "</div>", "<a href='y'>", "</a>", "<p xml:base='../'>", "</p>",
    "&amp;", "&lt;a href='z'&gt;", "&nbsp;", "&bogus;", "<![CDATA[<a href=c>]]>", "<!DOCTYPE rss>", "<!-- c -->",
    "<?xml version='1.0'?>", "text", " ", "\n", "é", "\u00ff", "{", "}", '"version": "https://jsonfeed.org/version/1"',
    '"items": [{"id": 1, "content_html": "<a href=j>"}]', ",", "<dc:creator>", "</dc:creator>",
]  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FEED_PIECES), max_size=30).map("".join), st.sampled_from(["utf-8", "latin-1"]))
def test_any_document_gives_a_bounded_feed_or_a_feed_error(document: str, encoding: str) -> None:
    try:
        feed = parse_feed(document.encode(encoding, "replace"), URL, max_entries=5)
    except FeedError as error:
        assert error.code in ("not_a_feed", "invalid_feed", "unsafe_xml", "too_complex")
        return
    assert len(feed.entries) <= 5
    for entry in feed.entries:
        assert entry.entry_id and entry.fingerprint.startswith("sha256:")
        assert all(link.startswith(("http://", "https://")) for link in [*entry.links, entry.link or "http://"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=500))
def test_any_bytes_give_a_feed_or_a_feed_error(body: bytes) -> None:
    for prefix in (b"", b"<rss version='2.0'><channel><item><title>", b'{"version": "https://jsonfeed.org/version/1"'):
        with contextlib.suppress(FeedError):  # anything else fails the test
            parse_feed(prefix + body, URL)


def _entries_of_short_links(kind: str, entries: int, links: int) -> bytes:
    """A feed whose entries each hold ``links`` relative links of a few bytes, which resolve against its long URL."""
    anchors = "".join(f'<a href="{n}">l</a>' for n in range(links))
    if kind == "json":
        items = [{"id": f"e{n}", "content_html": anchors} for n in range(entries)]
        return orjson.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items})
    escaped = anchors.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    items_xml = "".join(f"<item><guid>e{n}</guid><description>{escaped}</description></item>" for n in range(entries))
    return f'<rss version="2.0"><channel><title>t</title>{items_xml}</channel></rss>'.encode()


@pytest.mark.parametrize("kind", ["rss", "json"])
def test_the_links_of_all_entries_are_bounded_like_a_pages(kind: str) -> None:
    """1,000 entries of 40 two-byte links under a URL of 7,000 characters: 256 KiB of links each (the bound per
    entry), 256 MB in all from 1.6 MB of feed (28 KB gzipped), which a poll held as events at once (816 MB RSS). The
    links of a document's entries stop at FeedLimits.max_links_bytes, 8 MiB, as a page's result does."""
    long_url = "https://feeds.example.com/" + "a" * 7000 + "/"
    feed = parse_feed(_entries_of_short_links(kind, 1000, 40), long_url)
    assert len(feed.entries) == 1000, "every entry is still read and sent"
    total = sum(len(link) + 3 for entry in feed.entries for link in entry.links)
    assert 7 * 1024 * 1024 < total <= 8 * 1024 * 1024
    assert feed.entries[0].links and not feed.entries[-1].links and feed.entries[-1].links_truncated
