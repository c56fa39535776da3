"""A crawl's options: every default filled in, anything wrong refused with a stable code, one canonical form."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.core.errors import InvalidInput
from linkcast.crawl.scope import SCOPE_KINDS, ScopeKind
from linkcast.crawl.spec import (
    DEFAULT_MAX_PAGES_CAP,
    MAX_DEPTH,
    MAX_PATTERNS,
    MAX_SEEDS,
    MAX_WILDCARDS,
    CrawlSpec,
)

SEED = "https://example.com/"


def crawl(payload: dict[str, Any]) -> CrawlSpec:
    return CrawlSpec.from_json(payload, max_pages_cap=10_000)


def refused(payload: Any, code: str, *, cap: int = 10_000) -> str:
    """The message of the error ``payload`` is refused with, after checking its code."""
    with pytest.raises(InvalidInput) as error:
        CrawlSpec.from_json(payload, max_pages_cap=cap)
    assert error.value.code == code, error.value.message
    assert error.value.http_status == 400
    return error.value.message


def test_one_url_is_a_whole_crawl_with_every_default() -> None:
    spec = CrawlSpec.from_json({"url": SEED}, max_pages_cap=10_000)
    assert spec.to_json() == {
        "urls": [SEED],
        "max_depth": 1,
        "max_pages": 100,
        "scope": "same-host",
        "include": [],
        "exclude": [],
        "respect_robots": True,
        "sitemaps": False,
    }


def test_the_servers_default_cap_is_ten_thousand() -> None:
    assert DEFAULT_MAX_PAGES_CAP == 10_000


def test_every_option_is_taken_as_given() -> None:
    payload = {
        "urls": [SEED, "https://example.org/start"],
        "max_depth": 0,
        "max_pages": 5,
        "scope": "same-site",
        "include": ["/docs/*"],
        "exclude": ["*.pdf"],
        "respect_robots": False,
        "sitemaps": True,
    }
    spec = CrawlSpec.from_json(payload, max_pages_cap=10)
    assert spec.to_json() == payload
    assert spec.scope is ScopeKind.SAME_SITE
    assert spec.patterns().allows("https://example.com/docs/a")
    assert not spec.patterns().allows("https://example.com/docs/a.pdf")


def test_url_and_urls_of_one_seed_are_the_same_crawl() -> None:
    one = CrawlSpec.from_json({"url": "HTTPS://Example.com:443#top"}, max_pages_cap=100)
    same = CrawlSpec.from_json({"urls": [SEED], "max_depth": 1, "scope": "same-host"}, max_pages_cap=100)
    assert one == same
    assert one.to_json() == same.to_json()


def test_seeds_are_normalised_without_fragment_deduplicated_and_kept_in_order() -> None:
    spec = CrawlSpec.from_json(
        {"urls": ["https://b.example/x#1", "https://a.example/", "https://b.example/x#2", "https://B.example/x"]},
        max_pages_cap=100,
    )
    assert spec.seeds == ("https://b.example/x", "https://a.example/")


def test_patterns_are_deduplicated_and_sorted_since_their_order_means_nothing() -> None:
    one = CrawlSpec.from_json({"url": SEED, "include": ["/b/*", "/a/*", "/b/*"]}, max_pages_cap=100)
    other = CrawlSpec.from_json({"url": SEED, "include": ["/a/*", "/b/*"]}, max_pages_cap=100)
    assert one == other
    assert one.include == ("/a/*", "/b/*")


@pytest.mark.parametrize(
    "change",
    [
        {"max_depth": 2},
        {"max_pages": 99},
        {"scope": "same-origin"},
        {"include": ["/a/*"]},
        {"exclude": ["/a/*"]},
        {"respect_robots": False},
        {"sitemaps": True},
        {"urls": ["https://example.com/", "https://example.com/other"]},  # the order the crawl starts in
        {"urls": ["https://example.com/other"]},
    ],
)
def test_any_other_option_is_another_crawl(change: dict[str, Any]) -> None:
    base = {"urls": ["https://example.com/other", "https://example.com/"]}
    assert crawl(base).to_json() != crawl({**base, **change}).to_json()


@pytest.mark.parametrize(("typo", "meant"), [("max_page", "max_pages"), ("maxdepth", "max_depth"), ("url_", "url")])
def test_an_unknown_option_is_refused_with_a_suggestion(typo: str, meant: str) -> None:
    message = refused({"url": SEED, typo: 5}, "unknown_option")
    assert f'"{typo}"' in message and f"did you mean '{meant}'" in message


def test_an_unknown_option_far_from_any_is_named_without_suggestion() -> None:
    message = refused({"url": SEED, "colour": "blue"}, "unknown_option")
    assert '"colour"' in message and "did you mean" not in message
    assert "max_depth" in message and "webhook" in message  # the options it takes are listed, all of them


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_depth", True),
        ("max_depth", False),
        ("max_depth", 1.0),
        ("max_depth", "1"),
        ("max_depth", None),
        ("max_depth", -1),
        ("max_depth", MAX_DEPTH + 1),
        ("max_pages", 0),
        ("max_pages", True),
        ("max_pages", 2.5),
        ("max_pages", -5),
        ("scope", "same-domain"),
        ("scope", "SAME-HOST"),
        ("scope", 1),
        ("scope", None),
        ("respect_robots", 1),
        ("respect_robots", "true"),
        ("respect_robots", None),
        ("sitemaps", 0),
        ("include", "/a/*"),
        ("include", [1]),
        ("exclude", None),
        ("exclude", {"a": 1}),
    ],
)
def test_a_wrong_type_or_a_value_out_of_bounds_is_refused(option: str, value: object) -> None:
    message = refused({"url": SEED, option: value}, "invalid_option")
    assert f"'{option}'" in message


def test_the_bounds_themselves_are_accepted() -> None:
    assert crawl({"url": SEED, "max_depth": 0, "max_pages": 1}).max_depth == 0
    assert crawl({"url": SEED, "max_depth": MAX_DEPTH}).max_depth == MAX_DEPTH
    for kind in SCOPE_KINDS:
        assert crawl({"url": SEED, "scope": kind}).scope == kind


def test_max_pages_above_the_cap_is_refused_saying_the_cap_not_clamped() -> None:
    message = refused({"url": SEED, "max_pages": 501}, "max_pages_too_large", cap=500)
    assert "501" in message and "500" in message
    assert CrawlSpec.from_json({"url": SEED, "max_pages": 500}, max_pages_cap=500).max_pages == 500


def test_the_default_max_pages_never_exceeds_a_lower_cap() -> None:
    assert CrawlSpec.from_json({"url": SEED}, max_pages_cap=20).max_pages == 20


def test_a_cap_below_one_is_a_server_error_not_the_clients() -> None:
    with pytest.raises(ValueError):
        CrawlSpec.from_json({"url": SEED}, max_pages_cap=0)


def test_too_many_patterns_in_all_are_refused() -> None:
    half = MAX_PATTERNS // 2
    include = [f"/i{i}/*" for i in range(half)]
    exclude = [f"/e{i}/*" for i in range(MAX_PATTERNS - half)]
    assert crawl({"url": SEED, "include": include, "exclude": exclude})
    message = refused({"url": SEED, "include": include, "exclude": [*exclude, "/x"]}, "invalid_option")
    assert str(MAX_PATTERNS) in message


def test_too_many_wildcards_in_all_are_refused() -> None:
    """Each '*' is one more search per link of every page: 100 patterns of 499 '*' ('/*a*a*a…', 1,000 characters,
    each piece found in a link of a's) made judging one page of 20,000 such links take 440 s of the event loop."""
    hostile = ["/" + "*a" * 496 + f"*q{i:02d}*b" for i in range(MAX_PATTERNS)]
    message = refused({"url": SEED, "include": hostile}, "invalid_option")
    assert str(MAX_WILDCARDS) in message and "wildcards" in message
    one_long = ["/" + "*a" * MAX_WILDCARDS + "*"]
    refused({"url": SEED, "exclude": one_long}, "invalid_option")
    # Up to the bound in all, however the patterns share them ('**' is one).
    assert crawl({"url": SEED, "include": ["/" + "*a" * (MAX_WILDCARDS - 1) + "**"]})
    two_each = [f"/p{i}/*.html*" for i in range(MAX_PATTERNS)]
    assert crawl({"url": SEED, "include": two_each[:50], "exclude": two_each[50:]})


def test_an_invalid_pattern_is_refused_by_name() -> None:
    message = refused({"url": SEED, "exclude": ["/ok/*", "example.com/*"]}, "invalid_pattern")
    assert "'example.com/*'" in message


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "missing_url"),
        ({"max_depth": 2}, "missing_url"),
        ({"url": SEED, "urls": [SEED]}, "invalid_urls"),
        ({"urls": []}, "invalid_urls"),
        ({"urls": SEED}, "invalid_urls"),
        ({"urls": [SEED] * (MAX_SEEDS + 1)}, "invalid_urls"),
        ({"url": "ftp://example.com/"}, "invalid_url"),
        ({"url": "/relative"}, "invalid_url"),
        ({"url": 42}, "invalid_url"),
        ({"url": "https://example.com/" + "a" * 9000}, "url_too_long"),
        ([SEED], "invalid_body"),
        ("https://example.com/", "invalid_body"),
    ],
)
def test_seeds_are_checked_as_the_api_checks_urls(payload: Any, code: str) -> None:
    refused(payload, code)


def test_a_refused_seed_in_a_list_is_named_by_its_index() -> None:
    message = refused({"urls": [SEED, SEED, "javascript:alert(1)"]}, "invalid_url")
    assert message.startswith("urls[2]: ")


def test_a_thousand_seeds_are_accepted() -> None:
    urls = [f"https://example.com/{i}" for i in range(MAX_SEEDS)]
    assert len(crawl({"urls": urls}).seeds) == MAX_SEEDS


def test_a_seed_too_long_once_normalised_is_refused_so_the_canonical_form_is_accepted() -> None:
    url = "https://example.com/" + "é" * 4000  # 8,020 bytes as sent, 24,020 once percent-encoded
    refused({"url": url}, "url_too_long")


SEEDS = st.sampled_from(
    [
        "https://example.com/",
        "http://example.com:8080/a?b#c",
        "https://Bücher.example/ä ö",
        "http://0x7f.1/x/../y",
        "https://[::1]/",
        "https://example.com/a%2Fb?q=%7e",
        "https://www.example.co.uk/#",
    ]
)
PATTERNS = st.sampled_from(["*", "/a/*", "*.pdf", "/search?q=*", "https://example.com/*", "http*://*.example/*"])


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    seeds = draw(st.lists(st.one_of(SEEDS, st.text(max_size=20).map(lambda p: SEED + p)), min_size=1, max_size=5))
    if len(seeds) == 1 and draw(st.booleans()):
        payload["url"] = seeds[0]
    else:
        payload["urls"] = seeds
    options = {
        "max_depth": st.integers(0, MAX_DEPTH),
        "max_pages": st.integers(1, 1000),
        "scope": st.sampled_from(SCOPE_KINDS),
        "include": st.lists(PATTERNS, max_size=4),
        "exclude": st.lists(PATTERNS, max_size=4),
        "respect_robots": st.booleans(),
        "sitemaps": st.booleans(),
    }
    for name, values in options.items():
        if draw(st.booleans()):
            payload[name] = draw(values)
    return payload


@given(payload=payloads())
def test_the_canonical_form_gives_the_same_spec_back(payload: dict[str, Any]) -> None:
    spec = CrawlSpec.from_json(payload, max_pages_cap=1000)
    canonical = spec.to_json()
    assert CrawlSpec.from_json(canonical, max_pages_cap=1000) == spec
    assert orjson.loads(orjson.dumps(canonical)) == canonical  # plain JSON, storable as it is
