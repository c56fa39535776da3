"""The text of one element while it is read: bounded, hashed whole, and for content its nested markup rebuilt.

Feeds carry HTML three ways: escaped in text (RSS ``description``, Atom ``type="html"``), as XHTML elements (Atom
``type="xhtml"``), and, against the specs but often, as raw elements inside an RSS ``description``. Text at the
element's own level is kept as it is (for HTML that is markup already); nested elements are written back as HTML,
their text escaped, so each way ends as one HTML string. An ``href`` on a nested ``<a>`` or ``<area>`` under an
``xml:base`` of its own is resolved against it here, since the HTML string can carry only one base.
"""

from __future__ import annotations

import hashlib
from html import escape

from linkcast.core.resolution import resolve_base

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
_LINK_ELEMENTS = frozenset({"a", "area"})
# Characters of base URL and href that one document's xml:base resolutions may read in all (each reads its base
# whole): far past what any feed needs, an entry or a link at a time.
MAX_BASE_CHARS = 4 * 1024 * 1024


class BaseResolver:
    """``resolve_base`` for one document's ``xml:base`` (and the links under a nested one), within ``MAX_BASE_CHARS``:
    past it, None (the base in scope is kept). Each resolution copies its base, so elements under a long one each
    resolving a base of their own was quadratic: a 786 KB feed took 7.6 s."""

    def __init__(self, budget: int = MAX_BASE_CHARS) -> None:
        self.left = budget

    def resolve(self, base: str, href: str) -> str | None:
        self.left -= len(base) + len(href)
        return resolve_base(base, href) if self.left >= 0 else None


class Capture:
    """Text of one element, at most ``limit`` characters kept, every character hashed when ``hashed``."""

    __slots__ = (
        "_hasher", "base", "depth", "kind", "limit", "markup", "nesting", "overflowed", "parts", "size", "slot",
    )  # fmt: skip

    def __init__(self, slot: str, depth: int, limit: int, *, base: str, kind: str, markup: bool, hashed: bool) -> None:
        self.slot = slot  # where the text goes when the element ends
        self.depth = depth  # the element's depth, to know its end
        self.limit = limit
        self.base = base
        self.kind = kind  # "text", "html", "xhtml" or "maybe_html"
        self.markup = markup  # nested elements are written back as markup (content), not just their text
        self.parts: list[str] = []
        self.size = 0
        self.nesting = 0
        self.overflowed = False
        self._hasher = hashlib.sha256() if hashed else None

    def text(self, data: str) -> None:
        """Character data: escaped if it is inside a nested element of markup, or the element is XHTML."""
        if self.markup and (self.nesting or self.kind == "xhtml"):
            data = escape(data, quote=False)
        self._add(data)

    def start(self, qualified: str, attributes: dict[str, str], base: str, bases: BaseResolver) -> None:
        """A nested element starts, under ``base``."""
        self.nesting += 1
        if not self.markup:
            return
        name = qualified.rpartition(":")[2].lower()
        written = []
        for key, value in attributes.items():
            if key == "xmlns" or key.startswith(("xmlns:", "xml:")):
                continue
            if key == "href" and name in _LINK_ELEMENTS and base != self.base:
                value = bases.resolve(base, value.strip()) or value
            written.append(f' {key.rpartition(":")[2]}="{escape(value)}"')
        self._add(f"<{name}{''.join(written)}>")

    def end(self, qualified: str) -> None:
        """A nested element ends."""
        self.nesting -= 1
        name = qualified.rpartition(":")[2].lower()
        if self.markup and name not in _VOID:
            self._add(f"</{name}>")

    def value(self) -> str:
        return "".join(self.parts)

    def digest(self) -> bytes:
        return self._hasher.digest() if self._hasher is not None else b""

    def _add(self, data: str) -> None:
        if self._hasher is not None:
            self._hasher.update(data.encode("utf-8", "surrogatepass"))
        if self.size >= self.limit:
            self.overflowed = True
            return
        if self.size + len(data) > self.limit:
            self.overflowed = True
            data = data[: self.limit - self.size]
        self.parts.append(data)
        self.size += len(data)
