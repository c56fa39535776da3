"""Include/exclude patterns: globs with one wildcard, anchored, that finish in linear time on hostile input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcast.core.errors import InvalidInput
from linkcast.crawl.patterns import MAX_PATTERN_CHARS, Pattern, PatternFilter
from linkcast.crawl.urls import crawl_key


def matches(pattern: str, url: str) -> bool:
    return Pattern.parse(pattern).matches(crawl_key(url))


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        ("https://example.com/blog/*", "https://example.com/blog/", True),
        ("https://example.com/blog/*", "https://example.com/blog/a/b?page=2", True),
        ("https://example.com/blog/*", "https://example.com/blog", False),
        ("https://example.com/blog/*", "https://example.com/en/blog/", False),
        ("https://example.com/blog/*", "http://example.com/blog/", False),
        ("https://example.com/", "https://example.com", True),
        ("https://example.com/", "https://example.com/a", False),
        ("*.pdf", "https://example.com/files/a.pdf", True),
        ("*.pdf", "https://example.com/files/a.pdf?dl=1", False),
        ("*.pdf*", "https://example.com/files/a.pdf?dl=1", True),
        ("*.PDF", "https://example.com/files/a.pdf", False),
        ("*", "https://example.com/anything?at=all", True),
        ("http*://*.example.com/*", "https://www.example.com/x", True),
        ("http*://*.example.com/*", "https://example.com/x", False),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb", True),
        ("https://example.com/a%2Fb", "https://example.com/a/b", False),
        ("https://example.com/a%2Fb", "https://example.com/a%2fb", False),
        ("https://xn--bcher-kva.example/*", "https://Bücher.example/x", True),
        ("https://example.com/%C3%A4", "https://example.com/ä", True),
        ("https://example.com/a%20b", "https://example.com/a b", True),
        ("https://example.com/page", "https://example.com/page#section", True),
        ("*/x/*/x", "https://example.com/x/y/x", True),
        ("*/x/*/x", "https://example.com/x/x", False),  # the pieces may not overlap
    ],
)
def test_a_whole_url_pattern_matches_the_whole_crawl_key(pattern: str, url: str, expected: bool) -> None:
    assert matches(pattern, url) is expected


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        ("/blog/*", "https://example.com/blog/post", True),
        ("/blog/*", "http://other.example:8080/blog/", True),
        ("/blog/*", "https://example.com/blog", False),
        ("/blog/*", "https://example.com/en/blog/x", False),
        ("/blog", "https://example.com/blog?page=2", False),
        ("/blog*", "https://example.com/blog?page=2", True),
        ("/search?q=*", "https://example.com/search?q=cats", True),
        ("/search?q=*", "https://example.com/searchXq=cats", False),
        ("/", "https://example.com", True),
        ("/*/edit", "https://example.com/wiki/Page/edit", True),
        ("*/edit", "https://example.com/wiki/edit", True),
        ("/a/b", "https://example.com/a/./c/../b", True),
        ("/blog/*", "https://example.com/x?next=/blog/", False),
        ("/blog/*", "https://example.com/blog/#frag", True),
    ],
)
def test_a_pattern_starting_with_a_slash_matches_path_and_query(pattern: str, url: str, expected: bool) -> None:
    assert matches(pattern, url) is expected


def test_a_question_mark_is_literal_not_a_wildcard() -> None:
    assert matches("/a?b", "https://example.com/a?b")
    assert not matches("/a?b", "https://example.com/axb")


def test_consecutive_stars_are_one_star() -> None:
    assert Pattern.parse("/a**b***").pieces == Pattern.parse("/a*b*").pieces == ("/a", "b", "")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "empty"),
        ("x" * (MAX_PATTERN_CHARS + 1), "longer than 1000"),
        ("/a b", "' '"),
        ("/caf\u00e9", "'é'"),
        ("https://bücher.example/", "'ü'"),
        ("/a#b", "'#'"),
        ("/<script>", "'<'"),
        ("/a\tb", "'\\t'"),
        ("//cdn.example.com/*", "starts with '//'"),
        ("example.com/*", "never match"),
        ("HTTPS://example.com/*", "never match"),
        ("ftp://example.com/*", "never match"),
        ("www.*", "never match"),
    ],
)
def test_a_pattern_that_could_never_match_is_refused_by_name(pattern: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(why)) as refused:
        Pattern.parse(pattern)
    assert refused.value.code == "invalid_pattern"
    assert repr(pattern[:80])[:-1] in refused.value.message


@pytest.mark.parametrize("pattern", ["*", "h*", "http:*", "https://*", "*.example.com/*", "/", "/*", "/~user/%7E"])
def test_reasonable_patterns_are_accepted(pattern: str) -> None:
    assert Pattern.parse(pattern).text == pattern


def test_a_long_invalid_pattern_is_named_shortly() -> None:
    with pytest.raises(InvalidInput) as refused:
        Pattern.parse("/" + "a" * 5000 + " ")
    assert len(refused.value.message) < 300


def test_the_filter_follows_what_an_include_matches_and_no_exclude_does() -> None:
    rules = PatternFilter.parse(include=["/docs/*", "/blog/*"], exclude=["*.pdf", "/docs/private/*"])
    assert rules.allows(crawl_key("https://example.com/docs/intro"))
    assert rules.allows(crawl_key("https://example.com/blog/2024/post"))
    assert not rules.allows(crawl_key("https://example.com/shop/"))
    assert not rules.allows(crawl_key("https://example.com/docs/manual.pdf"))
    assert not rules.allows(crawl_key("https://example.com/docs/private/keys"))


def test_no_include_pattern_means_everything_not_excluded() -> None:
    assert PatternFilter.parse().allows(crawl_key("https://example.com/any"))
    rules = PatternFilter.parse(exclude=["*?*"])
    assert rules.allows(crawl_key("https://example.com/page"))
    assert not rules.allows(crawl_key("https://example.com/page?sort=asc"))


def test_the_filter_names_the_first_invalid_pattern() -> None:
    with pytest.raises(InvalidInput, match="'/ok/ bad'"):
        PatternFilter.parse(include=["/fine/*"], exclude=["/ok/ bad", "also bad"])


# A reference: the same glob as a Python regular expression (fine at these sizes; never for user input).
def reference(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text, re.DOTALL) is not None


ALPHABET = "ab/*"


@settings(max_examples=3000)
@given(glob=st.text(ALPHABET, max_size=8), text=st.text("ab/", max_size=12))
def test_the_linear_matcher_agrees_with_a_regular_expression(glob: str, text: str) -> None:
    pattern = Pattern("/" + glob, path_only=True, pieces=tuple(re.split(r"\*+", "/" + glob)))
    assert pattern.matches_text("/" + text) is reference("/" + glob, "/" + text)


HOSTILE = "*a*a*a*a*a*a*a*a*a*a*b"


@pytest.mark.parametrize("last", ["a", "b"])
def test_a_hostile_pattern_on_a_long_url_is_decided(last: str) -> None:
    # A backtracking engine needs about 100,000**10 steps: it would hold this test until its timeout. The linear
    # matcher takes milliseconds; bench/bench_patterns.py measures it against a linear baseline.
    key = crawl_key("https://example.com/" + "a" * 100_000 + last)
    assert Pattern.parse(HOSTILE).matches(key) is (last == "b")


def test_long_pieces_on_a_long_url_are_decided() -> None:
    """Pieces that almost match everywhere (the worst case of a naive substring search; bench/bench_patterns.py)."""
    piece = "a" * 400 + "b"
    pattern = Pattern.parse(f"*{piece}*{piece}*")
    key = crawl_key("https://example.com/" + "a" * 200_000)
    assert not pattern.matches(key)
