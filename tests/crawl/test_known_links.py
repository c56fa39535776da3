"""What a process remembers of its crawls' links is bounded, and kept per crawl."""

from __future__ import annotations

from linkcast.crawl.known_links import DUPLICATE, KnownLinks


def test_links_are_known_per_crawl_by_reason_or_as_visited() -> None:
    known = KnownLinks()
    known.learn("a", "https://x.example/out", "scope")
    known.visited("a", ["https://x.example/1", "https://x.example/2", "https://x.example/1"])
    assert known.of("a") == {"https://x.example/out": "scope", "https://x.example/1": DUPLICATE,
                             "https://x.example/2": DUPLICATE}  # fmt: skip
    assert known.of("b") == {} and len(known) == 3
    known.forget("a")
    assert known.of("a") == {} and len(known) == 0


def test_past_the_bound_everything_is_forgotten_and_the_count_holds() -> None:
    known = KnownLinks(max_links=10)
    known.visited("a", [f"https://x.example/{n}" for n in range(8)])
    known.learn("b", "https://y.example/out", "pattern")
    assert len(known) == 9
    known.visited("b", [f"https://y.example/{n}" for n in range(3)])  # 12 > 10: room made first
    assert known.of("a") == {} and len(known) == 3
    known.visited("c", [f"https://z.example/{n}" for n in range(11)])  # more than the bound alone: not kept
    assert known.of("c") == {} and len(known) == 3
    for n in range(100):
        known.learn("d", f"https://w.example/{n}", "scope")
        assert len(known) <= 10


def test_a_link_longer_than_a_url_the_api_takes_is_never_remembered() -> None:
    known = KnownLinks()
    huge = "https://x.example/?q=" + "a" * 2_000_000
    known.learn("a", huge, "scope")
    known.visited("a", [huge, "https://x.example/1"])
    assert known.of("a") == {"https://x.example/1": DUPLICATE} and len(known) == 1


def test_the_links_known_are_bounded_in_characters_too() -> None:
    """Links of 8,000 characters, 1,000 to a page (its result's 8 MiB): the 50,000 links known at most were 400 MB,
    kept for as long as the process ran. Past 8 MiB of them everything is forgotten, as past the count."""
    known = KnownLinks()
    for page in range(10):
        known.visited("a", [f"https://x.example/{page}/{n}/" + "x" * 8000 for n in range(1000)])
        known.learn("b", f"https://y.example/{page}/" + "y" * 8000, "scope")
        kept = [link for crawl in ("a", "b") for link in known.of(crawl)]
        assert sum(map(len, kept)) <= 8 * 1024 * 1024 and len(known) == len(kept)
    known.forget("a")
    known.forget("b")
    assert len(known) == 0
    known.visited("c", ["https://z.example/" + "z" * 8000] * 3)
    assert len(known) == 1
