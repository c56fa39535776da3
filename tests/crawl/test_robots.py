"""RFC 9309 corner cases beyond Google's suite, and properties of the matcher (hypothesis)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkcast.crawl.robots import (
    ALLOW_ALL,
    DISALLOW_ALL,
    ROBOTS_PARSE_LIMIT,
    WILDCARD_BUDGET,
    canonical_octets,
    parse_robots,
    product_token,
)


def allows(text: str | bytes, path: str, token: str = "linkcast") -> bool:
    return parse_robots(text.encode() if isinstance(text, str) else text).allows(path, token)


def test_a_utf8_bom_before_the_first_record_is_skipped() -> None:
    assert not allows(b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "/a")


def test_junk_lines_are_ignored_and_counted() -> None:
    junk = b"<html>\nDisallow /a /c\nfoo bar baz\nNoSuchRecord: x\n\x00\xff\n"
    robots = parse_robots(b"User-agent: *\n" + junk + b"Disallow: /b\n")
    assert robots.allows("/a", "x") and robots.allows("/c", "x") and not robots.allows("/b", "x")
    assert robots.ignored_lines == 5


@pytest.mark.parametrize("separator", [" ", "\t", " \t "])
def test_a_forgotten_colon_between_two_words_is_forgiven(separator: str) -> None:
    robots = parse_robots(f"User-agent{separator}x\nDisallow{separator}/a\nCrawl-delay{separator}3\n".encode())
    assert not robots.allows("/a", "x") and robots.allows("/b", "x") and robots.allows("/a", "y")
    assert robots.crawl_delay("x") == 3 and robots.ignored_lines == 0


def test_comments_are_cut_from_every_line() -> None:
    robots = "User-agent: * # everyone\n# Disallow: /\nDisallow: /a # not /a# \nAllow: /a/b#\n"
    assert not allows(robots, "/a/c") and allows(robots, "/a/b") and allows(robots, "/b")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_end_separates_records(newline: str) -> None:
    robots = newline.join(["User-agent: a", "Disallow: /x", "User-agent: b", "Disallow: /y"])
    assert not allows(robots, "/x", "a") and allows(robots, "/y", "a") and not allows(robots, "/y", "b")


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/a%2fb", "/a%2Fb"),  # the case of an escape's hex digits does not matter
        ("/a%2Fb", "/a%2fb"),
        ("/%7Euser", "/~user"),  # unreserved octets are compared decoded
        ("/~user", "/%7euser"),
        ("/caf%C3%A9", "/café"),  # non-ASCII is compared UTF-8 percent-encoded
        ("/café", "/caf%c3%a9"),
        ("/a%20b", "/a b"),  # as is an octet that may not appear in a URI
        ("/%2A", "/*"),  # RFC 9309 2.2.3: a literal '*' is matched by writing it %2A
        ("/price%24", "/price$"),
    ],
)
def test_percent_encoding_equivalents_match(pattern: str, path: str) -> None:
    assert not allows(f"User-agent: *\nDisallow: {pattern}$\n", path)


@pytest.mark.parametrize(("pattern", "path"), [("/a%2Fb", "/a/b"), ("/a/b", "/a%2Fb"), ("/a%3Fb", "/a?b")])
def test_an_escaped_reserved_character_is_not_its_delimiter(pattern: str, path: str) -> None:
    assert allows(f"User-agent: *\nDisallow: {pattern}\n", path)


# RFC 9309 2.2.2's table: each path, its encoded form and the path matched are one path, whichever spelling the rule
# and the URL use.
RFC_TABLE = [
    ("/foo/bar?baz=quz", "/foo/bar?baz=quz", "/foo/bar?baz=quz"),
    ("/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"),
    ("/foo/bar/ツ", "/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"),
    ("/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"),
    ("/foo/bar/%62%61%7A", "/foo/bar/%62%61%7A", "/foo/bar/baz"),
]


@pytest.mark.parametrize("row", RFC_TABLE, ids=[row[0] for row in RFC_TABLE])
def test_every_spelling_in_the_rfc_table_of_encodings_is_one_path(row: tuple[str, str, str]) -> None:
    for pattern in row:
        for path in row:
            assert not allows(f"User-agent: *\nDisallow: {pattern}$\n", path), (pattern, path)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [("/a?b=1%262", "/a?b=1&2"), ("/a?b%3D1", "/a?b=1"), ("/a?b=1%2B2", "/a?b=1+2"), ("/a?x%3By", "/a?x;y")],
)
def test_an_escaped_query_delimiter_is_not_that_delimiter(pattern: str, path: str) -> None:
    assert allows(f"User-agent: *\nDisallow: {pattern}\n", path)


def test_an_escaped_reserved_character_in_the_path_stays_apart_even_when_the_query_equates_it() -> None:
    robots = "User-agent: *\nDisallow: /a:b/*?next=/c:d\n"
    assert not allows(robots, "/a:b/x?next=%2Fc%3Ad")
    assert allows(robots, "/a%3Ab/x?next=/c:d")


def test_dollar_anchors_the_end_and_only_at_the_end() -> None:
    robots = "User-agent: *\nDisallow: /*.gif$\nDisallow: /a$b\n"
    assert not allows(robots, "/x/y.gif") and allows(robots, "/x/y.gif?z") and allows(robots, "/x/y.gifs")
    assert not allows(robots, "/a$bc")  # a '$' inside a pattern is a literal dollar
    assert allows(robots, "/ab")


def test_star_matches_any_run_including_none() -> None:
    robots = "User-agent: *\nDisallow: /a*b*c\n"
    assert not allows(robots, "/abc") and not allows(robots, "/aXXbYYcZZ") and allows(robots, "/acb")


def test_a_pattern_without_a_leading_slash_matches_from_the_first_octet() -> None:
    assert not allows("User-agent: *\nDisallow: *.gif$\n", "/a.gif")  # the RFC's own example (section 5.1)
    assert allows("User-agent: *\nDisallow: fish\n", "/fish")


def test_the_longest_pattern_decides_counted_in_octets() -> None:
    robots = "User-agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"  # RFC 9309 5.2
    assert not allows(robots, "/example/page/disallowed.gif", "foobot")
    assert allows(robots, "/example/page/other.gif", "foobot")
    # '/ツ' is 10 octets percent-encoded, longer than the 8 of '/abcdefg': the disallow wins.
    assert not allows("User-agent: *\nAllow: /*\nAllow: /abcdefg\nDisallow: /ツ\n", "/ツabcdefg")


def test_allow_wins_a_tie_between_equivalent_patterns() -> None:
    assert allows("User-agent: *\nDisallow: /%7Ea\nAllow: /~a\n", "/~a")
    assert allows("User-agent: *\nDisallow: /a*\nAllow: /a*\n", "/ab")


def test_the_group_is_chosen_by_product_token_case_insensitively() -> None:
    robots = "User-agent: *\nDisallow: /\n\nUser-agent: LinkCast/2.0 (+https://x)\nDisallow: /private\n"
    assert allows(robots, "/public", "linkcast") and not allows(robots, "/private", "LINKCAST")
    assert not allows(robots, "/public", "other")
    assert not allows(robots, "/public", "link")  # a token is matched whole, never as a prefix


def test_groups_naming_the_same_agent_are_merged_and_star_is_then_ignored() -> None:
    robots = "User-agent: a\nDisallow: /x\n\nUser-agent: *\nDisallow: /\n\nUser-agent: b\nUser-agent: A\nDisallow: /y\n"
    assert not allows(robots, "/x", "a") and not allows(robots, "/y", "a") and allows(robots, "/z", "a")
    assert allows(robots, "/x", "b") and not allows(robots, "/y", "b")


def test_other_records_end_no_group() -> None:
    robots = "User-agent: a\nCrawl-delay: 5\nSitemap: https://x/s.xml\nUser-agent: b\nDisallow: /\n"
    assert not allows(robots, "/p", "a") and not allows(robots, "/p", "b")


@pytest.mark.parametrize(("agent", "global_group"), [("*", True), ("* # all", True), ("* foo", True),
                                                     ("*bot", False), ("*/1.0", False), ("**", False)])  # fmt: skip
def test_only_a_lone_star_names_every_crawler(agent: str, global_group: bool) -> None:
    robots = f"User-agent: {agent}\nDisallow: /\n"
    assert allows(robots, "/x", "foobot") is not global_group


def test_robots_txt_itself_is_always_allowed() -> None:
    assert allows("User-agent: *\nDisallow: /\n", "/robots.txt")
    assert DISALLOW_ALL.allows("/robots.txt", "x") and not DISALLOW_ALL.allows("/robots.txt?x", "x")


def test_an_empty_disallow_allows_everything() -> None:
    assert allows("User-agent: *\nDisallow:\n", "/anything")
    assert allows("User-agent: *\nDisallow: # nothing\n", "/anything")


def test_allow_all_and_disallow_all_are_what_they_say() -> None:
    assert ALLOW_ALL.allows("/a", "x") and not DISALLOW_ALL.allows("/a", "x") and not DISALLOW_ALL.allows("/", "x")


def test_the_fragment_is_never_matched() -> None:
    assert allows("User-agent: *\nDisallow: /a#b\n", "/x#y") and not allows("User-agent: *\nDisallow: /a\n", "/a#b")


def test_only_the_first_500_kib_are_parsed_in_whole_lines() -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    filler = b"# " + b"x" * 98 + b"\n"
    body = head + filler * ((ROBOTS_PARSE_LIMIT - len(head)) // len(filler))
    late = b"Disallow: /late-and-longer\n"
    assert len(body) <= ROBOTS_PARSE_LIMIT < len(body + late)
    robots = parse_robots(body + late)
    assert robots.truncated and not robots.allows("/early", "x") and robots.allows("/late-and-longer", "x")
    # A line cut by the limit is dropped rather than read short: "Disallow: /" would disallow everything.
    cut = body[: ROBOTS_PARSE_LIMIT - len(b"Disallow: /")] + b"Disallow: /only-this\n"
    assert len(cut) > ROBOTS_PARSE_LIMIT and parse_robots(cut).allows("/other", "x")
    assert not parse_robots(body).truncated


def test_crawl_delay_is_read_per_group_and_the_largest_of_merged_groups_applies() -> None:
    robots = parse_robots(
        b"User-agent: a\nCrawl-delay: 2\nDisallow:\nUser-agent: *\nCrawl-delay: 0.5\nDisallow:\n"
        b"User-agent: a\nCrawl-delay: 7.5\nDisallow:\nUser-agent: b\nCrawl-delay: soon\nDisallow:\n"
        b"User-agent: c\nCrawl-delay: inf\nCrawl-delay: -1\nCrawl-delay: 1e3\n"
    )
    assert robots.crawl_delay("a") == 7.5 and robots.crawl_delay("other") == 0.5
    assert robots.crawl_delay("b") is None and robots.crawl_delay("c") is None


def test_sitemaps_are_kept_in_order_wherever_they_are() -> None:
    robots = parse_robots(b"Sitemap: https://a/1.xml\nUser-agent: *\nsitemap:https://a/2.xml # two\nSITEMAP: \n")
    assert robots.sitemaps == ("https://a/1.xml", "https://a/2.xml")


def test_product_token_of_a_user_agent_string() -> None:
    assert product_token("linkcast/0.1") == "linkcast"
    assert product_token("Mozilla/5.0 (compatible; Foo-Bot_2/1.0)") == "Mozilla"
    assert product_token("/1.0") == "" and product_token("*") == ""


HOSTILE = "/" + "*a" * 10 + "*b"


def test_a_hostile_wildcard_pattern_is_matched_correctly_and_fast() -> None:
    robots = parse_robots(f"User-agent: *\nDisallow: {HOSTILE}\n".encode())
    no_b = "/" + "a" * 100_000
    with_b = no_b + "b"
    started = time.perf_counter()
    assert robots.allows(no_b, "x") and not robots.allows(with_b, "x")
    assert time.perf_counter() - started < 0.5  # a backtracking regex takes hours on these
    assert robots.allows("/" + "a" * 9 + "b", "x") and not robots.allows("/" + "a" * 10 + "b", "x")


def reference_match(pattern: str, path: str) -> bool:
    """The obvious (backtracking) meaning of a robots.txt pattern, for short inputs only."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(piece) for piece in body.split("*")) + ("$" if anchored else "")
    return re.match(regex, path, re.DOTALL) is not None


PATTERN_ALPHABET = st.sampled_from("ab/*")
RESERVED = set(":/?#[]@!$&'()*+,;=%")
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))


@settings(max_examples=500, deadline=None)
@given(st.text(PATTERN_ALPHABET, min_size=1, max_size=12), st.booleans(), st.text("ab/", max_size=16))
def test_the_segment_matcher_agrees_with_the_backtracking_meaning(body: str, anchored: bool, tail: str) -> None:
    pattern = "/" + body + ("$" if anchored else "")
    path = "/" + tail
    assert allows(f"User-agent: *\nDisallow: {pattern}\n", path) is not reference_match(pattern, path)


RULE = st.tuples(st.booleans(), st.text(PATTERN_ALPHABET, max_size=6), st.booleans())


@settings(max_examples=500, deadline=None)
@given(st.lists(RULE, min_size=1, max_size=8), st.text("ab/", max_size=10))
def test_the_indexed_rules_decide_as_the_most_specific_matching_rule(
    rules: list[tuple[bool, str, bool]], tail: str
) -> None:
    """Rules without '*' are looked up, not scanned: the verdict is still the RFC's, the longest matching pattern
    (in octets, '*' and '$' counted) with allow winning a tie, found here by trying every rule."""
    patterns = [(allow, "/" + body + ("$" if anchored else "")) for allow, body, anchored in rules]
    path = "/" + tail
    matching = [(len(pattern), allow) for allow, pattern in patterns if reference_match(pattern, path)]
    expected = max(matching)[1] if matching else True  # max: the longest, and at equal length True (allow) wins
    text = "User-agent: *\n" + "".join(
        f"{'Allow' if allow else 'Disallow'}: {pattern}\n" for allow, pattern in patterns
    )
    assert allows(text, path) is expected


def test_thousands_of_plain_rules_are_decided_exactly() -> None:
    text = "User-agent: *\nDisallow: /\n" + "".join(f"Allow: /p{n}/\nDisallow: /p{n}/x$\n" for n in range(12_000))
    robots = parse_robots(text.encode())
    assert (
        not robots.truncated
        and robots.allows("/p11999/a", "x")
        and robots.allows("/p7/x/y", "x")
        and robots.allows("/p7/xy", "x")
    )
    assert not robots.allows("/p7/x", "x") and not robots.allows("/p12000/a", "x") and not robots.allows("/q", "x")


def test_past_its_budget_a_check_of_wildcard_rules_refuses_the_url() -> None:
    """A file of '*' rules none of which match: every one would be tried for every URL of a crawl. Up to the budget
    they are, and the verdict is exact; past it the URL is refused, the polite answer."""
    path = "/a/b"  # shorter than 64 octets: a rule tried costs its segments alone
    rules = WILDCARD_BUDGET // 2  # each '/*zN' is two segments: '/' and 'zN'
    within = "User-agent: *\n" + "".join(f"Disallow: /*z{n}\n" for n in range(rules))
    assert allows(within, path) and not allows(within, f"/a/z{rules - 1}")
    beyond = within + "Disallow: /*y\n"
    assert not allows(beyond, path)
    # A more specific plain rule decides before any shorter '*' rule is tried.
    assert allows(beyond + "Allow: /a/b/c/d/e/f\n", "/a/b/c/d/e/f")
    # A long path costs more a rule (one more per 64 octets): fewer rules fit the budget.
    long_path = "/a" * 1_000
    fit = WILDCARD_BUDGET // (2 + len(long_path) // 64)
    assert allows(within[: within.index(f"Disallow: /*z{fit}\n")], long_path)
    assert not allows(within[: within.index(f"Disallow: /*z{fit + 1}\n")], long_path)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
@example("%00")  # an escape already in the path: escaping its digits would make it text
def test_percent_encoding_is_idempotent_and_equivalent_spellings_agree(path: str) -> None:
    once = canonical_octets(path)
    assert canonical_octets(once) == once
    # Escaping what needs no escape (unreserved and non-ASCII characters), in either case, changes nothing. An
    # escape already there ("%4a") is left whole, and so is '%': escaping either would make an escape into text.
    pieces = re.split(r"(%[0-9A-Fa-f]{2})", path)
    escaped = "".join(piece if n % 2 else "".join(_escaped(char) for char in piece) for n, piece in enumerate(pieces))
    assert canonical_octets(escaped) == once


def _escaped(char: str) -> str:
    if char in RESERVED or char == "%":
        return char
    return "".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(st.text(PRINTABLE, max_size=20), st.text(PRINTABLE, max_size=20))
def test_a_pattern_matches_a_path_exactly_when_the_path_matches_the_pattern_spelt_the_other_way(a: str, b: str) -> None:
    """Equivalence is symmetric: writing the rule as the path was spelt and the path as the rule was gives the same."""
    pattern, path = "/" + a.replace("*", "").replace("$", "").replace("#", ""), "/" + b.replace("#", "")
    forward = allows(f"User-agent: *\nDisallow: {pattern}$\n", path)
    backward = allows(f"User-agent: *\nDisallow: {path.replace('*', '%2A').replace('$', '%24')}$\n", pattern)
    assert forward == backward


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30), st.integers(1_000, 50_000))
def test_a_pattern_of_many_wildcards_is_decided_on_long_paths(stars: int, length: int) -> None:
    # A backtracking matcher tries every placement of the a's (length**stars steps) and holds the test until its
    # timeout; bench/bench_robots.py measures how the linear matcher's time grows with the path.
    pattern = "/" + "*a" * stars + "*b"
    robots = parse_robots(f"User-agent: *\nDisallow: {pattern}\n".encode())
    assert robots.allows("/" + "a" * length, "x")
    assert not robots.allows("/" + "a" * length + "b", "x")
