"""xml:base (XML Base: nested, relative to its parent's, the document's base is the feed URL), relative links resolved
browser-exact, and content as text, escaped HTML, raw elements and XHTML."""

from __future__ import annotations

from linkcast.core.links import LinkLimits, extract_links
from linkcast.feeds import FeedLimits, parse_feed

URL = "https://feeds.example.com/dir/feed.xml"


def test_xml_base_nests_and_each_url_resolves_against_the_base_in_scope_where_it_is_written() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/root/">
    <link href="home"/>
    <entry xml:base="entries/"><id>1</id><link href="one"/>
      <content type="html" xml:base="/content/">&lt;a href="c"&gt;c&lt;/a&gt;</content></entry>
    <entry><id>2</id><link xml:base="https://other.example/x/" href="two"/>
      <summary type="html">&lt;a href="s"&gt;s&lt;/a&gt;</summary></entry>
    </feed>"""
    feed = parse_feed(body, URL)
    assert feed.site_link == "https://base.example/root/home"
    one, two = feed.entries
    assert one.link == "https://base.example/root/entries/one"
    assert one.links == ["https://base.example/content/c"]  # the content's own xml:base, relative to the entry's
    assert (two.link, two.links) == ("https://other.example/x/two", ["https://base.example/root/s"])


def test_xml_base_applies_to_rss_too_and_the_feed_url_is_the_last_resort() -> None:
    body = b"""<rss version="2.0"><channel><link>../site/</link>
    <item xml:base="https://b.example/a/"><guid>1</guid><link>p?q=1</link></item>
    <item><guid>2</guid><link>relative/path</link><description>&lt;a href="#top"&gt;t&lt;/a&gt;</description></item>
    </channel></rss>"""
    feed = parse_feed(body, URL)
    assert feed.site_link == "https://feeds.example.com/site/"
    assert [entry.link for entry in feed.entries] == [
        "https://b.example/a/p?q=1",
        "https://feeds.example.com/dir/relative/path",
    ]
    assert feed.entries[1].links == ["https://feeds.example.com/dir/feed.xml#top"]


def test_an_xml_base_inside_xhtml_content_applies_to_the_links_under_it() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="xhtml">
    <div xmlns="http://www.w3.org/1999/xhtml"><a href="a">a</a>
      <p xml:base="https://in.example/p/"><a href="b">b</a></p></div>
    </content></entry></feed>"""
    [entry] = parse_feed(body, URL).entries
    assert entry.links == ["https://feeds.example.com/dir/a", "https://in.example/p/b"]


def test_content_links_are_exactly_what_a_browser_sees_in_that_html() -> None:
    html = '<a href=" /sp ace ">1</a><a href="HTTP://EXAMPLE.com:80/x">2</a><a href="javascript:x">3</a>'
    html += '<a href="?q=é">4</a>'
    item = f"<item><guid>g</guid><description><![CDATA[{html}]]></description></item>"
    body = f"<rss version='2.0'><channel>{item}</channel></rss>"
    [entry] = parse_feed(body.encode(), URL).entries
    assert entry.links == extract_links(html.encode(), URL, "text/html; charset=utf-8")
    assert entry.links == [
        "https://feeds.example.com/sp%20ace",
        "http://example.com/x",
        "https://feeds.example.com/dir/feed.xml?q=%C3%A9",
    ]


def test_links_come_from_the_content_else_the_summary_and_are_bounded() -> None:
    many = "".join(f"&lt;a href='/l{n}'&gt;{n}&lt;/a&gt;" for n in range(50))
    body = f"""<rss version='2.0'><channel>
    <item><guid>1</guid><description>&lt;a href='/summary'&gt;s&lt;/a&gt;</description></item>
    <item><guid>2</guid><description>&lt;a href='/summary'&gt;s&lt;/a&gt;</description>
      <content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">{many}</content:encoded></item>
    </channel></rss>""".encode()
    limits = FeedLimits(links=LinkLimits(max_links=10))
    summary_only, with_content = parse_feed(body, URL, limits=limits).entries
    assert summary_only.links == ["https://feeds.example.com/summary"] and not summary_only.links_truncated
    assert with_content.links == [f"https://feeds.example.com/l{n}" for n in range(10)] and with_content.links_truncated
    assert with_content.summary == "s"  # the summary is the summary element's when there is one


def test_escaped_html_raw_elements_and_cdata_all_read_as_html() -> None:
    escaped = "<description>&lt;p&gt;One &amp;amp; &lt;a href='/e'&gt;two&lt;/a&gt;&lt;/p&gt;</description>"
    raw = "<description><p>One &amp; <a href='/e'>two</a></p></description>"
    cdata = "<description><![CDATA[<p>One &amp; <a href='/e'>two</a></p>]]></description>"
    for description in (escaped, raw, cdata):
        body = f"<rss version='2.0'><channel><item><guid>g</guid>{description}</item></channel></rss>".encode()
        [entry] = parse_feed(body, URL).entries
        assert (entry.summary, entry.links) == ("One & two", ["https://feeds.example.com/e"]), description


def test_atom_text_content_is_text_even_when_it_looks_like_markup() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>a &lt;b&gt; c</title>
    <content type="text">x &lt;a href="/no"&gt;not a link&lt;/a&gt;</content></entry></feed>"""
    [entry] = parse_feed(body, URL).entries
    assert (entry.title, entry.summary, entry.links) == ("a <b> c", 'x <a href="/no">not a link</a>', [])


def test_summaries_are_plain_collapsed_and_bounded() -> None:
    words = "word " * 1000
    body = f"""<rss version='2.0'><channel><item><guid>g</guid><description><![CDATA[<script>var x;</script>
    <style>p {{}}</style><p>  Hello&nbsp;<b>bold</b>er
    world</p><p>{words}</p>]]></description></item></channel></rss>""".encode()
    [entry] = parse_feed(body, URL).entries
    assert entry.summary is not None and entry.summary.startswith("Hello bolder world word word")
    assert len(entry.summary) <= 1000


def test_rss_titles_are_html_only_when_they_look_like_it() -> None:
    titles = ["AT&amp;T", "a &lt; b", "&lt;b&gt;Bold&lt;/b&gt; move", "Tom &amp;amp; Jerry", "  spaced \n out "]
    items = "".join(f"<item><title>{title}</title></item>" for title in titles)
    feed = parse_feed(f"<rss version='2.0'><channel>{items}</channel></rss>".encode(), URL)
    assert [entry.title for entry in feed.entries] == ["AT&T", "a < b", "Bold move", "Tom & Jerry", "spaced out"]
