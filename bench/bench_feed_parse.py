"""Feed parsing: MB/s of linkcast's ``parse_feed`` beside feedparser's on real feeds, and whether they agree.

The corpus is ``tests/feeds/corpus/`` (real feeds and a few curated ones from feed libraries' test suites; its README
names each source and licence). Each round parses every file once with each parser, in turn; MB/s is the corpus'
bytes over the round's time, three rounds side by side. fastfeedparser and feedparser-rs are timed too when installed
(the bench extras install them). Agreement: for each feed, the entries each finds, compared in document order on
id, link, title and dates with linkcast's; every disagreement is listed. Then the cost of one 10 MB feed.

Run: ``python -m bench.bench_feed_parse [--rounds 3] [--big-mb 10] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import calendar
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from linkcast.feeds import FeedError, ParsedFeed, parse_feed

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "feeds" / "corpus"
FEED_URL = "https://feeds.example.com/feed"  # the corpus' feeds are read as if fetched here
FEED_SUFFIXES = (".xml", ".rss", ".atom", ".json")

Parser = Callable[[bytes], object]


def load_corpus(folder: Path = CORPUS) -> list[tuple[str, bytes]]:
    paths = sorted(path for path in folder.iterdir() if path.suffix in FEED_SUFFIXES and path.name != "expected.json")
    return [(path.name, path.read_bytes()) for path in paths]


def linkcast_parse(body: bytes) -> ParsedFeed | None:
    try:
        return parse_feed(body, FEED_URL)
    except FeedError:
        return None


def parsers() -> dict[str, Parser]:
    """Every parser installed: linkcast's and feedparser first, then the others that can be imported."""
    found: dict[str, Parser] = {"linkcast": linkcast_parse}
    if importlib.util.find_spec("feedparser"):
        import feedparser

        found["feedparser"] = lambda body: feedparser.parse(body, response_headers={"content-location": FEED_URL})
    if importlib.util.find_spec("fastfeedparser"):
        import fastfeedparser

        def fast(body: bytes) -> object:
            try:
                return fastfeedparser.parse(body)
            except Exception as error:  # it raises on what it cannot read; that is its answer
                return error

        found["fastfeedparser"] = fast
    if importlib.util.find_spec("feedparser_rs"):
        import feedparser_rs

        found["feedparser-rs"] = feedparser_rs.parse
    return found


def speed(corpus: list[tuple[str, bytes]], rounds: int) -> dict[str, list[float]]:
    """MB/s of each parser on the whole corpus, one figure per round (parsers interleaved within a round)."""
    size = sum(len(body) for _, body in corpus) / 1e6
    figures: dict[str, list[float]] = {name: [] for name in parsers()}
    for _ in range(rounds):
        for name, parse in parsers().items():
            started = time.perf_counter()
            for _file, body in corpus:
                parse(body)
            figures[name].append(size / (time.perf_counter() - started))
    return figures


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(parsed)))


def _words(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def agreement(corpus: list[tuple[str, bytes]]) -> dict[str, Any]:
    """linkcast against feedparser, feed by feed: entries found, then id, link, title and dates entry by entry."""
    import feedparser

    # feedparser files dc:date under "updated" and copies "published" into "updated" when there is none, so dates
    # are compared as "the entry's date" (published, else updated) and "updated" only where feedparser's differs.
    fields = ("entries", "id", "link", "title", "date", "updated")
    counts = {field: [0, 0] for field in fields}  # [agree, compared]
    disagreements: list[dict[str, str]] = []
    skipped: list[str] = []
    for name, body in corpus:
        ours = linkcast_parse(body)
        theirs = feedparser.parse(body, response_headers={"content-location": FEED_URL})
        if ours is not None and ours.kind == "json":
            skipped.append(f"{name}: JSON Feed (feedparser 6.0 reads no JSON)")
            continue
        our_entries = ours.entries if ours is not None else []
        their_entries = theirs.entries

        def compare(field: str, mine: object, other: object, where: str, name: str = name) -> None:
            counts[field][1] += 1
            if mine == other:
                counts[field][0] += 1
            else:
                disagreements.append({"feed": name, "where": where, "field": field, "linkcast": repr(mine)[:160],
                                      "feedparser": repr(other)[:160]})  # fmt: skip

        compare("entries", len(our_entries), len(their_entries), "feed")
        for index, (mine, other) in enumerate(zip(our_entries, their_entries, strict=False)):
            where = f"entry {index}"
            if other.get("id"):
                compare("id", mine.entry_id, " ".join(other["id"].split()), where)
            compare("link", mine.link, other.get("link") or None, where)
            compare("title", mine.title, _words(other.get("title")), where)
            published, updated = _iso(other.get("published_parsed")), _iso(other.get("updated_parsed"))
            compare("date", mine.published or mine.updated, published or updated, where)
            if published and updated and updated != published:
                compare("updated", mine.updated, updated, where)
    return {
        "feeds": len(corpus) - len(skipped),
        "skipped": skipped,
        "agree": {field: {"agree": agree, "compared": total} for field, (agree, total) in counts.items()},
        "disagreements": disagreements,
    }


def big_feed(megabytes: float) -> bytes:
    """An RSS 2.0 feed of about ``megabytes`` MB: items of ~2 KB of HTML content with a few relative links each."""
    item = (
        "<item><title>Entry {n}: a title of some length &amp; an entity</title><link>/posts/{n}</link>"
        "<guid isPermaLink='false'>tag:example.com,2026:{n}</guid><pubDate>Sun, 06 Dec 2026 15:04:30 GMT</pubDate>"
        "<dc:creator>Author {n}</dc:creator><description>&lt;p&gt;Summary of entry {n}.&lt;/p&gt;</description>"
        "<content:encoded><![CDATA[<p>" + "Some words of content, then a link. " * 40 + "<a href='/a/{n}'>one</a> "
        "<a href='b/{n}?x=1'>two</a> <a href='https://other.example/{n}'>three</a></p>]]></content:encoded></item>"
    )
    count = max(1, int(megabytes * 1e6 / len(item.format(n=100_000))))
    items = "".join(item.format(n=n) for n in range(count))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Big</title>'
        f"<link>https://example.com/</link>{items}</channel></rss>"
    ).encode()


def big_feed_cost(megabytes: float, with_feedparser: bool) -> dict[str, float]:
    body = big_feed(megabytes)
    started = time.perf_counter()
    feed = parse_feed(body, FEED_URL, max_entries=1_000_000)
    figures = {"bytes": len(body), "entries": len(feed.entries), "linkcast_s": time.perf_counter() - started}
    started = time.perf_counter()
    parse_feed(body, FEED_URL)
    figures["linkcast_first_1000_s"] = time.perf_counter() - started
    if with_feedparser and importlib.util.find_spec("feedparser"):
        import feedparser

        started = time.perf_counter()
        feedparser.parse(body, response_headers={"content-location": FEED_URL})
        figures["feedparser_s"] = time.perf_counter() - started
    return figures


def report(corpus: list[tuple[str, bytes]], figures: dict[str, list[float]], agreed: dict[str, Any],
           big: dict[str, float]) -> str:  # fmt: skip
    size = sum(len(body) for _, body in corpus)
    lines = [f"corpus: {len(corpus)} feeds, {size / 1e6:.2f} MB ({CORPUS})", ""]
    rounds = len(next(iter(figures.values())))
    lines.append("| parser | " + " | ".join(f"round {n + 1} MB/s" for n in range(rounds)) + " | x feedparser |")
    lines.append("| --- |" + " ---: |" * (rounds + 1))
    reference = figures.get("feedparser")
    for name, values in figures.items():
        ratio = sum(values) / sum(reference) if reference else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {ratio:.1f}x |")
    lines += ["", f"agreement with feedparser on {agreed['feeds']} feeds (skipped: {'; '.join(agreed['skipped'])}):"]
    for field, counts in agreed["agree"].items():
        lines.append(f"  {field}: {counts['agree']}/{counts['compared']}")
    lines.append(f"disagreements ({len(agreed['disagreements'])}):")
    for item in agreed["disagreements"]:
        lines.append(f"  {item['feed']} {item['where']} {item['field']}: linkcast {item['linkcast']}"
                     f" / feedparser {item['feedparser']}")  # fmt: skip
    lines += ["", "one big feed: " + ", ".join(f"{key} {value:.3g}" for key, value in big.items())]
    return "\n".join(lines)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--rounds", type=int, default=3)
    arguments.add_argument("--big-mb", type=float, default=10.0, help="size of the one big feed timed (0: none)")
    arguments.add_argument("--json", type=Path, help="write the figures here too")
    options = arguments.parse_args()
    corpus = load_corpus()
    figures = speed(corpus, options.rounds)
    agreed = agreement(corpus)
    big = big_feed_cost(options.big_mb, with_feedparser=True) if options.big_mb > 0 else {}
    print(report(corpus, figures, agreed, big))
    if options.json:
        options.json.write_text(json.dumps({"mb_per_s": figures, "agreement": agreed, "big_feed": big}, indent=2))


if __name__ == "__main__":
    main()
