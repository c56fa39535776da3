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
