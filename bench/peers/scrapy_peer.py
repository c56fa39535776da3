"""Scrapy fetching every page of the bench site and extracting its links, as a Scrapy user would write it.

Same work as linkcast: every page URL is a start request (no link following), each response's ``<a>``/``<area>``
hrefs are resolved against the page and kept if http(s), de-duplicated. No politeness delay, no robots.txt, no
AutoThrottle; ``CONCURRENT_REQUESTS`` (and per domain) as given. Time runs from the spider opening to the last page
parsed.

Run: ``python -m bench.peers.scrapy_peer URLS_FILE --concurrency 16 --out result.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


def page_links(response: Response) -> list[str]:
    """The page's http(s) links (``<a>`` and ``<area>``), resolved and de-duplicated, as linkcast reports them."""
    seen: dict[str, None] = {}
    for href in response.css("a::attr(href), area::attr(href)").getall():
        link = response.urljoin(href)
        if link.startswith(("http:", "https:")):
            seen[link] = None
    return list(seen)


class LinksSpider(scrapy.Spider):
    name = "links"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.pages = 0
        self.links = 0
        self.failures = 0
        self.last_done = 0.0
        self.opened = 0.0
        self.closed_at = 0.0
        self.cpu_opened = 0.0
        self.cpu_done = 0.0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.opened = time.monotonic()
        self.cpu_opened = time.process_time()
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True)

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        links = page_links(response)
        self.pages += 1
        self.links += len(links)
        self.last_done = time.monotonic()
        self.cpu_done = time.process_time()
        yield {"url": response.url, "links": links}

    def closed(self, reason: str) -> None:
        self.closed_at = time.monotonic()

    def failed(self, failure: Any) -> None:
        self.failures += 1
        self.last_done = time.monotonic()
        self.cpu_done = time.process_time()


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM), from the kernel."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run(urls: list[str], concurrency: int) -> dict[str, Any]:
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_REQUESTS_PER_IP": 0,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": False,
            "COOKIES_ENABLED": False,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        }
    )
    crawler = process.create_crawler(LinksSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, LinksSpider)
    return {
        "pages": spider.pages,
        "links": spider.links,
        "failures": spider.failures,
        # Until the last page was done: Scrapy notices it is idle only on a later heartbeat, which is not crawling.
        "seconds": (spider.last_done or spider.closed_at) - spider.opened,
        "cpu_seconds": spider.cpu_done - spider.cpu_opened,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Scrapy on the bench site")
    parser.add_argument("urls_file", type=Path)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    urls = args.urls_file.read_text().split()
    args.out.write_text(json.dumps(run(urls, args.concurrency)))


if __name__ == "__main__":
    main()
