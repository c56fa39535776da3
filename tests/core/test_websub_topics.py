"""``same_topic``: a hub's topic URL against the subscription's, percent-encoding normalized (RFC 3986 6.2.2)."""

from __future__ import annotations

import pytest

from linkcast.core.websub import same_topic


@pytest.mark.parametrize(
    ("given", "topic"),
    [
        ("https://a.example/~u/feed", "https://a.example/%7Eu/feed"),
        ("https://a.example/%7eu/feed", "https://a.example/%7Eu/feed"),
        ("https://a.example/f%c3%a9ed", "https://a.example/f%C3%A9ed"),
        ("https://a.example/a%7Cb", "https://a.example/a|b"),
        ("https://a.example/f%C3%A9ed", "https://a.example/féed"),
        ("https://a.example/100%25", "https://a.example/100%"),  # a lone % is %25 in a URI
    ],
)
def test_the_same_url_however_its_characters_are_encoded(given: str, topic: str) -> None:
    assert same_topic(given, topic) and same_topic(topic, given)


@pytest.mark.parametrize(
    ("given", "topic"),
    [
        ("https://a.example/feed/", "https://a.example/feed"),
        ("https://a.example/Feed", "https://a.example/feed"),
        ("https://a.example/a%2Fb", "https://a.example/a/b"),  # an encoded reserved character is another path
        ("https://a.example/?a=1%262", "https://a.example/?a=1&2"),
        ("https://a.example/feed?", "https://a.example/feed"),
    ],
)
def test_another_url_is_another_topic(given: str, topic: str) -> None:
    assert not same_topic(given, topic) and not same_topic(topic, given)
