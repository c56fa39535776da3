"""A crawl's seeds from sitemaps: keyed without holding the event loop."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from linkcast.crawl import jobs
from linkcast.crawl.jobs import CrawlJobs
from linkcast.crawl.urls import crawl_key


async def test_sitemap_seeds_are_keyed_without_a_parse_each(monkeypatch: pytest.MonkeyPatch) -> None:
    # The 50,000 pages a site's sitemaps may list were parsed again for their keys, all at once on the event loop:
    # 0.2 s, 0.8 s for long URLs. The sitemap's reader serialised them already: their keys are cut from the text.
    urls = [f"https://example.com/{'a' * 2000}/{n}#part" for n in range(50_000)]

    async def listed(*_args: Any) -> list[str]:
        return urls

    async def claimed(*_args: Any) -> bool:
        return True

    async def robots_answer(*_args: Any) -> tuple[Any, bool]:
        return SimpleNamespace(rules=None), False

    parsed = []
    monkeypatch.setattr(jobs, "discover_sitemap_urls", listed)
    monkeypatch.setattr(jobs, "crawl_key", lambda url: parsed.append(url) or crawl_key(url))
    handler = CrawlJobs.__new__(CrawlJobs)
    handler.store = SimpleNamespace(claim_crawl_url=claimed)  # type: ignore[assignment]
    handler.robots = SimpleNamespace(answer_for=robots_answer)  # type: ignore[assignment]
    handler.fetcher = handler.sitemap_limits = None  # type: ignore[assignment]
    job = SimpleNamespace(url="https://example.com/", request_id="c", attempt=1, data={})
    spec = SimpleNamespace(sitemaps=True)
    rules = SimpleNamespace(skip_reason_of_key=lambda key, depth: None)
    seeds = await handler._sitemap_seeds(job, None, spec, rules)  # type: ignore[arg-type]
    assert [seed.url for seed in seeds[:2]] == [crawl_key(url) for url in urls[:2]] and len(seeds) == 50_000
    assert parsed == []
