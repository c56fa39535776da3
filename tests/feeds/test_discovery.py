"""Discovery: feeds linked from a page's head and from Link headers, sniffing, and WebSub hub and self links."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.feeds.discovery import (
    MAX_FEED_LINKS,
    FeedLink,
    feed_links_in_headers,
    feed_links_in_html,
    hub_and_self_links,
    looks_like_a_feed,
)

PAGE_URL = "https://site.example/blog/post.html"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><base href="/base/">
<link rel="alternate" type="application/rss+xml" title=" Posts  (RSS) " href="feed.xml">
<link rel="ALTERNATE" type="Application/Atom+XML; charset=utf-8" href="//cdn.example/atom">
<link rel="alternate" type="application/feed+json" href="https://site.example/feed.json">
<link rel="alternate" type="application/json" href="/wp-json/">
<link rel="alternate stylesheet" type="text/css" href="alt.css">
<link rel="alternate" type="application/rss+xml" href="feed.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
<link rel="hub" href="https://hub.example/"><link rel="self" href="/self">
</head><body><link rel="alternate" type="application/rss+xml" href="/in-body.xml"></body></html>"""


def test_feed_links_in_the_head_are_found_resolved_in_order_each_once() -> None:
    assert feed_links_in_html(PAGE, PAGE_URL, "text/html") == [
        FeedLink("https://site.example/base/feed.xml", "application/rss+xml", "Posts (RSS)"),
        FeedLink("https://cdn.example/atom", "application/atom+xml", None),
        FeedLink("https://site.example/feed.json", "application/feed+json", None),
        FeedLink("https://site.example/wp-json/", "application/json", None),
    ]


def test_a_page_in_a_legacy_encoding_resolves_its_feed_links_in_it() -> None:
    page = '<head><link rel="alternate" type="application/rss+xml" href="/f?q=é" title="Café"></head>'.encode("latin-1")
    assert feed_links_in_html(page, PAGE_URL, "text/html; charset=windows-1252") == [
        FeedLink("https://site.example/f?q=%E9", "application/rss+xml", "Café")
    ]


def test_feed_links_are_bounded() -> None:
    links = "".join(f'<link rel="alternate" type="application/rss+xml" href="/f{n}">' for n in range(1000))
    assert len(feed_links_in_html(f"<head>{links}</head>".encode(), PAGE_URL)) == MAX_FEED_LINKS


def test_link_headers_give_feeds_with_quoted_commas_and_extended_titles() -> None:
    headers = [
        '<https://site.example/feed>; rel="alternate"; type="application/atom+xml"; title="News, daily", '
        "</feed.json>; rel=alternate; type=application/feed+json; title*=UTF-8''%E2%82%AC%20prices",
        '</style.css>; rel="stylesheet"; type="text/css", '
        "<mailto:x@example.com>; rel=alternate; type=application/rss+xml",
    ]
    assert feed_links_in_headers(headers, PAGE_URL) == [
        FeedLink("https://site.example/feed", "application/atom+xml", "News, daily"),
        FeedLink("https://site.example/feed.json", "application/feed+json", "€ prices"),
    ]


def test_hostile_link_headers_are_bounded_and_never_raise() -> None:
    assert feed_links_in_headers(['<a>; rel="alternate; type=', "<<<>>>;;;=,,,", ";" * 100_000], PAGE_URL) == []
    many = [", ".join(f"</f{n}>; rel=alternate; type=application/rss+xml" for n in range(10_000))]
    assert len(feed_links_in_headers(many, PAGE_URL)) <= MAX_FEED_LINKS


@pytest.mark.parametrize("charset", ["idna", "punycode", "undefined", "rot13", "no-such-charset"])
def test_an_extended_title_in_a_charset_that_cannot_decode_it_leaves_the_plain_title(charset: str) -> None:
    """The server names the charset of ``title*``: some that Python knows refuse to decode anything (``undefined``),
    any non-ASCII (``punycode``) or with ``errors="replace"`` (``idna``). The link stays, with its plain title."""
    headers = [f"</feed>; rel=alternate; type=application/rss+xml; title=\"News\"; title*={charset}''%C3%A9%41"]
    assert feed_links_in_headers(headers, PAGE_URL) == [
        FeedLink("https://site.example/feed", "application/rss+xml", "News")
    ]


def test_hubs_and_self_come_from_the_headers_and_only_where_they_name_none_from_the_body() -> None:
    headers = ['<https://hub.one/>; rel="hub", <https://site.example/topic>; rel="self"']
    assert hub_and_self_links(headers, PAGE, PAGE_URL, "text/html") == (
        ["https://hub.one/"], "https://site.example/topic"
    )  # fmt: skip
    assert hub_and_self_links(['<https://hub.one/>; rel="hub"'], PAGE, PAGE_URL, "text/html") == (
        ["https://hub.one/"], "https://site.example/self"
    )  # fmt: skip
    assert hub_and_self_links([], PAGE, PAGE_URL, "text/html") == (
        ["https://hub.example/"],
        "https://site.example/self",
    )


def test_feed_hub_and_self_links_longer_than_a_url_the_api_takes_are_passed_over() -> None:
    """A page's head may name URLs megabytes long: taken as its feed, one was polled at every interval with a request
    line that long (never more than 8 KiB from PUT /feeds itself); as its hub, asked with one, and its topic in the
    form. Passed over, the next one is taken."""
    long = "/" + "a" * MAX_URL_BYTES
    head = (
        f'<link rel="alternate" type="application/rss+xml" href="{long}">'
        '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        f'<link rel="hub" href="https://hub.example{long}"><link rel="hub" href="https://hub.example/">'
        f'<link rel="self" href="{long}"><link rel="self" href="/self">'
    )
    page = f"<head>{head}</head>".encode()
    assert feed_links_in_html(page, PAGE_URL) == [
        FeedLink("https://site.example/feed.xml", "application/rss+xml", None)
    ]
    assert hub_and_self_links([], page, PAGE_URL) == (["https://hub.example/"], "https://site.example/self")
    headers = [
        f'<{long}>; rel="alternate"; type="application/rss+xml", </feed.xml>; rel="alternate"; '
        f'type="application/rss+xml", <{long}>; rel="hub", </hub>; rel="hub", <{long}>; rel="self", </self>; rel="self"'
    ]
    assert feed_links_in_headers(headers, PAGE_URL) == [
        FeedLink("https://site.example/feed.xml", "application/rss+xml", None)
    ]
    assert hub_and_self_links(headers, b"", PAGE_URL) == (["https://site.example/hub"], "https://site.example/self")


def test_hubs_and_self_of_a_feed_come_from_its_atom_links() -> None:
    feed = b"""<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
    <atom:link rel="hub" href="https://hub.example/"/><atom:link rel="self" href="/feed.xml"/></channel></rss>"""
    assert hub_and_self_links([], feed, "https://site.example/x", "application/rss+xml") == (
        ["https://hub.example/"], "https://site.example/feed.xml"
    )  # fmt: skip
    json_feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "feed_url": "https://s.example/f.json",'
        b' "hubs": [{"type": "WebSub", "url": "https://h.example/"}]}'
    )
    assert hub_and_self_links([], json_feed, "https://s.example/", None) == (
        ["https://h.example/"],
        "https://s.example/f.json",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'<?xml version="1.0"?>\n<!-- a comment --><?xml-stylesheet href="s.xsl"?><rss version="2.0">', True),
        (b'\xef\xbb\xbf<feed xmlns="http://www.w3.org/2005/Atom">', True),
        (b'<feed version="0.3" xmlns="http://purl.org/atom/ns#">', True),
        ('<rss version="2.0">'.encode("utf-16"), True),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">', True),
        (b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd"><rss version="0.91">', True),
        (b'{"items": [], "version": "https:\\/\\/jsonfeed.org\\/version\\/1.1"}', True),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><x/></rdf:RDF>', False),
        (b'<feed xmlns="http://example.com/not-atom">', False),
        (b"<!DOCTYPE html><html><head><title>rss</title>", False),
        (b'{"version": "1.0", "rss": true}', False),
        (b"plain text about <rss>", False),
        (b"", False),
    ],
)
def test_feeds_are_sniffed_by_their_root_element_or_json_feed_version(body: bytes, expected: bool) -> None:
    assert looks_like_a_feed(body, None) is expected


# A DOCTYPE then a run of white space with no end, as long as the head sniffed (SNIFF_BYTES): the prolog's expression
# took each place in the run for where the DOCTYPE's name might end and read the rest of the run again from there,
# time quadratic in its length: 4.8 s of one core for each, on the event loop of the API request that discovers a
# feed (PUT /feeds), during which the server answered nothing at all.
_SNIFF_ALL = """
from linkcast.feeds.discovery import SNIFF_BYTES, looks_like_a_feed
for space in (b" ", b"\\t", b"\\n", b"\\r"):
    for end in (b"", b"x"):
        assert not looks_like_a_feed(b"<!DOCTYPE" + space * SNIFF_BYTES + end)
"""


def test_a_doctype_followed_by_endless_white_space_is_sniffed_in_one_reading() -> None:
    # In a process of its own, which a hang guard can end: a thread reading the expression cannot be stopped.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _SNIFF_ALL], env=environment, timeout=30, check=False)
    assert done.returncode == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE rss   >\n<rss>",
        b'<!DOCTYPE rss PUBLIC "-//x//EN"\t"x.dtd"\r\n><rss>',
        b'<!DOCTYPE rss [ <!ENTITY a "]"> ]  ><rss>',
    ],
)
def test_a_doctype_with_white_space_before_its_end_is_a_prolog(body: bytes) -> None:
    assert looks_like_a_feed(body) is True
