"""The sites ``bench_crawl`` crawls, written to folders that ``python -m bench.site`` serves, each with a robots.txt.

- **The generated site** (``bench.site``): its pages link to each other at random (about 70 of the 100 links of a page
  point at another page), so one seed reaches every page within a few hops; ``crawl_depth`` measures how many, so
  that every crawler is given the depth that covers them all. Its query links (``?page=3&sort=name``) name the same
  pages again under other URLs (the server ignores queries): every crawler is told to skip them (linkcast's
  ``exclude``, Scrapy's ``deny``), so the graph crawled is the 2,000 pages.
- **The real-world pages** (``bench_parser.real_world_corpus``: documentation installed on this machine), at their
  own paths, with an index page that links to each: the seed, crawled to depth 1 (their own links lead to pages not
  served, and are one hop too deep).

The robots.txt disallows a folder nothing links to and allows the rest: every crawler fetches it first and checks
every URL against it, which is the work "robots on" adds, without changing the graph.
"""

from __future__ import annotations

import html
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from bench.bench_parser import real_world_corpus
from bench.site import SiteShape, generate_site
from linkcast.core.links import extract_links
from linkcast.crawl.urls import crawl_key

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\nAllow: /\n"
# The links every crawler is told not to follow: the generated pages' query links (the same pages again).
EXCLUDE_PATTERN = "/*?*"  # linkcast's glob, on the path and query
DENY_REGEX = r"\?"  # Scrapy's LinkExtractor(deny=...)


@dataclass
class CrawlSite:
    """A site on disk, its seed, the URLs a crawl from the seed must fetch, and the depth that reaches them all."""

    name: str
    folder: Path
    seed: str
    urls: list[str]  # every page a complete crawl fetches, the seed first
    depth: int
    reachable: int  # pages reachable from the seed within ``depth``: all of them, or the run says otherwise
    bytes: int


def crawl_depth(pages: dict[str, bytes], seed: str) -> tuple[int, int]:
    """(hops from ``seed`` to the farthest page, pages reachable), by a breadth-first walk of ``pages``' links as
    linkcast extracts them, following only links to ``pages`` without a query (as the crawlers are told to)."""
    depth_of = {seed: 0}
    frontier = deque([seed])
    while frontier:
        url = frontier.popleft()
        for link in extract_links(pages[url], url, "text/html; charset=utf-8"):
            key = crawl_key(link)
            if key in pages and key not in depth_of and "?" not in key:
                depth_of[key] = depth_of[url] + 1
                frontier.append(key)
    return max(depth_of.values()), len(depth_of)


def generated_site(folder: Path, origin: str, shape: SiteShape) -> CrawlSite:
    urls = generate_site(folder, origin, shape)
    (folder / "robots.txt").write_bytes(ROBOTS_TXT)
    pages = {url: (folder / url.removeprefix(origin).lstrip("/")).read_bytes() for url in urls}
    depth, reachable = crawl_depth(pages, urls[0])
    return CrawlSite("generated", folder, urls[0], urls, depth, reachable, sum(map(len, pages.values())))


def real_world_site(folder: Path, origin: str, max_bytes: int) -> CrawlSite:
    corpus = real_world_corpus(max_bytes)
    urls = []
    for base, body in corpus.pages:
        path = base.removeprefix("https://docs.example")
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        urls.append(origin + path)
    index = "".join(f'<li><a href="{html.escape(url)}">{n}</a></li>\n' for n, url in enumerate(urls))
    (folder / "index.html").write_text(f"<!DOCTYPE html><title>index</title><ul>\n{index}</ul>\n")
    (folder / "robots.txt").write_bytes(ROBOTS_TXT)
    seed = origin + "/index.html"
    size = sum(len(body) for _, body in corpus.pages)
    return CrawlSite("real-world", folder, seed, [seed, *urls], 1, len(urls) + 1, size)
