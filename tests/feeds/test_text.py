"""HTML to plain text: the parser-free path for plain tags gives exactly lexbor's answer, or declines."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from linkcast.feeds import text


def lexbor_text(markup: str) -> str | None:
    tree = LexborHTMLParser(markup)
    tree.strip_tags(text._NOT_TEXT)
    tree.unwrap_tags(text._INLINE, delete_empty=True)
    tree.merge_text_nodes()
    return text.collapse(tree.body.text(separator=" ") if tree.body is not None else "", 10_000)


PIECES = [
    "<p>", "</p>", "<b>", "</b>", "<a href='x'>", "</a>", "<br>", "<br/>", "<div class=\"c\">", "</div>", "<span>",
    "</span>", "<img src=x alt='y'>", "<li>", "<ul>", "</ul>", "<em>", "</em>", "<table>", "<td>", "<script>",
    "</script>", "<!-- c -->", "<x-custom>", "<a title='>'>", "<p a=\"b'c\">", "<i", " ", "\n", "word", "a < b",
    "&amp;", "&nbsp;", "&lt;b&gt;", "&notit;", "&#x80;", "&#0;", "&copy", "é", "<", ">", "'", '"', "=", "/",
    "<a x=b/>", "<i x=a/b=c>", "<b x=/", "<a ",
]  # fmt: skip


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join))
def test_the_parser_free_path_agrees_with_lexbor_or_declines(markup: str) -> None:
    simple = text._simple_text(markup)
    if simple is not None:
        assert text.collapse(simple, 10_000) == lexbor_text(markup), markup
    assert text.html_text(markup, 10_000) == lexbor_text(markup) or not text.looks_like_html(markup)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("word<span></span>word", "wordword"),
        ("word<b><span></span></b>word", "wordword"),
        ("w<a href='x'></a>ord", "word"),
    ],
)
def test_an_empty_inline_element_does_not_split_a_word(markup: str, expected: str) -> None:
    assert text.html_text(markup, 100) == expected  # the parser-free path
    assert text.html_text(markup + "<!-- a comment: lexbor's path -->", 100) == expected


def test_markup_is_stripped_as_a_browser_reads_it() -> None:
    assert text.html_text("<p>Hello&nbsp;<b>big</b>er &amp; world</p><script>x()</script><p>two<br>three", 100) == (
        "Hello biger & world two three"
    )
    assert text.html_text("a < b", 100) == "a < b"
    assert text.html_text("<table><tr><td>cell</td></tr></table>text", 100) == "cell text"
    assert text.html_text("<p>" + "x" * 50, 10) == "x" * 10
    assert text.html_text("<p> </p>", 10) is None


@pytest.mark.parametrize(
    "markup",
    [
        "<p>" + "<a " * 5_400,  # a tag that never ends, its attribute names each starting one more
        "<p>" + "<a x=" + "b/" * 8_000,  # an unquoted value with a "/" every other character, never ended
        "<p>" + "<i x=b/" * 2_300,
    ],
)
def test_hostile_tags_are_declined_by_the_parser_free_path(markup: str) -> None:
    # 16 KiB of these took 1 to 3 s in the pattern (each "/" a place to end the value, each "<" a place to try again),
    # holding the GIL in the thread that reads a small feed, so the event loop too. Now about 2 ms
    # (bench/bench_complexity.py).
    assert text._simple_text(markup) is None  # declined: lexbor reads it
    assert text.html_text(markup, 10_000) == lexbor_text(markup)
