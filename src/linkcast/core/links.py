"""Bytes + URL -> the links a browser sees: ``[...document.links].map(a => a.href)``, http(s) only, deduplicated.

The rules are Chromium's with scripting off, checked against it by the cases in ``tests/linkcases/``:

- ``document.links`` is every HTML ``<a>`` and ``<area>`` with an ``href`` attribute, in tree order: not SVG or
  MathML ``<a>`` (nor ``xlink:href``), not inside ``<template>`` (its content is another document); ``<noscript>``
  content is markup, since scripting is off. lexbor builds the same tree as Chromium, so the tree decides.
- Each href is parsed by the URL standard (ada) against the document's base URL: the first HTML ``<base href>`` in
  the tree (wherever it is), itself resolved against the URL the document was fetched from (after redirects); a base
  that fails to parse, or is a ``data:`` or ``javascript:`` URL, is ignored, as Chromium ignores it.
- The document's encoding (see ``encoding``) decodes the bytes and percent-encodes URL queries.
- Only ``http:``/``https:`` results are kept (an href that does not parse is dropped); first occurrence wins.

Speed: the parse is the ceiling. Each distinct href is resolved once per page; the per-link work left in Python is
one attribute read and one dictionary look-up.
"""

from __future__ import annotations

import re

import ada_url
from selectolax.lexbor import LexborHTMLParser, LexborNode

from linkcast.core.encoding import DocumentEncoding, decode, document_encoding, encode_query

FETCHABLE_PREFIXES = ("http:", "https:")
_LINKS = "a[href], area[href]"
_BASES = "base[href]"
# Elements that may put an <a> or <area> in the SVG or MathML namespace, and those that bring HTML back inside them.
_FOREIGN_ROOTS = frozenset({"svg", "math"})
_FOREIGN = "svg a, svg area, svg base, math a, math area, math base"
_HTML_INTEGRATION = frozenset({"foreignobject", "desc", "title", "mi", "mo", "mn", "ms", "mtext"})
_REFUSED_BASE_SCHEMES = ("data:", "javascript:")
# What attrs.get answers for a missing href: no real value can equal it, since the parser turns NUL into U+FFFD.
_ABSENT = "\x00"


def extract_links(body: bytes, url: str, content_type: str | None = None) -> list[str]:
    """The http(s) links of the HTML document ``body`` fetched at ``url`` (the final URL, after redirects).

    ``content_type`` is the response's ``Content-Type`` header, whose ``charset`` (if any) names the encoding.
    """
    encoding = document_encoding(body, content_type)
    tree = LexborHTMLParser(_markup(body, encoding))
    foreign = _foreign_elements(tree)
    base = _base_url(tree, url, foreign)
    links: dict[str, None] = {}
    resolved: dict[str, str | None] = {}
    for node in tree.css(_LINKS):
        href = node.attrs.get("href", _ABSENT)
        if href is None:  # a valueless attribute (<a href>) is an empty href
            href = ""
        elif href is _ABSENT:  # matched by an xlink:href, which is no href
            continue
        try:
            link = resolved[href]
        except KeyError:
            link = resolved[href] = _resolve(base, href, encoding)
        if link is not None and (not foreign or node.mem_id not in foreign):
            links[link] = None
    return list(links)


def _markup(body: bytes, encoding: DocumentEncoding) -> bytes | str:
    """What lexbor parses: UTF-8 bytes go as they are (lexbor reads them as UTF-8, invalid bytes as U+FFFD)."""
    if encoding.is_utf8:
        return body[encoding.bom_length :] if encoding.bom_length else body
    return decode(body, encoding)


def _resolve(base: str | None, href: str, encoding: DocumentEncoding) -> str | None:
    """``href`` parsed against ``base`` as Chromium does, or None if it fails to parse or is not http(s).

    ``base`` is None when the document's ``<base href>`` failed to parse: Chromium then has no base URL at all, so
    only absolute hrefs resolve.
    """
    target = encode_query(href, encoding)
    try:
        joined = _join(base, target)
    except ValueError:
        if " " not in target and "\xa0" not in target:
            return None
        return _join_with_spaces_in_host(base, target)
    if not joined.startswith(FETCHABLE_PREFIXES):
        return None
    return _chromium_spelling(joined) if _CHROMIUM_ESCAPED.search(href) else joined


def _join(base: str | None, href: str) -> str:
    if base is None:
        absolute: str = ada_url.URL(href).href
        return absolute
    joined: str = ada_url.join_url(base, href)
    return joined


# Where Chromium's URL parser (GURL) departs from the URL standard that ada implements, found by comparing the two
# on the link cases and on random hrefs: Chromium escapes "|" in paths, "*" in hosts and "'" in user info, and keeps
# a host with a space in it (also a no-break space, which IDNA maps to a space) as "%20" where the standard fails.
_CHROMIUM_ESCAPED = re.compile(r"[|*']")
_SPACE = "zq0spc0qz"  # stand-ins that survive host parsing (lower-case ASCII letters and digits)
_NO_BREAK_SPACE = "zq0nbsp0qz"
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_PUNYCODE_WITH_NO_BREAK_SPACE = re.compile(rf"[/\\.@]xn--[^/\\.?#@]*{_NO_BREAK_SPACE}", re.IGNORECASE)


def _chromium_label(label: str) -> str:
    """One host label as Chromium spells it: it escapes ``*`` and spaces before IDNA (so inside the punycode), and
    then the spaces IDNA made of no-break spaces."""
    if label.startswith("xn--") and ("*" in label or _SPACE in label or _NO_BREAK_SPACE in label):
        try:
            unicode_label = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            pass
        else:
            unicode_label = unicode_label.replace("*", "%2A").replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, " ")
            return "xn--" + unicode_label.encode("punycode").decode("ascii").replace(" ", "%20")
    return label.replace("*", "%2A").replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, "%20")


def _join_with_spaces_in_host(base: str | None, href: str) -> str | None:
    """Parse an href the standard refuses for a space in its host the way Chromium does, or None."""
    stand_in = href.strip(_C0_OR_SPACE).replace(" ", _SPACE).replace("\xa0", _NO_BREAK_SPACE)
    if _PUNYCODE_WITH_NO_BREAK_SPACE.search(stand_in):
        return None  # IDNA makes that a space inside a punycode label, which Chromium refuses
    try:
        joined = _join(base, stand_in)
    except ValueError:
        return None
    if not joined.startswith(FETCHABLE_PREFIXES):
        return None
    authority_at = joined.index("//") + 2
    host = joined[authority_at : joined.index("/", authority_at)].rpartition("@")[2]
    return _chromium_spelling(joined) if _SPACE in host or _NO_BREAK_SPACE in host else None


def _chromium_spelling(url: str) -> str:
    """Respell an http(s) URL as Chromium does; ``url`` is ada's serialisation, which fixes where each part is.

    After ``scheme://``, the first ``/`` starts the path (the user info percent-encodes its slashes) and the first
    ``?`` or ``#`` after it ends the path. Working on the string keeps an empty query or fragment (``?``, ``#``).
    """
    authority_at = url.index("//") + 2
    path_at = url.index("/", authority_at)
    rest_at = min((i for i in (url.find("?", path_at), url.find("#", path_at)) if i >= 0), default=len(url))
    userinfo, at, host = url[authority_at:path_at].rpartition("@")
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit()):
        name, colon, port = host, "", ""
    host = ".".join(_chromium_label(label) for label in name.split(".")) + colon + port
    respelled = (
        url[:authority_at] + userinfo.replace("'", "%27") + at + host + url[path_at:rest_at].replace("|", "%7C")
    ) + url[rest_at:]
    return respelled.replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, "%C2%A0")


def _base_url(tree: LexborHTMLParser, url: str, foreign: set[int]) -> str | None:
    """The document's base URL: its first HTML ``<base href>`` resolved against ``url``, else ``url``.

    Chromium resolves the base's href as UTF-8 whatever the document's encoding, ignores a ``data:`` or
    ``javascript:`` base, and leaves the document without a base URL (None) when the href fails to parse.
    """
    for node in tree.css(_BASES):
        href = node.attrs.get("href", _ABSENT)
        if href is _ABSENT or node.mem_id in foreign:
            continue
        base = _resolve_any_scheme(url, href or "")
        if base is not None and base.startswith(_REFUSED_BASE_SCHEMES):
            return url
        return base
    return url


def _resolve_any_scheme(url: str, href: str) -> str | None:
    try:
        joined = ada_url.join_url(url, href)
    except ValueError:
        return None
    if _CHROMIUM_ESCAPED.search(href) and joined.startswith(FETCHABLE_PREFIXES):
        return _chromium_spelling(joined)
    resolved: str = joined
    return resolved


def _foreign_elements(tree: LexborHTMLParser) -> set[int]:
    """The ``mem_id`` of every ``<a>``, ``<area>`` and ``<base>`` that is an SVG or MathML element, not an HTML one.

    lexbor's selectors ignore namespaces, so this walks up from each candidate: the nearest ancestor that is either
    a foreign root (``svg``, ``math``) or an HTML integration point (``foreignObject``, ``mi``...) decides.
    Pages without SVG or MathML skip all of it.
    """
    if not tree.any_css_matches(("svg, math",)):
        return set()
    verdicts: dict[int, bool] = {}
    return {node.mem_id for node in tree.css(_FOREIGN) if _in_foreign_content(node, verdicts)}


def _in_foreign_content(node: LexborNode, verdicts: dict[int, bool]) -> bool:
    """Whether ``node`` sits in SVG or MathML content; ``verdicts`` remembers the answer for every ancestor walked
    through, so that deep trees cost one walk in all, not one per link."""
    walked: list[int] = []
    verdict = False
    parent = node.parent
    while parent is not None:
        known = verdicts.get(parent.mem_id)
        if known is not None:
            verdict = known
            break
        tag = (parent.tag or "").lower()
        if tag in _FOREIGN_ROOTS:
            verdict = True
            break
        if tag in _HTML_INTEGRATION or _is_html_annotation(parent, tag):
            break
        walked.append(parent.mem_id)
        parent = parent.parent
    for ancestor in walked:
        verdicts[ancestor] = verdict
    return verdict


def _is_html_annotation(node: LexborNode, tag: str) -> bool:
    if tag != "annotation-xml":
        return False
    encoding = (node.attrs.get("encoding") or "").lower()
    return encoding in ("text/html", "application/xhtml+xml")
