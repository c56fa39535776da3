"""Scope: which links a crawl follows, judged against its seeds by host, origin, site (Public Suffix List) or not."""

from __future__ import annotations

import ada_url
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.crawl.scope import SCOPE_KINDS, Scope, ScopeKind, registrable_domain
from linkcast.crawl.urls import site_of_key


def test_the_scope_names_are_those_of_the_api() -> None:
    assert SCOPE_KINDS == ("same-host", "same-origin", "same-site", "any")


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://example.com/other", True),
        ("http://example.com/", True),
        ("https://example.com:8443/", True),
        ("https://EXAMPLE.com/a#x", True),
        ("https://www.example.com/", False),
        ("https://sub.example.com/", False),
        ("https://example.org/", False),
        ("https://example.com.evil.test/", False),
        ("ftp://example.com/", False),
        ("not a url", False),
    ],
)
def test_same_host_is_the_exact_host_of_a_seed(url: str, inside: bool) -> None:
    assert Scope.for_seeds("same-host", ["https://example.com/start"]).contains(url) is inside


def test_same_host_takes_the_host_of_every_seed() -> None:
    scope = Scope.for_seeds("same-host", ["https://a.example/", "https://b.example/x"])
    assert scope.contains("https://a.example/1")
    assert scope.contains("https://b.example/2")
    assert not scope.contains("https://c.example/")


def test_an_idn_seed_covers_its_punycode_spelling() -> None:
    scope = Scope.for_seeds("same-host", ["https://Bücher.example/"])
    assert scope.contains("https://xn--bcher-kva.example/a")
    assert scope.contains("https://BÜCHER.example/b")


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://example.com/other?q", True),
        ("https://example.com:443/", True),
        ("http://example.com/", False),
        ("https://example.com:8443/", False),
        ("https://www.example.com/", False),
    ],
)
def test_same_origin_is_scheme_host_and_port_of_a_seed(url: str, inside: bool) -> None:
    assert Scope.for_seeds("same-origin", ["https://example.com/"]).contains(url) is inside


def test_same_origin_applies_default_ports() -> None:
    scope = Scope.for_seeds("same-origin", ["http://example.com:80/"])
    assert scope.contains("http://example.com/")
    assert not scope.contains("http://example.com:8080/")


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://example.co.uk/", True),
        ("http://deep.www.example.co.uk:8080/", True),
        ("https://example.co.uk./", True),
        ("https://other.co.uk/", False),
        ("https://co.uk/", False),
        ("https://example.com/", False),
    ],
)
def test_same_site_is_the_registrable_domain_of_a_seed(url: str, inside: bool) -> None:
    assert Scope.for_seeds("same-site", ["https://www.example.co.uk/"]).contains(url) is inside


def test_same_site_honours_the_private_section_of_the_list() -> None:
    scope = Scope.for_seeds("same-site", ["https://alice.github.io/"])
    assert scope.contains("https://www.alice.github.io/")
    assert not scope.contains("https://bob.github.io/")
    assert not scope.contains("https://github.io/")


def test_same_site_of_a_public_suffix_is_that_host_alone() -> None:
    scope = Scope.for_seeds("same-site", ["https://github.io/"])
    assert scope.contains("https://github.io/other")
    assert not scope.contains("https://alice.github.io/")


def test_same_site_of_an_ip_address_is_that_address_alone() -> None:
    scope = Scope.for_seeds("same-site", ["http://192.0.2.1/", "http://[2001:db8::1]/"])
    assert scope.contains("http://192.0.2.1:8080/")
    assert scope.contains("http://0xc0.0.2.1/")  # the same address, as the URL standard reads it
    assert scope.contains("http://[2001:db8:0::1]/")
    assert not scope.contains("http://192.0.2.2/")
    assert not scope.contains("http://10.0.2.1/")  # sharing "2.1" is no registrable domain


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("www.example.com", "example.com"),
        ("example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("example.com.", "example.com"),
        ("www.xn--fiqs8s", "www.xn--fiqs8s"),  # 中国 is a TLD
        ("a.b.xn--fiqs8s", "b.xn--fiqs8s"),
        ("x.city.kawasaki.jp", "city.kawasaki.jp"),  # an exception rule (!city.kawasaki.jp)
        ("a.kawasaki.jp", "a.kawasaki.jp"),  # *.kawasaki.jp: a.kawasaki.jp is itself a public suffix
        ("com", "com"),
        ("localhost", "localhost"),
        ("a.unknown-tld", "a.unknown-tld"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
    ],
)
def test_a_registrable_domain_follows_the_public_suffix_list(host: str, site: str) -> None:
    assert registrable_domain(host) == site


def test_any_scope_contains_every_http_url_and_nothing_else() -> None:
    scope = Scope.for_seeds(ScopeKind.ANY, ["https://example.com/"])
    assert scope.contains("http://elsewhere.test:1234/x")
    assert not scope.contains("mailto:a@example.com")
    assert not scope.contains("/relative")


def test_a_scope_refuses_an_unknown_kind_or_a_seed_that_is_no_http_url() -> None:
    with pytest.raises(ValueError):
        Scope.for_seeds("same-planet", ["https://example.com/"])
    with pytest.raises(ValueError):
        Scope.for_seeds("same-host", ["ftp://example.com/"])


HOSTS = [
    "example.com", "www.example.com", "a.github.io", "b.github.io", "github.io", "127.0.0.1", "[::1]", "0x7f.1",
    "Bücher.example", "EXAMPLE.COM.",
]  # fmt: skip
SEEDS = ["https://www.example.com/", "http://a.github.io:8080/x", "https://[::1]/", "http://127.0.0.1:81/"]


@given(
    scheme=st.sampled_from(["http", "https", "ftp", "HTTPS"]),
    user=st.sampled_from(["", "u@", "u:p@", "a%40b:c@"]),
    host=st.sampled_from(HOSTS),
    port=st.sampled_from(["", ":80", ":443", ":8080", ":81"]),
    rest=st.text(st.characters(min_codepoint=0x21, exclude_categories=["Cs"]), max_size=20),
    kind=st.sampled_from(SCOPE_KINDS),
)
def test_a_serialised_url_is_judged_and_sited_as_its_parse_is(
    scheme: str, user: str, host: str, port: str, rest: str, kind: str
) -> None:
    try:
        parsed = ada_url.URL(f"{scheme}://{user}{host}{port}/{rest}")
    except ValueError:
        return
    href = parsed.href
    scope = Scope.for_seeds(kind, SEEDS)
    assert scope.contains_serialised(href) == scope.contains(href), href
    assert site_of_key(href) == str(parsed.origin), href  # the site whose robots.txt speaks for it
