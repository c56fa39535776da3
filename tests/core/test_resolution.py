"""Resolving hrefs: the fast path for plain hrefs must give exactly what the URL parser (ada) gives."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkcast.core.encoding import lookup
from linkcast.core.resolution import HrefJoiner, _FastPath, resolve

UTF8 = lookup("utf-8")
assert UTF8 is not None
BASES = [
    "https://example.org/docs/dir/page.html",
    "https://example.org/docs/dir/",
    "http://example.org/",
    "http://user:pw@example.org:8080/a/b?q=1#frag",
    "https://example.org/a/b/c/d/e/f.html?x",
    "http://127.0.0.1:8123/c/x/dir/page.html?id=7&mode=full",
]
PIECES = [
    "a", "B", "z9", "0", "1", "-", "_", "~", ".", "..", "./", "../", "/", "//", "?", "#", ":", "@", "!", "$", "&",
    "(", ")", "*", "+", ",", ";", "=", "http:", "https:", "HTTP:", "http://", "https://", "0x", "xn--", "com",
    "example", ".com", "localhost", "%", "%2e", " ", "é", "\\", "|", "'", ":80", ":8080", "1.2.3.4", "4294967295",
    "mailto:", "javascript:", "data:", "Http:", "ftp:", "x+y.z:", "http://127.0.0.1:8123", "//127.0.0.1:8123",
    "http://example.org", "//example.org", "http://user:pw@example.org:8080", "\t", "\n",
]  # fmt: skip
HREFS = st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), href=HREFS)
def test_the_fast_path_agrees_with_the_url_parser(base: str, href: str) -> None:
    fast = _FastPath.for_base(base)
    assert fast is not None
    answer = fast.resolve(href)
    if answer is not None:  # "" means: certainly no http(s) link
        assert (answer or None) == resolve(base, href, UTF8), href


@pytest.mark.parametrize(
    "href",
    ["/a/b.html", "b.html", "../c/", "../../../../d", "./e?x=1#y", "#top", "?q=1", "", "//cdn.example.com/x.js",
     "https://example.com", "http://example.com/p?q#f", "https://example.org/same/origin", "//example.org/x"],
)  # fmt: skip
def test_the_fast_path_takes_the_common_shapes(href: str) -> None:
    base = BASES[0]
    fast = _FastPath.for_base(base)
    assert fast is not None and fast.resolve(href) == resolve(base, href, UTF8)


@pytest.mark.parametrize(
    "href",
    ["/a/../b", "./.x", "http://1.2.3.4/", "http://EXAMPLE.com/", "http://a.com:80/", "/a b", "/%2e%2e/",
     "http://xn--bcher-kva.example/", "http://a.0x10/", "/a|b", "HTTP:x"],
)  # fmt: skip
def test_the_fast_path_leaves_the_hard_shapes_to_the_parser(href: str) -> None:
    fast = _FastPath.for_base(BASES[0])
    assert fast is not None and fast.resolve(href) is None


@pytest.mark.parametrize("href", ["mailto:a@example.com", "javascript:void(0)", "data:,x", "tel:1", "Ftp://x/", "a:b"])
def test_the_fast_path_drops_other_schemes_without_the_parser(href: str) -> None:
    fast = _FastPath.for_base(BASES[0])
    assert fast is not None and fast.resolve(href) == "" and resolve(BASES[0], href, UTF8) is None


def test_without_a_base_only_absolute_hrefs_resolve() -> None:
    joiner = HrefJoiner(None, UTF8)
    assert joiner.resolve("/relative") is None
    assert joiner.resolve("https://example.com/a") == "https://example.com/a"


def test_a_base_of_many_segments_costs_memory_in_proportion() -> None:
    # Every directory of the base was made ahead, each a copy of its path: 15,000 segments (a 30 KB page's
    # <base href>) took 230 MB and 1.3 s. Now each href that climbs finds its own.
    base = "https://example.org" + "/a" * 15_000 + "/page.html"
    tracemalloc.start()
    try:
        fast = _FastPath.for_base(base)
        assert fast is not None
        hrefs = ["x", "./x", "../x", "../../../x?q", "../" * 14_999 + "x", "../" * 20_000 + "x"]
        answers = {href: fast.resolve(href) for href in hrefs}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answers == {href: resolve(base, href, UTF8) for href in hrefs}
    assert answers["../" * 20_000 + "x"] == "https://example.org/x"
    assert peak < 40 * len(base)
