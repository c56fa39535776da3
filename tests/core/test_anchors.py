"""``find_anchors``: the links of ``extract_links``, each with its anchor's text (for watching a page as a feed)."""

from __future__ import annotations

import html
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkcast.core.links import MAX_ANCHOR_TEXT_CHARS, LinkLimits, extract_links, find_anchors, find_links
from tests.linkcases import LinkCase, load_cases

ORIGIN = "http://127.0.0.1:8123"
PAGE = ORIGIN + "/dir/page.html"
CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_find_anchors_gives_the_links_chromium_sees_in_order(case: LinkCase) -> None:
    url = ORIGIN + case.path
    anchors = find_anchors(case.body, url, case.content_type)
    assert (
        [link for link, _text in anchors]
        == case.expected_links(ORIGIN)
        == extract_links(case.body, url, case.content_type)
    )


def test_each_link_carries_the_collapsed_text_of_its_first_anchor() -> None:
    page = b"""<p><a href="/a"> Hello\n  <b>big</b>  world </a>
    <a href="/a">second anchor, same link</a><a href="b#x">caf&eacute; &amp; more</a>"""
    assert find_anchors(page, PAGE) == [
        (ORIGIN + "/a", "Hello big world"),
        (ORIGIN + "/dir/b#x", "café & more"),
    ]


def test_an_image_link_is_named_by_its_alt_and_an_area_by_its_own() -> None:
    page = (
        b'<a href="/i"><img src="x.png" alt="A picture"></a><map><area href="/r" alt="Region"></map><a href="/e"></a>'
    )
    assert find_anchors(page, PAGE) == [(ORIGIN + "/i", "A picture"), (ORIGIN + "/r", "Region"), (ORIGIN + "/e", "")]


def test_the_text_of_an_anchor_is_bounded() -> None:
    page = f'<a href="/long">{"word " * 10_000}</a>'.encode()
    [(link, text)] = find_anchors(page, PAGE)
    assert link == ORIGIN + "/long" and len(text) == MAX_ANCHOR_TEXT_CHARS and text.startswith("word word")


def test_limits_cut_the_anchors_where_they_cut_the_links() -> None:
    page = "".join(f'<a href="/p{n}">link {n}</a>' for n in range(100)).encode()
    for limits in (LinkLimits(max_links=7), LinkLimits(max_bytes=300)):
        anchors = find_anchors(page, PAGE, limits=limits)
        assert [link for link, _ in anchors] == find_links(page, PAGE, limits=limits).links
        assert [text for _, text in anchors] == [f"link {n}" for n in range(len(anchors))]


PIECES = ["/", "//", "..", "?", "#", "%", ":", "a", "é", " ", "javascript:", "mailto:", "http:", "ex.com", "&amp;"]
HREFS = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(hrefs=st.lists(HREFS, max_size=20), texts=st.lists(st.text(max_size=10), min_size=20, max_size=20))
def test_anchors_always_agree_with_extract_links(hrefs: list[str], texts: list[str]) -> None:
    page = "".join(
        f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in zip(hrefs, texts, strict=False)
    ).encode()
    anchors = find_anchors(page, PAGE)
    assert [link for link, _ in anchors] == extract_links(page, PAGE)
    assert all(text == " ".join(text.split()) for _, text in anchors)


def test_a_long_base_costs_memory_for_the_kept_links_only() -> None:
    # Every href was resolved before the texts were read, each a copy of the base: 8,000 anchors under a base of
    # 20,000 characters took 170 MB to keep 13 links (a 1 MB page, 1.7 GB). Now a chunk at a time, as far as needed.
    base = "/" + "a" * 20_000 + "/"
    body = f'<base href="{base}">'.encode() + b"".join(b"<a href=%x>%x</a>" % (i, i) for i in range(8_000))
    limits = LinkLimits(max_links=1000, max_bytes=256 * 1024)
    tracemalloc.start()
    try:
        anchors = find_anchors(body, PAGE, "text/html", limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [link for link, _text in anchors] == find_links(body, PAGE, "text/html", limits).links
    assert anchors[0] == (ORIGIN + base + "0", "0") and len(anchors) == 13  # as many as 256 KiB holds
    assert peak < 32 * 1024 * 1024
