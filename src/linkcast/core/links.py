"""Bytes + URL -> the links a browser sees: ``[...document.links].map(a => a.href)``, http(s) only, deduplicated.

First version; the browser-checked rules (encoding, base, SVG, templates) are refined against tests/linkcases.
"""

from __future__ import annotations

import ada_url
from selectolax.lexbor import LexborHTMLParser

FETCHABLE_PREFIXES = ("http:", "https:")


def extract_links(body: bytes, url: str, content_type: str | None = None) -> list[str]:
    tree = LexborHTMLParser(body)
    base = url
    links: dict[str, None] = {}
    resolved: dict[str, str | None] = {}
    for node in tree.css("a[href], area[href]"):
        href = node.attributes.get("href")
        if href is None:
            continue
        if href not in resolved:
            try:
                joined = ada_url.join_url(base, href)
            except ValueError:
                joined = None
            resolved[href] = joined if joined and joined.startswith(FETCHABLE_PREFIXES) else None
        link = resolved[href]
        if link is not None:
            links[link] = None
    return list(links)
