"""The decision for one discovered link: follow, or the one reason it is skipped, in a fixed order."""

from __future__ import annotations

from typing import Any

import pytest

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.crawl.rules import SKIP_REASONS, LinkRules, SkipReason
from linkcast.crawl.spec import CrawlSpec


def rules(**options: Any) -> LinkRules:
    return LinkRules.for_spec(CrawlSpec.from_json({"url": "https://example.com/start", **options}, max_pages_cap=100))


def test_the_skip_reasons_are_the_ones_the_service_shares() -> None:
    assert SKIP_REASONS == ("robots", "scope", "pattern", "depth", "page_limit", "duplicate")
    assert SkipReason("page_limit") is SkipReason.PAGE_LIMIT
    assert SkipReason.SCOPE == "scope"  # a str: it goes into events as it is


def test_a_link_in_scope_within_depth_and_patterns_is_followed() -> None:
    assert rules().skip_reason("https://example.com/next", depth=1) is None


def test_depth_zero_follows_no_link() -> None:
    assert rules(max_depth=0).skip_reason("https://example.com/next", depth=1) is SkipReason.DEPTH


def test_a_link_deeper_than_max_depth_is_skipped_for_depth() -> None:
    deep = rules(max_depth=3)
    assert deep.skip_reason("https://example.com/a", depth=3) is None
    assert deep.skip_reason("https://example.com/a", depth=4) is SkipReason.DEPTH


def test_a_link_outside_the_scope_is_skipped_for_scope() -> None:
    assert rules().skip_reason("https://www.example.com/", depth=1) is SkipReason.SCOPE
    assert rules(scope="same-site").skip_reason("https://www.example.com/", depth=1) is None
    assert rules(scope="any").skip_reason("https://elsewhere.test/", depth=1) is None


def test_a_link_that_is_no_http_url_is_out_of_scope() -> None:
    for link in ("mailto:a@example.com", "ftp://example.com/", "not a url"):
        assert rules(scope="any").skip_reason(link, depth=1) is SkipReason.SCOPE


def test_a_link_the_patterns_refuse_is_skipped_for_pattern() -> None:
    filtered = rules(include=["/docs/*"], exclude=["*.pdf"])
    assert filtered.skip_reason("https://example.com/docs/intro", depth=1) is None
    assert filtered.skip_reason("https://example.com/blog/", depth=1) is SkipReason.PATTERN
    assert filtered.skip_reason("https://example.com/docs/a.pdf", depth=1) is SkipReason.PATTERN


def test_patterns_see_the_link_without_its_fragment() -> None:
    assert rules(include=["/docs/intro"]).skip_reason("https://example.com/docs/intro#part-2", depth=1) is None
    assert rules(include=["https://example.com/docs/*"]).skip_reason("HTTPS://EXAMPLE.COM/docs/#", depth=1) is None


@pytest.mark.parametrize(
    ("link", "depth", "reason"),
    [
        ("https://elsewhere.test/a.pdf", 9, SkipReason.DEPTH),  # every check fails: depth comes first
        ("https://elsewhere.test/a.pdf", 1, SkipReason.SCOPE),  # scope before pattern
        ("https://example.com/a.pdf", 1, SkipReason.PATTERN),
    ],
)
def test_the_first_failing_check_is_the_reason(link: str, depth: int, reason: SkipReason) -> None:
    assert rules(max_depth=2, exclude=["*.pdf"]).skip_reason(link, depth) is reason


def test_a_link_longer_than_a_url_the_api_takes_is_out_of_scope() -> None:
    base = "https://example.com/?q="
    longest = base + "a" * (MAX_URL_BYTES - len(base))
    assert rules().skip_reason(longest, depth=1) is None
    assert rules(scope="any").skip_reason(longest + "a", depth=1) is SkipReason.SCOPE
    assert rules().skip_reason(base + "a" * 2_000_000, depth=1) is SkipReason.SCOPE  # what a page may hold
