"""Crawling whole sites: from seed URLs, follow the links of each fetched page, within the limits a crawl sets.

The pure rules (no I/O) are here: a crawl's options (``spec``), URL identity (``urls``), which links are in scope
(``scope``), include/exclude patterns (``patterns``) and the decision for one discovered link (``rules``). Fetching,
the frontier and the visited set live in the store and the workers, under the shared scheduler.
"""
