"""OPML: read any export (nested, any case, feed: URLs), written as OPML 2.0 that reads back, hostile lists refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.core.errors import PayloadTooLarge
from linkcast.feeds.opml import MAX_OPML_BYTES, MAX_TITLE_CHARS, OpmlError, OpmlFeed, export_opml, parse_opml, read_opml

LIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>My &amp; feeds</title></head><body>
  <outline text="Tech">
    <outline text="A" title="Site A" type="rss" xmlUrl="https://a.example/feed" htmlUrl="https://a.example/"/>
    <outline text="Deeper"><outline text="B" xmlurl="feed://b.example/rss"/></outline>
  </outline>
  <outline text="C" xmlUrl="feed:https://c.example/atom" htmlUrl="javascript:alert(1)"/>
  <outline text="bad" xmlUrl="ftp://d.example/x"/><outline text="again" xmlUrl="https://a.example/feed"/>
  <outline text="no url, a note"/>
</body></opml>"""


def test_feeds_are_read_at_any_depth_in_order_and_invalid_ones_are_skipped_and_reported() -> None:
    document = read_opml(LIST)
    assert document.title == "My & feeds"
    assert document.feeds == [
        OpmlFeed("https://a.example/feed", "Site A", "https://a.example/"),
        OpmlFeed("http://b.example/rss", "B", None),
        OpmlFeed("https://c.example/atom", "C", None),
    ]
    assert document.skipped == [("ftp://d.example/x", "not an http(s) URL"),
                                ("https://a.example/feed", "a repeat of an earlier outline")]  # fmt: skip
    assert parse_opml(LIST) == document.feeds


def test_an_export_reads_back_with_every_value_escaped() -> None:
    feeds = [
        OpmlFeed("https://a.example/feed?x=1&y=<2>", "Quotes \" and ' & <tags>\n\ttabbed", "https://a.example/"),
        OpmlFeed("https://b.example/", None, None),
    ]
    exported = export_opml(feeds, "Mine & <yours>")
    assert exported.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    document = read_opml(exported)
    assert document.title == "Mine & <yours>"
    assert document.feeds == [OpmlFeed("https://a.example/feed?x=1&y=%3C2%3E", feeds[0].title, "https://a.example/"),
                              feeds[1]]  # fmt: skip


XML_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\ufffe\uffff"), max_size=40)


@given(st.lists(st.tuples(st.integers(0, 10**6), XML_TEXT.filter(lambda t: "\r" not in t)), max_size=20), XML_TEXT)
def test_any_list_round_trips(entries: list[tuple[int, str]], title: str) -> None:
    feeds = list({f"https://e{n}.example/feed": OpmlFeed(f"https://e{n}.example/feed", t.translate(
        {c: None for c in range(0x20) if c not in (9, 10)}) or None) for n, t in entries}.values())  # fmt: skip
    assert parse_opml(export_opml(feeds, title)) == feeds


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'<!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><opml><body><outline text="&b;"/></body></opml>',
         "unsafe_xml"),
        (b'<!DOCTYPE opml [<!ENTITY e SYSTEM "file:///etc/passwd">]><opml><head><title>&e;</title></head></opml>',
         "unsafe_xml"),
        (b"<html><body>not opml</body></html>", "invalid_opml"),
        (b"<opml><body><outline", "invalid_opml"),
        (b"", "invalid_opml"),
        (b"<opml><body>" + b"<outline text='x'>" * 100 + b"</outline>" * 100 + b"</body></opml>", "too_complex"),
    ],
)  # fmt: skip
def test_hostile_or_broken_lists_are_refused_with_a_code(body: bytes, code: str) -> None:
    with pytest.raises(OpmlError) as raised:
        read_opml(body)
    assert raised.value.code == code and raised.value.http_status == 400


def test_a_title_of_a_million_entity_references_is_cut_at_its_bound() -> None:
    # Each reference is a piece of text of its own, and each piece summed the lengths of all kept before it: 1 MB of
    # them took 10 s of a thread (and a POST /feeds/import that long). Now about 60 ms (bench/bench_complexity.py).
    body = b"<opml><head><title>" + b"&eacute;" * 125_000 + b"</title></head><body/></opml>"
    document = read_opml(body)
    assert document.title == "\u00e9" * MAX_TITLE_CHARS


def test_too_many_outlines_are_refused_rather_than_cut() -> None:
    outlines = "".join(f'<outline xmlUrl="https://e.example/{n}"/>' for n in range(10_001))
    with pytest.raises(OpmlError) as raised:
        read_opml(f"<opml><body>{outlines}</body></opml>".encode())
    assert raised.value.code == "too_many_outlines"
    ten_thousand = "".join(f'<outline xmlUrl="https://e.example/{n}"/>' for n in range(10_000))
    assert len(parse_opml(f"<opml><body>{ten_thousand}</body></opml>".encode())) == 10_000


def test_a_list_past_the_size_cap_is_refused_unread() -> None:
    with pytest.raises(PayloadTooLarge):
        read_opml(b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>")
