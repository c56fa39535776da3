"""URL identity: one page is one crawl key, as the URL standard serialises it, and no more is normalised."""

from __future__ import annotations

import ada_url
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.crawl.urls import crawl_key, crawl_key_of_href, host_key, path_and_query


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a#", "https://example.com/a"),
        ("https://example.com/a?q=1#", "https://example.com/a?q=1"),
        ("https://example.com/a?#x", "https://example.com/a?"),
        ("HTTPS://EXAMPLE.COM/Path", "https://example.com/Path"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://example.com:80/", "http://example.com/"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("https://Bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/./a/../b/", "https://example.com/b/"),
        ("https://example.com/a/%2e%2E/b", "https://example.com/b"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://[0:0::1]:8080/", "http://[::1]:8080/"),
        ("https://example.com\\a\\b", "https://example.com/a/b"),
    ],
)
def test_a_crawl_key_is_the_whatwg_serialisation_without_fragment(url: str, key: str) -> None:
    assert crawl_key(url) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://example.com/a%2Fb", "https://example.com/a/b"),
        ("https://example.com/%7E", "https://example.com/~"),
        ("https://example.com/%41", "https://example.com/A"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
        ("https://example.com/a", "https://example.com/A"),
        ("https://example.com/a", "https://example.com/a/"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/?a=1&b=2", "https://example.com/?b=2&a=1"),
        ("https://example.com/", "https://example.com./"),
        ("https://www.example.com/", "https://example.com/"),
        ("http://example.com/", "https://example.com/"),
    ],
)
def test_urls_a_server_may_tell_apart_keep_different_keys(one: str, other: str) -> None:
    assert crawl_key(one) != crawl_key(other)


def test_a_crawl_key_refuses_what_is_not_an_absolute_url() -> None:
    with pytest.raises(ValueError):
        crawl_key("/relative/path")


# The standard strips leading and trailing C0 controls and spaces from the whole input: none ends a path here.
PATHS = st.text(st.characters(min_codepoint=0x21, exclude_characters="#", exclude_categories=["Cs"]), max_size=40)


@given(path=PATHS, fragment=st.text(max_size=10))
def test_a_crawl_key_is_stable_and_has_no_fragment(path: str, fragment: str) -> None:
    key = crawl_key(f"https://example.com/{path}#{fragment}")
    assert crawl_key(key) == key
    assert "#" not in key
    assert key == crawl_key(f"https://example.com/{path}")


# Any text a page may hold in a URL, user info and query included, '#' among it (encoded or starting the fragment).
URL_PARTS = st.text(st.characters(min_codepoint=0x21, exclude_categories=["Cs"]), max_size=30)


@given(user=URL_PARTS, path=URL_PARTS, query=URL_PARTS, fragment=URL_PARTS)
def test_the_key_of_a_serialised_href_is_the_parsed_key(user: str, path: str, query: str, fragment: str) -> None:
    try:
        href = ada_url.URL(f"https://{user}@example.com/{path}?{query}#{fragment}").href
    except ValueError:
        return  # nothing a page's links could hold
    assert crawl_key_of_href(href) == crawl_key(href)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.com/a", "example.com:443"),
        ("http://example.com/a", "example.com:80"),
        ("https://example.com:8443/", "example.com:8443"),
        ("http://example.com:443/", "example.com:443"),
        ("https://EXAMPLE.com./", "example.com:443"),
        ("https://Bücher.example/", "xn--bcher-kva.example:443"),
        ("http://[::1]/", "[::1]:80"),
        ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
        ("https://user:pw@example.com/", "example.com:443"),
    ],
)
def test_a_host_key_is_host_and_port_with_the_default_port_applied(url: str, key: str) -> None:
    assert host_key(url) == key


@pytest.mark.parametrize(
    "spelling",
    [
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]:80/",
        "http://[64:ff9b::127.0.0.1]/",
        "http://[2002:7f00:1::1]/",
    ],
)
def test_an_ipv6_literal_carrying_an_ipv4_address_is_that_server(spelling: str) -> None:
    # Each spelling had politeness of its own: one server spelled four ways took four times its share.
    assert host_key(spelling) == host_key("http://127.0.0.1/") == "127.0.0.1:80"


def test_http_and_https_on_one_host_are_two_servers() -> None:
    assert host_key("http://example.com/") != host_key("https://example.com/")


def test_a_host_key_refuses_schemes_without_a_default_port() -> None:
    with pytest.raises(ValueError, match="http"):
        host_key("ftp://example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "https://example.com/a/b?c=d/e",
        "https://user%2Fx:p@example.com:8443/p?q",
        "http://[::1]:8080/x?y",
        "https://example.com/?",
        "https://example.com/a://b",
    ],
)
def test_path_and_query_agree_with_the_parser(url: str) -> None:
    key = crawl_key(url)
    parsed = ada_url.URL(key)
    assert path_and_query(key) == parsed.pathname + (parsed.search or ("?" if key.endswith("?") else ""))
