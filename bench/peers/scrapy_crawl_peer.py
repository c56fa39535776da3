"""Scrapy's ``CrawlSpider`` crawling a bench site from its seed, as a Scrapy user would write the crawl.

The same crawl as linkcast's: from one seed, following ``<a>``/``<area>`` links on the seed's host (``allowed_domains``)
up to ``DEPTH_LIMIT`` hops, each URL once (Scrapy's duplicate filter; fragments dropped), links matching ``--deny``
not followed (the generated site's query links), robots.txt obeyed (``ROBOTSTXT_OBEY``). Each page's links are
resolved and de-duplicated, as linkcast reports them. ``CONCURRENT_REQUESTS`` (and per domain) as given, no delay, no
AutoThrottle, no retries, no cookies. Time runs from the spider opening to the last page parsed.

Run: ``python -m bench.peers.scrapy_crawl_peer SEED --depth 3 --concurrency 16 [--deny REGEX] --out result.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

from bench.peers.scrapy_peer import page_links, peak_rss_bytes


class SiteSpider(CrawlSpider):
    name = "site"

    def __init__(self, seed: str, deny: tuple[str, ...], **kwargs: Any) -> None:
        self.start_urls = [seed]
        self.allowed_domains = [urlsplit(seed).hostname or ""]
        extractor = LinkExtractor(tags=("a", "area"), attrs=("href",), deny=deny)
        self.rules = (Rule(extractor, callback="parse_page", follow=True),)
        super().__init__(**kwargs)  # compiles the rules
        self.pages = 0
        self.fetches = 0
        self.urls: set[str] = set()
        self.links = 0
        self.opened = 0.0
        self.last_done = 0.0
        self.cpu_opened = 0.0
        self.cpu_done = 0.0

    async def start(self) -> AsyncIterator[Any]:
        self.opened = time.monotonic()
        self.cpu_opened = time.process_time()
        async for request in super().start():
            yield request

    def parse_start_url(self, response: Response, **kwargs: Any) -> Iterator[dict[str, Any]]:
        # The seed is a page of the crawl too.
        return self.parse_page(response)

    def parse_page(self, response: Response) -> Iterator[dict[str, Any]]:
        links = page_links(response)
        # Scrapy's start requests skip the duplicate filter, so a link back to the seed fetches it again: pages
        # counts each URL once, fetches every response.
        self.fetches += 1
        if response.url not in self.urls:
            self.urls.add(response.url)
            self.pages += 1
            self.links += len(links)
        self.last_done = time.monotonic()
        self.cpu_done = time.process_time()
        yield {"url": response.url, "links": len(links)}


def run(seed: str, depth: int, concurrency: int, deny: tuple[str, ...]) -> dict[str, Any]:
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_REQUESTS_PER_IP": 0,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": True,
            "DEPTH_LIMIT": depth,
            "COOKIES_ENABLED": False,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler, seed=seed, deny=deny)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, SiteSpider)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {
        "pages": spider.pages,
        "fetches": spider.fetches,
        "links": spider.links,
        "failures": int(stats.get("spider_exceptions/count", 0)) + int(stats.get("downloader/exception_count", 0)),
        "robots_fetched": int(stats.get("robotstxt/request_count", 0)),
        # From the spider's start (the robots.txt fetch included, as in linkcast's crawl) to the last page parsed.
        "seconds": spider.last_done - spider.opened,
        "cpu_seconds": spider.cpu_done - spider.cpu_opened,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Scrapy's CrawlSpider on a bench site")
    parser.add_argument("seed")
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--deny", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.seed, args.depth, args.concurrency, tuple(args.deny))))


if __name__ == "__main__":
    main()
