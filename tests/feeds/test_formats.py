"""Every format and version parse_feed reads, and what it reads of each: feed facts, entries, namespaces."""

from __future__ import annotations

import orjson
import pytest

from linkcast.feeds import FeedError, parse_feed

URL = "https://feeds.example.com/dir/feed.xml"

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Example &amp; Co</title><link>https://example.com/</link><ttl>30</ttl>
  <atom:link rel="self" href="https://example.com/feed.xml"/><atom:link rel="hub" href="https://hub.example/"/>
  <image><title>not the title</title><link>https://example.com/image-link</link></image>
  <item>
    <title>First</title><link>https://example.com/1</link><guid isPermaLink="false">id-1</guid>
    <pubDate>Sun, 06 Dec 2026 15:04:30 GMT</pubDate><dc:creator>Ann</dc:creator>
    <description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full <a href="/a">text</a> <a href="b?x=1">two</a></p>]]></content:encoded>
  </item>
  <item><title>Second</title><guid>https://example.com/2</guid></item>
</channel></rss>"""


def test_rss_2_0_gives_the_feed_facts_and_each_entry() -> None:
    feed = parse_feed(RSS20, URL)
    assert (feed.kind, feed.version, feed.title) == ("rss", "rss2.0", "Example & Co")
    assert feed.site_link == "https://example.com/" and feed.self_url == "https://example.com/feed.xml"
    assert feed.hubs == ["https://hub.example/"] and feed.ttl_seconds == 1800.0
    first, second = feed.entries
    assert (first.entry_id, first.title, first.link) == ("id-1", "First", "https://example.com/1")
    assert (first.published, first.updated, first.author) == ("2026-12-06T15:04:30Z", None, "Ann")
    assert first.summary == "Short summary"
    assert first.links == [URL.rsplit("/", 2)[0] + "/a", "https://feeds.example.com/dir/b?x=1"]
    assert first.fingerprint.startswith("sha256:") and not feed.entries_truncated
    # a permalink guid is the id, and the link when there is no <link>
    assert (second.entry_id, second.link) == ("https://example.com/2", "https://example.com/2")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.91", "rss0.91"),
        ("0.92", "rss0.92"),
        ("0.93", "rss0.93"),
        ("0.94", "rss0.94"),
        ("2.0", "rss2.0"),
        ("", "rss"),
    ],
)
def test_rss_versions_are_named(version: str, expected: str) -> None:
    body = f'<rss version="{version}"><channel><title>t</title><item><title>x</title></item></channel></rss>'.encode()
    assert parse_feed(body, URL).version == expected


def test_rss_0_91_with_the_netscape_doctype_reads_and_its_entities_are_html_ones() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Caf&eacute;&nbsp;news</title><item><title>A</title><link>http://a.example/1</link>
<description>plain text</description></item></channel></rss>"""
    feed = parse_feed(body, URL)
    assert feed.version == "rss0.91" and feed.title == "Café news"
    assert [(e.entry_id, e.summary) for e in feed.entries] == [("http://a.example/1", "plain text")]


@pytest.mark.parametrize(
    ("namespace", "version"),
    [("http://purl.org/rss/1.0/", "rss1.0"), ("http://my.netscape.com/rdf/simple/0.9/", "rss0.90")],
)
def test_rss_1_0_and_0_90_rdf_items_are_siblings_of_the_channel(namespace: str, version: str) -> None:
    body = f"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="{namespace}"
      xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
    <channel rdf:about="https://example.com/"><title>RDF</title><link>https://example.com/</link>
      <sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency></channel>
    <item rdf:about="https://example.com/about-1"><title>One</title><link>https://example.com/1</link>
      <dc:date>2026-12-06T15:04:30+01:00</dc:date><dc:creator>Bo</dc:creator></item>
    </rdf:RDF>""".encode()
    feed = parse_feed(body, URL)
    assert (feed.kind, feed.version, feed.title, feed.ttl_seconds) == ("rss", version, "RDF", 1800.0)
    [entry] = feed.entries
    assert (entry.entry_id, entry.link, entry.published, entry.author) == (
        "https://example.com/about-1", "https://example.com/1", "2026-12-06T14:04:30Z", "Bo"
    )  # fmt: skip


ATOM10 = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">A &lt;b&gt;feed&lt;/b&gt;</title>
<link href="https://example.com/"/><link rel="self" href="/atom.xml"/><link rel="hub" href="https://hub.example/"/>
<author><name>Feed Author</name></author><id>urn:feed</id><updated>2026-12-06T00:00:00Z</updated>
<entry><id>urn:1</id><title>One</title><link rel="alternate" type="text/html" href="/posts/1"/>
  <link rel="enclosure" href="/a.mp3"/><published>2026-12-01T10:00:00Z</published>
  <updated>2026-12-02T10:00:00Z</updated>
  <summary>Plain &lt;b&gt; text</summary>
  <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
    <p>See <a href="x">this</a> &amp; that</p></div></content>
</entry>
<entry><id>urn:2</id><title>Two</title><author><name>Own</name><email>own@example.com</email></author>
  <content type="html">&lt;a href="https://other.example/"&gt;escaped&lt;/a&gt;</content></entry>
</feed>"""


def test_atom_1_0_reads_text_html_and_xhtml_constructs_and_inherits_the_feed_author() -> None:
    feed = parse_feed(ATOM10, URL)
    assert (feed.kind, feed.version, feed.title) == ("atom", "atom1.0", "A feed")
    assert (feed.site_link, feed.self_url, feed.hubs) == (
        "https://example.com/", "https://feeds.example.com/atom.xml", ["https://hub.example/"]
    )  # fmt: skip
    one, two = feed.entries
    assert (one.entry_id, one.link, one.author) == ("urn:1", "https://feeds.example.com/posts/1", "Feed Author")
    assert (one.published, one.updated) == ("2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z")
    assert one.summary == "Plain <b> text"  # type="text": markup is text
    assert one.links == ["https://feeds.example.com/dir/x"]
    assert (two.author, two.links, two.summary) == ("Own", ["https://other.example/"], "escaped")


def test_atom_0_3_reads_its_own_names_and_modes() -> None:
    body = b"""<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title>
    <link rel="alternate" type="text/html" href="https://example.com/"/>
    <entry><id>tag:1</id><title>E</title><link rel="alternate" href="https://example.com/e"/>
    <issued>2004-01-01T00:00:00Z</issued><modified>2004-01-02T00:00:00Z</modified>
    <content type="text/html" mode="escaped">&lt;a href="/rel"&gt;x&lt;/a&gt;</content></entry></feed>"""
    feed = parse_feed(body, URL)
    assert (feed.kind, feed.version, feed.site_link) == ("atom", "atom0.3", "https://example.com/")
    [entry] = feed.entries
    assert (entry.published, entry.updated, entry.links) == (
        "2004-01-01T00:00:00Z", "2004-01-02T00:00:00Z", ["https://feeds.example.com/rel"]
    )  # fmt: skip


@pytest.mark.parametrize(("version", "expected"), [("https://jsonfeed.org/version/1", "json1.0"),
                                                     ("https://jsonfeed.org/version/1.1", "json1.1")])  # fmt: skip
def test_json_feed_1_0_and_1_1(version: str, expected: str) -> None:
    document = {
        "version": version, "title": "J", "home_page_url": "https://example.com/", "feed_url": "/feed.json",
        "hubs": [{"type": "WebSub", "url": "https://hub.example/"}],
        "items": [
            {"id": 7, "url": "/7", "title": "Seven", "content_html": '<a href="x">x</a>', "summary": "Sum",
             "date_published": "2026-12-06T15:04:30Z", "authors": [{"name": "A"}], "author": {"name": "old"}},
            {"id": "t", "content_text": "text only <a href=y>", "date_modified": "2026-12-07T00:00:00+02:00"},
            {"no": "identity"}, "not an object",
        ],
    }  # fmt: skip
    feed = parse_feed(orjson.dumps(document), URL, "application/feed+json")
    assert (feed.kind, feed.version, feed.title, feed.site_link) == ("json", expected, "J", "https://example.com/")
    assert (feed.self_url, feed.hubs) == ("https://feeds.example.com/feed.json", ["https://hub.example/"])
    seven, text = feed.entries
    assert (seven.entry_id, seven.link, seven.title, seven.summary, seven.author) == (
        "7", "https://feeds.example.com/7", "Seven", "Sum", "A"
    )  # fmt: skip
    assert seven.links == ["https://feeds.example.com/dir/x"] and seven.published == "2026-12-06T15:04:30Z"
    assert (text.links, text.summary, text.updated) == ([], "text only <a href=y>", "2026-12-06T22:00:00Z")


def test_an_undeclared_well_known_prefix_reads_as_its_namespace() -> None:
    body = b"""<rss version="2.0"><channel><item><guid>g</guid><dc:creator>Me</dc:creator>
    <content:encoded>&lt;a href="/x"&gt;x&lt;/a&gt;</content:encoded></item></channel></rss>"""
    [entry] = parse_feed(body, URL).entries
    assert (entry.author, entry.links) == ("Me", ["https://feeds.example.com/x"])


def test_element_names_are_matched_whatever_their_case() -> None:
    body = b"<rss version='2.0'><channel><item><Title>T</Title><PubDate>Sun, 06 Dec 2026 15:04:30 GMT</PubDate>" \
           b"<GUID>g</GUID></item></channel></rss>"  # fmt: skip
    [entry] = parse_feed(body, URL).entries
    assert (entry.entry_id, entry.title, entry.published) == ("g", "T", "2026-12-06T15:04:30Z")


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "seconds"),
    [("60", None, None, 3600.0), ("x", "daily", None, 86400.0), (None, None, "4", 21600.0), (None, "weekly", "0", None),
     ("-5", None, None, None), (None, "sometimes", "1", None)],
)  # fmt: skip
def test_polling_advice_from_ttl_or_the_syndication_module(
    ttl: str | None, period: str | None, frequency: str | None, seconds: float | None
) -> None:
    parts = [f"<ttl>{ttl}</ttl>" if ttl else "", f"<sy:updatePeriod>{period}</sy:updatePeriod>" if period else "",
             f"<sy:updateFrequency>{frequency}</sy:updateFrequency>" if frequency else ""]  # fmt: skip
    body = f"<rss version='2.0'><channel>{''.join(parts)}</channel></rss>".encode()
    assert parse_feed(body, URL).ttl_seconds == seconds


def test_an_empty_feed_is_a_feed_with_no_entries() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel/></rss>', URL)
    assert feed.entries == [] and feed.title is None and not feed.entries_truncated


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<!DOCTYPE html><html><head><title>x</title></head><body>page</body></html>", "not_a_feed"),
        (b"<!doctype html><html><p>not even XML", "not_a_feed"),
        (b"just some text", "not_a_feed"),
        (b"", "not_a_feed"),
        (b'{"title": "json, but no JSON Feed"}', "not_a_feed"),
        (b"[1, 2]", "not_a_feed"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "not_a_feed"),
        (b'<rss version="2.0"><channel><item><title>x</item></channel></rss>', "invalid_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid_feed"),
        (b"<rss><channel><title>a & b</title></channel></rss>", "invalid_feed"),
    ],
)
def test_what_is_no_feed_is_refused_with_a_code_that_says_why(body: bytes, code: str) -> None:
    with pytest.raises(FeedError) as raised:
        parse_feed(body, URL)
    assert raised.value.code == code and raised.value.http_status == 502


@pytest.mark.parametrize("namespace", ["http://backend.userland.com/rss2", "http://blogs.law.harvard.edu/tech/rss"])
def test_rss_in_a_userland_or_harvard_namespace_is_rss(namespace: str) -> None:
    body = f'<rss version="2.0" xmlns="{namespace}"><channel><item><guid>g</guid></item></channel></rss>'.encode()
    assert [entry.entry_id for entry in parse_feed(body, URL).entries] == ["g"]
