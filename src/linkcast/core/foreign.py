"""SVG and MathML in an HTML page: which ``<a>``, ``<area>`` and ``<base>`` are foreign elements (no links), and the
tree Chromium builds where it departs from the HTML standard's.

lexbor builds the standard's tree, and its selectors ignore namespaces, so ``foreign_elements`` walks down each
``<svg>`` and ``<math>`` knowing at each element which namespace its children get (the tree builder's rules, with
the integration points where HTML comes back: ``foreignObject``, ``mi``...).

Chromium's tree differs in one place (``HTMLTreeBuilder::ProcessTokenInForeignContent``): an end tag met while the
current node is SVG has its name put in SVG's case (``</foreignobject>`` becomes ``</foreignObject>``, as start
tags are), and in foreign content an end tag closes only an element whose name is the same to the letter. The
standard compares names in lower case. So ``<foreignObject><svg></foreignObject><a href=/x>`` (an HTML element
named ``foreignobject``, outside any ``<svg>``) leaves the ``<svg>`` open in Chromium, whose ``<a>`` is then an SVG
element and no link, where lexbor closes both and makes an HTML link of it; and in
``<svg><foreignObject><math></foreignObject><mi><a href=/y>`` the lower-case end tag does not close the SVG
``foreignObject`` for Chromium, whose ``<mi>`` stays MathML and its ``<a>`` HTML, a link.
``as_chromium_builds`` rewrites such end tags so that lexbor builds Chromium's tree: removed where Chromium ignores
one, repeated where Chromium closes an element beyond the first that lexbor would.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements that may put an <a> or <area> in the SVG or MathML namespace.
FOREIGN_ROOTS = frozenset({"svg", "math"})


def foreign_elements(roots: list[LexborNode]) -> set[int]:
    """The ``mem_id`` of every ``<a>``, ``<area>`` and ``<base>`` that is an SVG or MathML element, not an HTML one.

    ``roots`` are the document's ``<svg>`` and ``<math>`` elements, in document order. lexbor's selectors ignore
    namespaces, so this walks down each outermost one, knowing at each element which namespace its children get:
    the tree builder's rules, with the integration points where HTML comes back (``foreignObject``, ``mi``...).
    """
    foreign: set[int] = set()
    done: set[int] = set()
    for root in roots:
        if root.mem_id in done:
            continue
        # Most SVG (icons) holds no link at all: one query in C spares the walk in Python.
        if root.any_css_matches(("a, area, base",)):
            _walk_foreign(root, foreign, done)
        else:
            # Nor does any svg or math inside it: they are not queried again. Each querying its own subtree was
            # quadratic in their nesting: 32 KB of <svg><svg>... took 0.57 s of the event loop.
            done.update(node.mem_id for node in root.css("svg, math"))
    return foreign


_HTML, _SVG, _MATHML, _MATHML_TEXT, _ANNOTATION = range(5)  # what the children of an element become
_SVG_INTEGRATION = frozenset({"foreignobject", "desc", "title"})
_MATHML_TEXT_INTEGRATION = frozenset({"mi", "mo", "mn", "ms", "mtext"})
_LINK_LIKE = frozenset({"a", "area", "base"})


def _walk_foreign(root: LexborNode, foreign: set[int], done: set[int]) -> None:
    stack: list[tuple[LexborNode, int]] = [(root, _HTML)]
    while stack:
        node, context = stack.pop()
        tag = (node.tag or "").lower()
        namespace, children = _namespaces(node, tag, context)
        if tag in FOREIGN_ROOTS:
            done.add(node.mem_id)
        if namespace != _HTML and tag in _LINK_LIKE:
            foreign.add(node.mem_id)
        child = node.child
        while child is not None:
            if child.is_element_node:
                stack.append((child, children))
            child = child.next


def _namespaces(node: LexborNode, tag: str, context: int) -> tuple[int, int]:
    """(the element's own namespace, the context its children are parsed in), given the context it was parsed in."""
    if context == _MATHML_TEXT:  # start tags other than mglyph and malignmark follow the HTML rules again
        context = _MATHML if tag in ("mglyph", "malignmark") else _HTML
    elif context == _ANNOTATION:  # only <svg> does
        context = _HTML if tag == "svg" else _MATHML
    if context == _HTML:
        if tag == "svg":
            return _SVG, _SVG
        if tag == "math":
            return _MATHML, _MATHML
        return _HTML, _HTML
    if context == _SVG:
        return _SVG, _HTML if tag in _SVG_INTEGRATION else _SVG
    if tag in _MATHML_TEXT_INTEGRATION:
        return _MATHML, _MATHML_TEXT
    if tag == "annotation-xml":
        encoding = (node.attrs.get("encoding") or "").lower()
        return _MATHML, _HTML if encoding in ("text/html", "application/xhtml+xml") else _ANNOTATION
    return _MATHML, _MATHML


# The SVG element names written in mixed case (the standard's "adjust SVG tag name" table; Chromium's and lexbor's
# are the same), by their lower-case spelling.
_SVG_CASE = {
    name.lower(): name
    for name in (
        "altGlyph", "altGlyphDef", "altGlyphItem", "animateColor", "animateMotion", "animateTransform", "clipPath",
        "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
        "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
        "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
        "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence", "foreignObject", "glyphRef", "linearGradient",
        "radialGradient", "textPath",
    )
}  # fmt: skip
# An end tag with one of those names, up to its ">" (an end tag may carry attributes, whose quoted values may hold
# a ">"; an end tag with no ">" before the end of the page is no tag at all).
_NAMES = "|".join(sorted(_SVG_CASE, key=len, reverse=True))
_END_TAG = "</(" + _NAMES + ")(?=[\t\n\f\r />])(?:=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*')|[^>])*?>"
_END_TAGS: dict[type, re.Pattern[str] | re.Pattern[bytes]] = {
    str: re.compile(_END_TAG, re.IGNORECASE | re.ASCII),
    bytes: re.compile(_END_TAG.encode(), re.IGNORECASE),
}
# A start tag put where an end tag is to learn the current node there: the parser makes it the current node's child.
_PROBE = "linkcast-end-tag-probe"
_PAGE_PROBES: dict[type, re.Pattern[str] | re.Pattern[bytes]] = {
    str: re.compile(_PROBE, re.IGNORECASE | re.ASCII),
    bytes: re.compile(_PROBE.encode(), re.IGNORECASE),
}
# The most end tags looked at in a page, and the most characters their probes parse in all (each parses the page
# up to its end tag): a page needs an SVG-cased element outside SVG, or MathML inside SVG, to be probed at all, and
# the end tags past either bound are left as they are, so that no page costs more than a few parses of 1 MB.
MAX_PROBED_END_TAGS = 32
MAX_PROBED_CHARS = 8 * 1024 * 1024
# Chromium nests elements this deep at most (kMaximumHTMLParserDOMTreeDepth: deeper ones become siblings), where
# lexbor goes on: an end tag deeper than that is left to lexbor, and the walk up from a probe is bounded.
MAX_OPEN_ELEMENTS = 512


def as_chromium_builds(markup: bytes | str, tree: LexborHTMLParser) -> LexborHTMLParser:
    """lexbor's ``tree`` of ``markup``, which has SVG or MathML, made Chromium's where their end tags in foreign
    content differ (see above): the same tree, or that of the markup rewritten. (A page with neither has no foreign
    content, and is the same for both: looked for first, with its other landmarks, it costs no extra pass.)"""
    end_tags = _END_TAGS[type(markup)]
    names = {_text(name).lower() for name in end_tags.findall(markup)}  # type: ignore[arg-type]
    # lexbor's type selectors ignore case: this one matches the elements of those names in every namespace.
    if not names or not _may_differ(tree, ", ".join(names)):
        return tree
    chromium = _chromium_end_tags(markup, end_tags)
    return tree if chromium == markup else LexborHTMLParser(chromium)


def _may_differ(tree: LexborHTMLParser, selector: str) -> bool:
    """Whether the two parsers could close elements of the ``selector``'s SVG-cased names differently: one that is
    not in SVG's case (HTML or MathML), or MathML inside one (whose end tags Chromium reads in lower case)."""
    svg_cased = tree.css(selector)
    if any(node.tag != _SVG_CASE[(node.tag or "").lower()] for node in svg_cased):
        return True
    done: set[int] = set()
    for node in svg_cased:  # each subtree queried once, as in foreign_elements: nested ones are not again
        if node.mem_id in done:
            continue
        if node.any_css_matches(("math",)):
            return True
        done.update(inner.mem_id for inner in node.css(selector))
    return False


def _chromium_end_tags(markup: bytes | str, end_tags: re.Pattern[str] | re.Pattern[bytes]) -> bytes | str:
    """``markup`` with each SVG-cased end tag written as many times as lexbor needs it to close what Chromium closes
    with it: none where Chromium ignores it."""
    probe = f"<{_PROBE}>".encode() if isinstance(markup, bytes) else f"<{_PROBE}>"
    if _PAGE_PROBES[type(markup)].search(markup):  # type: ignore[arg-type]
        return markup  # the page's own would be taken for the probe
    at = parsed = 0
    for _ in range(MAX_PROBED_END_TAGS):
        match = end_tags.search(markup, at)  # type: ignore[arg-type]
        parsed += match.start() if match is not None else 0
        if match is None or parsed > MAX_PROBED_CHARS:
            break
        name = match.group(1).lower()
        times = _times(LexborHTMLParser(markup[: match.start()] + probe), _text(name))  # type: ignore[operator]
        tag = match.group(0) * times
        markup = markup[: match.start()] + tag + markup[match.end() :]  # type: ignore[operator]
        at = match.start() + len(tag)
    return markup


def _text(name: bytes | str) -> str:
    return name.decode("ascii") if isinstance(name, bytes) else name


def _times(tree: LexborHTMLParser, name: str) -> int:
    """How many end tags named ``name`` lexbor needs to close what one closes in Chromium, at the probe in ``tree``.

    In foreign content Chromium closes the nearest open foreign element named exactly as the end tag (in SVG's case
    if the current node is SVG), lexbor the nearest named so in any case; with no such element in Chromium, the end
    tag goes to the rules for HTML content, which ignore it: a name in SVG's case is no HTML element's, and a
    lower-case one met under MathML inside SVG meets the SVG integration point, which stops the search, before any.
    """
    found = tree.css(_PROBE)
    # No probe: the end tag is text (in a comment, a <script>...) or ignored by both; a probe with something after it
    # was foster-parented out of a table, which is then the current node (HTML).
    if not found or found[-1].next is not None:
        return 1
    chain = _open_elements(found[-1])
    if chain is None or chain[0][1] == _HTML:  # the rules for HTML content, the same in both
        return 1
    exact = _SVG_CASE[name] if chain[0][1] == _SVG else name
    closed = 0
    for node, namespace in chain:
        if namespace == _HTML:
            break
        closed += (node.tag or "").lower() == name
        if node.tag == exact:
            return closed
    return 0 if closed or exact != name else 1


def _open_elements(probe: LexborNode) -> list[tuple[LexborNode, int]] | None:
    """The probe's ancestors, nearest first, each with its namespace: the stack of open elements where it was put.
    None past ``MAX_OPEN_ELEMENTS``."""
    ancestors: list[LexborNode] = []
    node = probe.parent
    while node is not None and not node.is_document_node:
        if len(ancestors) == MAX_OPEN_ELEMENTS:
            return None
        ancestors.append(node)
        node = node.parent
    chain = []
    context = _HTML
    for node in reversed(ancestors):
        namespace, context = _namespaces(node, (node.tag or "").lower(), context)
        chain.append((node, namespace))
    chain.reverse()
    return chain
