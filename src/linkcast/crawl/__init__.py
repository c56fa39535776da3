"""Crawling whole sites: from seed URLs, follow the links of each fetched page, within the limits a crawl sets.

The pure rules (no I/O): a crawl's options (``spec``), URL identity (``urls``), which links are in scope (``scope``),
include/exclude patterns (``patterns``), the decision for one discovered link (``rules``), what a site allows
(``robots``) and where its pages are listed (``sitemaps``). The ``*_fetch`` modules fetch robots.txt and sitemaps
through the one shared ``Fetcher`` (its SSRF guard and limits); ``robots_cache`` keeps robots.txt answers;
``jobs`` is the worker's handler of a crawl's URLs. The frontier, the visited set and the counts live in the store,
under the shared scheduler.
"""
