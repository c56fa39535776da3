"""Bytes + URL -> the links a browser sees: ``[...document.links].map(a => a.href)``, http(s) only, deduplicated.

The rules are Chromium's with scripting off, checked against it by the cases in ``tests/linkcases/``:

- ``document.links`` is every HTML ``<a>`` and ``<area>`` with an ``href`` attribute, in tree order: not SVG or
  MathML ``<a>`` (nor ``xlink:href``), not inside ``<template>`` (its content is another document); ``<noscript>``
  content is markup, since scripting is off. lexbor builds the same tree as Chromium, so the tree decides.
- Each href is parsed by the URL standard (ada) against the document's base URL: the first HTML ``<base href>`` in
  the tree (wherever it is), itself resolved against the URL the document was fetched from (after redirects). As in
  Chromium, a ``data:`` or ``javascript:`` base is ignored, and a base that fails to parse leaves the document with
  no base URL at all (only absolute hrefs resolve).
- The document's encoding (see ``encoding``) decodes the bytes and percent-encodes URL queries.
- Only ``http:``/``https:`` results are kept (an href that does not parse is dropped); first occurrence wins.
- A page served with a type Chromium renders as an XML document (``application/xhtml+xml``, ``text/xml``...) is read
  as XML, not HTML (see ``xhtml``): only XHTML-namespace elements are links, and the reading stops at an error.

URLs are resolved by ``resolution`` (ada, Chromium's spellings, a fast path for plain hrefs). Speed: the parse is
the ceiling. Each distinct href is resolved once per page; per link, Python reads one attribute, and the
de-duplication in document order is done by dictionary operations in C.
"""

from __future__ import annotations

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from linkcast.core.encoding import DocumentEncoding, decode, document_encoding
from linkcast.core.foreign import FOREIGN_ROOTS, as_chromium_builds, foreign_elements
from linkcast.core.resolution import HrefJoiner, resolve_base
from linkcast.core.xhtml import is_xml_document, read_xhtml

_LINKS = "a[href], area[href]"
_LANDMARKS = "base[href], svg, math"
_REFUSED_BASE_SCHEMES = ("data:", "javascript:")
# What attrs.get answers for a missing href: no real value can equal it, since the parser turns NUL into U+FFFD.
_ABSENT = "\x00"


# Chromium lists a link longer than this in ``document.links`` but will not follow it (``url::kMaxURLChars``: a click
# navigates to about:blank#blocked instead): it is no link to report, and dropping it bounds what one link costs.
MAX_URL_CHARS = 2 * 1024 * 1024
# Hrefs resolved at a time, at most; fewer when the base URL is long, since every relative link copies it.
RESOLVE_CHUNK = 1024


@dataclass(frozen=True, slots=True)
class LinkLimits:
    """The most links kept, and the most bytes they may take as a JSON array (the result's size)."""

    max_links: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class FoundLinks:
    """A page's links, in document order, and whether a limit cut them short."""

    links: list[str]
    truncated: bool = False


def extract_links(body: bytes, url: str, content_type: str | None = None) -> list[str]:
    """The http(s) links of the HTML document ``body`` fetched at ``url`` (the final URL, after redirects).

    ``content_type`` is the response's ``Content-Type`` header, whose ``charset`` (if any) names the encoding.
    """
    return find_links(body, url, content_type).links


def find_links(body: bytes, url: str, content_type: str | None = None, limits: LinkLimits | None = None) -> FoundLinks:
    """``extract_links`` within ``limits``: the first links in document order up to the count and the size, and
    whether any were left out. The links past the size are never resolved, so memory stays near the limit even when
    a long ``<base href>`` would make every relative link huge.

    A page whose ``Content-Type`` Chromium renders as an XML document is read as XML (see ``xhtml``)."""
    if is_xml_document(content_type):
        return _xml_links(body, url, content_type, limits or LinkLimits())
    encoding = document_encoding(body, content_type)
    tree, landmarks, foreign = _parse(_markup(body, encoding))
    base = _base_url(landmarks, url, foreign)
    joiner = HrefJoiner(base, encoding)
    nodes = tree.css(_LINKS)
    # A valueless attribute (<a href>) is an empty href. Indexing spares a Python-level call per link over .get().
    try:
        hrefs = [node.attrs["href"] or "" for node in nodes]
    except KeyError:  # an element matched by an xlink:href alone (SVG), which is no href
        hrefs = [node.attrs.get("href", _ABSENT) or "" for node in nodes]
    if foreign:
        hrefs = [href for href, node in zip(hrefs, nodes, strict=True) if node.mem_id not in foreign]
    # Each distinct href is resolved once. The links in document order, first occurrence kept, are the URLs of the
    # distinct hrefs in their order, deduplicated: the first href that gives a URL is itself a first occurrence.
    distinct = dict.fromkeys(hrefs)
    distinct.pop(_ABSENT, None)  # matched by an xlink:href, which is no href
    return _within(joiner, list(distinct), len(base or ""), limits or LinkLimits())


def _parse(markup: bytes | str) -> tuple[LexborHTMLParser, list[LexborNode], set[int]]:
    """The page's tree as Chromium builds it, its landmarks (``<base href>``, ``<svg>``, ``<math>``: one walk finds
    them), and the ``mem_id`` of its SVG and MathML ``<a>``, ``<area>`` and ``<base>`` (``foreign_elements``)."""
    tree = LexborHTMLParser(markup)
    landmarks = tree.css(_LANDMARKS)
    if any(node.tag in FOREIGN_ROOTS for node in landmarks):
        chromium = as_chromium_builds(markup, tree)
        if chromium is not tree:
            tree, landmarks = chromium, chromium.css(_LANDMARKS)
    roots = [node for node in landmarks if node.tag in FOREIGN_ROOTS]
    return tree, landmarks, foreign_elements(roots) if roots else set()


def _xml_links(body: bytes, url: str, content_type: str | None, limits: LinkLimits) -> FoundLinks:
    read = read_xhtml(body, content_type)
    base = url if read.base_href is None else _base_from_href(url, read.base_href)
    return _within(HrefJoiner(base, read.encoding), read.hrefs, len(base or ""), limits)


# An anchor's text is a title, not a document: past this it is cut (the text of one link is seldom over 200).
MAX_ANCHOR_TEXT_CHARS = 1000


def find_anchors(
    body: bytes, url: str, content_type: str | None = None, limits: LinkLimits | None = None
) -> list[tuple[str, str]]:
    """``find_links`` with each link's anchor text: ``(url, text)`` for the same links in the same order, the text
    being the ``textContent`` of the link's first ``<a>`` (whitespace collapsed, at most ``MAX_ANCHOR_TEXT_CHARS``),
    else the ``alt`` of an ``<area>`` or of the first ``<img alt>`` inside the ``<a>`` (an image link), else "".

    For watching a page as a feed: each link that newly appears is an entry titled by its text. A separate path from
    ``find_links``, which is left as fast as it is: this one also reads each first anchor's text.
    """
    if is_xml_document(content_type):
        return _xml_anchors(body, url, content_type, limits or LinkLimits())
    encoding = document_encoding(body, content_type)
    tree, landmarks, foreign = _parse(_markup(body, encoding))
    base = _base_url(landmarks, url, foreign)
    joiner = HrefJoiner(base, encoding)
    anchors = [
        (href or "", node)
        for node in tree.css(_LINKS)
        if (href := node.attrs.get("href", _ABSENT)) is not _ABSENT and node.mem_id not in foreign
    ]
    distinct = list(dict.fromkeys(href for href, _node in anchors))
    limits, base_length = limits or LinkLimits(), len(base or "")
    links = _within(joiner, distinct, base_length, limits).links
    wanted = dict.fromkeys(links)
    texts: dict[str, str] = {}
    # Resolved a chunk of anchors at a time, as far as the kept links' first anchors, and sized as ``_within`` sizes
    # its chunks: every href resolved at once held a copy of a long base URL per href (a 1 MB page whose base is
    # 20,000 characters took 3.4 GB; a larger one could exhaust the machine before the child's deadline).
    chunk = _chunk_size(base_length, limits)
    for start in range(0, len(anchors), chunk):
        part = anchors[start : start + chunk]
        urls = joiner.resolve_all(dict.fromkeys(href for href, _node in part))
        for href, node in part:
            link = urls[href]
            if link in wanted and link not in texts:
                texts[link] = _anchor_text(node)
        if len(texts) == len(wanted):
            break
    return [(link, texts[link]) for link in links]


def _xml_anchors(body: bytes, url: str, content_type: str | None, limits: LinkLimits) -> list[tuple[str, str]]:
    read = read_xhtml(body, content_type, anchor_texts=True)
    base = url if read.base_href is None else _base_from_href(url, read.base_href)
    joiner = HrefJoiner(base, read.encoding)
    links = _within(joiner, read.hrefs, len(base or ""), limits).links
    wanted = dict.fromkeys(links)
    texts: dict[str, str] = {}
    chunk = _chunk_size(len(base or ""), limits)  # as in find_anchors: a chunk of copies of a long base at a time
    for start in range(0, len(read.hrefs), chunk):
        for href, link in joiner.resolve_all(read.hrefs[start : start + chunk]).items():
            if link in wanted and link not in texts:
                texts[link] = _collapsed(read.texts.get(href, ""))
        if len(texts) == len(wanted):
            break
    return [(link, texts[link]) for link in links]


def _collapsed(text: str) -> str:
    return " ".join(text[: MAX_ANCHOR_TEXT_CHARS * 4].split())[:MAX_ANCHOR_TEXT_CHARS]


def _anchor_text(node: LexborNode) -> str:
    if node.tag == "area":
        text = node.attrs.get("alt") or ""
    else:
        text = node.text(deep=True, separator="", strip=False)
        if not text.strip():
            image = node.css_first("img[alt]")
            text = (image.attrs.get("alt") or "") if image is not None else ""
    return _collapsed(text)


def _within(joiner: HrefJoiner, hrefs: list[str], base_length: int, limits: LinkLimits) -> FoundLinks:
    """The distinct links of ``hrefs`` in order, a chunk at a time, until a limit is reached (dictionary operations
    in C within a chunk: no Python-level step per link unless a limit falls inside it)."""
    max_links = limits.max_links if limits.max_links is not None else len(hrefs)
    max_bytes = limits.max_bytes if limits.max_bytes is not None else -1
    chunk = _chunk_size(base_length, limits)
    links: dict[str, None] = {}
    # The links' size as a JSON array: each link adds its quotes and a comma (resolved URLs need no escaping), and the
    # brackets make up for the last link's missing comma.
    size = 1
    for start in range(0, len(hrefs), chunk):
        found = dict.fromkeys(joiner.resolve_all(hrefs[start : start + chunk]).values())
        found.pop("", None)  # hrefs that give no http(s) link
        if found and max(map(len, found)) > MAX_URL_CHARS:
            found = {link: None for link in found if len(link) <= MAX_URL_CHARS}
        merged = links | found  # first occurrence kept: the new links come after the known ones, in order
        new = list(merged)[len(links) :]
        added = sum(map(len, new)) + 3 * len(new)
        if len(merged) <= max_links and (max_bytes < 0 or size + added <= max_bytes):
            links, size = merged, size + added
            continue
        for link in new:  # a limit falls inside this chunk: take its links one by one up to it
            if len(links) >= max_links or (max_bytes >= 0 and size + len(link) + 3 > max_bytes):
                break
            links[link] = None
            size += len(link) + 3
        return FoundLinks(list(links), truncated=True)
    return FoundLinks(list(links))


def _chunk_size(base_length: int, limits: LinkLimits) -> int:
    """Hrefs resolved at a time: what a chunk's relative links, each a copy of the base, may take is the result's."""
    if limits.max_bytes is None:
        return RESOLVE_CHUNK
    return max(1, min(RESOLVE_CHUNK, limits.max_bytes // (base_length + 1)))


def _markup(body: bytes, encoding: DocumentEncoding) -> bytes | str:
    """What lexbor parses: UTF-8 bytes go as they are (lexbor reads them as UTF-8, invalid bytes as U+FFFD)."""
    if encoding.is_utf8:
        return body[encoding.bom_length :] if encoding.bom_length else body
    return decode(body, encoding)


def _base_url(landmarks: list[LexborNode], url: str, foreign: set[int]) -> str | None:
    """The document's base URL: its first HTML ``<base href>`` resolved against ``url``, else ``url``.

    Chromium resolves the base's href as UTF-8 whatever the document's encoding, ignores a ``data:`` or
    ``javascript:`` base, and leaves the document without a base URL (None) when the href fails to parse.
    """
    for node in landmarks:
        if node.tag != "base":
            continue
        href = node.attrs.get("href", _ABSENT)
        if href is _ABSENT or node.mem_id in foreign:
            continue
        return _base_from_href(url, href or "")
    return url


def _base_from_href(url: str, href: str) -> str | None:
    """The base URL a ``<base>`` with this ``href`` gives a document fetched from ``url`` (see ``_base_url``)."""
    base = resolve_base(url, href)
    if base is not None and base.startswith(_REFUSED_BASE_SCHEMES):
        return url
    return base
