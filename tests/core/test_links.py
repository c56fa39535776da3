"""``extract_links`` against every browser-checked link case, plus properties that hold for any input."""

from __future__ import annotations

import html

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkcast.core.links import MAX_URL_CHARS, FoundLinks, LinkLimits, extract_links, find_links
from tests.linkcases import LinkCase, load_cases

ORIGIN = "http://127.0.0.1:8123"
PAGE_URL = ORIGIN + "/dir/page.html?x=1"
BASE = PAGE_URL
CASES = load_cases()
CONTENT_TYPES = [
    None,
    "text/html",
    "text/html; charset=utf-8",
    "text/html; charset=windows-1252",
    "text/html; charset=shift_jis",
    "text/html; charset=iso-2022-jp",
    "text/html; charset=utf-16le",
    "text/html; charset=iso-2022-kr",  # the replacement encoding: the page reads as one U+FFFD
    "text/html; charset=x-user-defined",
    "text/html; charset=bogus",
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_extract_links_matches_chromium(case: LinkCase) -> None:
    expected = case.expected_links(ORIGIN)
    assert extract_links(case.body, ORIGIN + case.path, case.content_type) == expected


def test_the_corpus_covers_at_least_forty_cases_with_a_redirect_and_ten_thousand_links() -> None:
    assert len(CASES) >= 40
    assert any(case.redirects for case in CASES)
    assert any(case.body.count(b"<a ") >= 10_000 for case in CASES)


def assert_well_formed(links: list[str]) -> None:
    assert len(links) == len(set(links)), "a link is repeated"
    for link in links:
        assert link.startswith(("http://", "https://")), link
        assert link.isascii() and all(c > " " and c != "\x7f" for c in link), link


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bytes_never_raise_and_give_unique_http_links(body: bytes, content_type: str | None) -> None:
    assert_well_formed(extract_links(body, PAGE_URL, content_type))


# Hrefs assembled from the pieces that make URLs hard: separators, escapes, schemes, hosts, non-ASCII, whitespace.
PIECES = [
    "/", "//", "\\", "..", ".", "?", "#", "%", "%2e", "%zz", ":", "@", "[", "]", "a", "B", "é", "日", "😀", " ",
    "\t", "\n", "|", "'", '"', "<", ">", "`", "{", "}", "^", "&amp;", "&copy", "http:", "https:", "HTTP://",
    "javascript:", "mailto:", "ex.com", "xn--", ":8080", "1.2.3.4", "ß", "\u00a0", "\u3002", "\x01", "€",
]  # fmt: skip
HREFS = st.lists(st.sampled_from(PIECES), min_size=0, max_size=8).map("".join)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    hrefs=st.lists(HREFS, max_size=30),
    encoding=st.sampled_from(["utf-8", "windows-1252", "shift_jis", "koi8-r"]),
)
def test_any_hrefs_give_unique_http_links_in_any_encoding(hrefs: list[str], encoding: str) -> None:
    page = "".join(f'<a href="{html.escape(href)}">x</a>' for href in hrefs)
    body = page.encode(encoding, "xmlcharrefreplace")
    links = extract_links(body, PAGE_URL, f"text/html; charset={encoding}")
    assert_well_formed(links)
    assert len(links) <= len(hrefs)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(hrefs=st.lists(HREFS.filter(lambda h: not any(c in h for c in " \u00a0*")), max_size=30))
def test_extracted_links_are_their_own_links(hrefs: list[str]) -> None:
    """A page linking to the extracted links, from anywhere, yields exactly those links again, in the same order."""
    page = "".join(f'<a href="{html.escape(href)}">x</a>' for href in hrefs).encode()
    links = extract_links(page, PAGE_URL, "text/html; charset=utf-8")
    again = "".join(f'<a href="{html.escape(link)}">x</a>' for link in links).encode()
    assert extract_links(again, "https://elsewhere.example/other/", "text/html; charset=utf-8") == links


def test_order_is_document_order_and_first_occurrence_wins() -> None:
    page = b'<a href="/b">1</a><a href="/a">2</a><a href="/b#">3</a><a href="/b">4</a><area href="/a">'
    assert extract_links(page, ORIGIN + "/") == [ORIGIN + "/b", ORIGIN + "/a", ORIGIN + "/b#"]


def test_content_type_charset_decides_the_query_encoding() -> None:
    page = '<a href="?q=é">x</a>'.encode("latin-1")
    assert extract_links(page, ORIGIN + "/", "text/html; charset=iso-8859-1") == [ORIGIN + "/?q=%E9"]
    assert extract_links(page.decode("latin-1").encode(), ORIGIN + "/", "text/html; charset=utf-8") == [
        ORIGIN + "/?q=%C3%A9"
    ]


def test_a_page_url_not_in_canonical_form_gives_canonical_links() -> None:
    # The fetcher always passes a canonical URL; a caller of the library may not. Links are spelled by the URL
    # standard either way, not copied from the page URL's text.
    page = b'<a href="/x">x</a><a href="y">y</a><a href="http://EXAMPLE.com/z">z</a>'
    assert extract_links(page, "http://EXAMPLE.com/a/../b/") == [
        "http://example.com/x",
        "http://example.com/b/y",
        "http://example.com/z",
    ]


def test_a_link_longer_than_chromium_follows_is_dropped() -> None:
    # Chromium lists it in document.links, but a click on it navigates to about:blank#blocked (url::kMaxURLChars).
    origin = "http://example.test/"
    at_limit = "a" * (MAX_URL_CHARS - len(origin))
    page = f'<a href="/{at_limit}">kept</a><a href="/{at_limit}b">dropped</a><a href="/next">kept</a>'.encode()
    assert extract_links(page, origin) == [origin + at_limit, origin + "next"]


def test_limits_keep_the_first_links_in_document_order() -> None:
    page = "".join(f'<a href="/p{n % 50}">.</a>' for n in range(200)).encode()
    everything = extract_links(page, BASE)
    assert len(everything) == 50
    assert find_links(page, BASE, limits=LinkLimits(max_links=50)) == FoundLinks(everything)
    assert find_links(page, BASE, limits=LinkLimits(max_links=7)) == FoundLinks(everything[:7], truncated=True)
    size = len(orjson.dumps(everything[:12]))
    assert find_links(page, BASE, limits=LinkLimits(max_bytes=size)) == FoundLinks(everything[:12], truncated=True)
    assert find_links(page, BASE, limits=LinkLimits(max_bytes=size + 1)).links == everything[:12]
    whole = len(orjson.dumps(everything))
    assert find_links(page, BASE, limits=LinkLimits(max_bytes=whole)) == FoundLinks(everything)


@given(st.lists(st.sampled_from(["/a", "b", "../c", "#f", "?q", "mailto:x", "https://o.test/", "/a"]), max_size=60))
def test_limits_cut_the_unlimited_answer_at_any_size(hrefs: list[str]) -> None:
    page = "".join(f'<a href="{href}">.</a>' for href in hrefs).encode()
    everything = extract_links(page, BASE)
    for max_bytes in range(2, len(orjson.dumps(everything)) + 2, 7):
        found = find_links(page, BASE, limits=LinkLimits(max_bytes=max_bytes))
        assert found.links == everything[: len(found.links)]
        assert len(orjson.dumps(found.links)) <= max_bytes
        assert found.truncated == (len(found.links) < len(everything))


@pytest.mark.parametrize(("opening", "times"), [(b"<svg>", 6_000), (b"<math><mi><svg>", 2_500)])
def test_nested_svg_and_math_without_links_are_read_whole(opening: bytes, times: int) -> None:
    # Each <svg> or <math> asked its own subtree for a link, thousands nested: 0.47 s here, and 32 KB of <svg> held
    # the event loop 0.57 s (pages of up to 32 KiB are read inline). Now under 10 ms: bench/bench_complexity.py
    # measures how the cost grows; this holds the answer.
    closing = b"".join(b"</" + name + b">" for name in reversed(opening[1:-1].split(b"><")))
    nested = opening * times + closing * times
    body = nested + b"<svg><foreignObject><a href=/in-html></a></foreignObject><a href=/svg-a></a></svg><a href=/z>"
    found = find_links(body, "https://example.com/")
    assert found.links == ["https://example.com/in-html", "https://example.com/z"]  # an SVG <a> is no HTML link
