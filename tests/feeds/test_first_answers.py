"""The answer that found a feed, kept for its first poll: taken once, while recent, within bounds of count and bytes."""

from __future__ import annotations

import time

from linkcast.feeds import first_answers
from linkcast.feeds.first_answers import FirstAnswers
from linkcast.fetch import Resource


def answer(url: str, size: int = 10) -> Resource:
    return Resource(url, url, 200, {"Content-Type": "application/rss+xml"}, b"x" * size, False)


def test_an_answer_is_taken_once_for_its_feed_only() -> None:
    answers = FirstAnswers()
    kept = answer("https://a.example/feed")
    answers.keep(kept.url, kept)
    assert answers.take("https://b.example/feed") is None
    assert answers.take(kept.url) is kept
    assert answers.take(kept.url) is None and len(answers) == 0


def test_an_answer_not_taken_soon_is_not_used() -> None:
    answers = FirstAnswers(max_age=0.05)
    answers.keep("https://a.example/feed", answer("https://a.example/feed"))
    time.sleep(0.1)
    assert answers.take("https://a.example/feed") is None


def test_the_oldest_answers_go_past_the_count_or_the_bytes() -> None:
    answers = FirstAnswers()
    for n in range(first_answers.MAX_ANSWERS + 5):
        answers.keep(f"https://a.example/{n}", answer(f"https://a.example/{n}"))
    assert len(answers) == first_answers.MAX_ANSWERS
    assert answers.take("https://a.example/0") is None and answers.take("https://a.example/5") is not None
    big = first_answers.MAX_BYTES // 2 + 1
    answers.keep("https://big.example/1", answer("https://big.example/1", big))
    answers.keep("https://big.example/2", answer("https://big.example/2", big))
    assert answers.take("https://big.example/1") is None and answers.take("https://big.example/2") is not None
    answers.keep("https://huge.example/", answer("https://huge.example/", first_answers.MAX_BYTES + 1))
    assert answers.take("https://huge.example/") is None


def test_the_headers_of_an_answer_count_in_its_bytes() -> None:
    """An answer may carry 128 header fields of 32 KiB (what the fetcher reads at most), 4 MiB beside a body of a few
    hundred bytes: counted by their bodies alone, 200 PUT /feeds of such a feed held 756 MiB in a process that polls
    nothing (linkcast serve --workers 0: no first poll takes them), and as much again each minute."""
    padded = {"Content-Type": "application/rss+xml", **{f"X-Pad-{n}": "x" * 32_000 for n in range(120)}}
    answers = FirstAnswers()
    for n in range(8):
        url = f"https://padded.example/{n}"
        answers.keep(url, Resource(url, url, 200, padded, b"<rss/>", False))
    assert len(answers) == first_answers.MAX_BYTES // (120 * 32_000)
    assert answers.take("https://padded.example/0") is None and answers.take("https://padded.example/7") is not None
