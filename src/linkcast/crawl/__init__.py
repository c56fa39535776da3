"""Crawling whole sites: what a site allows (robots.txt), where its pages are listed (sitemaps), and the crawl itself.

Each concern is its own module; the pure ones (``robots``, ``sitemaps``) do no I/O, and the ``*_fetch`` modules
fetch through the one shared ``Fetcher`` (its SSRF guard and limits) and hand the bytes to them.
"""
