"""Every feed of the corpus (real feeds from feed libraries' test suites) reads as expected, and well-formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from linkcast.feeds import parse_feed

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
FEEDS = sorted(
    path
    for path in CORPUS.iterdir()
    if path.suffix in (".xml", ".rss", ".atom", ".json") and path.name != "expected.json"
)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def test_every_corpus_feed_has_its_expectation() -> None:
    assert len(FEEDS) >= 10
    assert {path.name for path in FEEDS} == set(EXPECTED)


@pytest.mark.parametrize("path", FEEDS, ids=[path.name for path in FEEDS])
def test_each_corpus_feed_reads_as_expected(path: Path) -> None:
    feed = parse_feed(path.read_bytes(), "https://feeds.example.com/feed")
    expected = EXPECTED[path.name]
    assert (feed.kind, feed.version, len(feed.entries)) == (expected["kind"], expected["version"], expected["entries"])
    for entry in feed.entries:
        assert entry.entry_id and len(entry.entry_id) <= 2048
        assert entry.link is None or entry.link.startswith(("http://", "https://"))
        assert all(link.startswith(("http://", "https://")) for link in entry.links)
        assert all(date is None or DATE.fullmatch(date) for date in (entry.published, entry.updated))
        assert entry.summary is None or (
            len(entry.summary) <= 1000 and entry.summary == " ".join(entry.summary.split())
        )


def test_real_feeds_give_what_their_documents_say() -> None:
    npr = parse_feed((CORPUS / "trafilatura--npr_technology.json").read_bytes(), "https://feeds.npr.org/1019/feed.json")
    assert npr.entries[0].entry_id == "1050315385" and npr.self_url == "https://feeds.npr.org/1019/feed.json"
