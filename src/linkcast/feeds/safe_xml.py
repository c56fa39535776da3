"""XML read with the standard library's expat, safely: decoded as a browser would, no entity ever expanded.

Safety: a DOCTYPE with an internal subset (``<!DOCTYPE rss [ … ]>``, where every entity attack lives: billion laughs,
quadratic blowup, external entities) is refused as soon as expat sees it, before any declaration in it is read. A
DOCTYPE that only names an external DTD (the Netscape RSS 0.91 one is common in old feeds) is harmless and allowed:
expat never reads it (parameter entity parsing is off, and no handler of ours ever opens anything). Because the
document is told it has an unread DTD, a reference to an undeclared entity (``&nbsp;``, which that DTD and sloppy
feeds use) is not an error: it is passed to ``entity_text``, which knows only HTML's named character references.

Encoding (RFC 7303, as browsers apply it): a byte order mark, else the Content-Type ``charset``, else the XML
declaration's ``encoding``, else UTF-8; labels by the WHATWG Encoding standard. The document is decoded here (bytes
the encoding cannot read become U+FFFD), characters XML forbids (C0 controls) are dropped, and expat is handed text,
so any encoding Python knows is read, not just the four expat knows, and the declaration cannot contradict it.

Namespaces are resolved here, not by expat: real feeds use ``dc:`` or ``content:`` without declaring them, which
expat's namespace mode refuses outright; here an undeclared well-known prefix means its usual namespace.
"""

from __future__ import annotations

import html.entities
import re
import time
from collections.abc import Callable
from xml.parsers import expat

from linkcast.core.encoding import decode
from linkcast.core.xhtml import XML_NS, xml_encoding  # the encoding rule is the same for a page's XML

CHUNK_CHARS = 256 * 1024  # text handed to expat at a time: the time bound is checked between chunks

_TEXT_DECLARATION = re.compile(r"[\ufeff\s]*<\?xml[\t\n\r ][^>]{0,300}?\?>")
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HTML_ENTITIES = html.entities.html5  # "nbsp;" -> "\xa0"

# Undeclared prefixes that real feeds use as if declared, and the namespace they always mean.
WELL_KNOWN_PREFIXES = {
    "xml": XML_NS,
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xhtml": "http://www.w3.org/1999/xhtml",
}


class XmlRefused(Exception):
    """The document is refused: ``code`` is ``unsafe_xml`` (a DTD subset), ``invalid`` (not well-formed),
    ``too_complex`` (nested too deep, or past the time bound)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def xml_text(body: bytes, content_type: str | None) -> str:
    """``body`` decoded (see ``xml_encoding``), without the characters XML 1.0 forbids, and without its XML
    declaration: its encoding is decided already, and expat refuses one after blank lines (a common fault: a blog
    engine's plugin printing a newline first) or with an encoding name the XML grammar does not allow (``"437"``)."""
    text = decode(body, xml_encoding(body, content_type))
    declaration = _TEXT_DECLARATION.match(text)
    if declaration is not None:
        text = text[declaration.end() :]
    return _NOT_XML_CHARS.sub("", text)


def entity_text(name: str) -> str:
    """An undeclared entity reference's text: HTML's named character reference, else the reference as written."""
    return _HTML_ENTITIES.get(name + ";", f"&{name};")


def safe_parser() -> expat.XMLParserType:
    """An expat parser with no namespace processing that refuses DTD subsets and never reads anything external."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.UseForeignDTD(True)  # undeclared entities are then "skipped" (reported), not errors
    parser.StartDoctypeDeclHandler = _refuse_internal_subset
    parser.EntityDeclHandler = _refuse_declaration
    parser.UnparsedEntityDeclHandler = _refuse_declaration
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024
    parser.ordered_attributes = False
    return parser


def _refuse_internal_subset(_name: str, _system_id: str | None, _public_id: str | None, internal: int) -> None:
    if internal:
        raise XmlRefused("unsafe_xml", "the document declares a DTD (entities): refused unread")


def _refuse_declaration(*_args: object) -> None:
    raise XmlRefused("unsafe_xml", "the document declares an entity: refused unread")


def _refuse_external(*_args: object) -> int:
    raise XmlRefused("unsafe_xml", "the document refers to an external entity: refused unread")


def feed_parser(parser: expat.XMLParserType, text: str, deadline: float, check: Callable[[], None]) -> None:
    """Hand ``text`` to ``parser`` a chunk at a time, calling ``check`` and enforcing ``deadline`` between chunks.

    Raises ``XmlRefused("invalid")`` for a document that is not well-formed."""
    try:
        for start in range(0, len(text), CHUNK_CHARS):
            if time.monotonic() > deadline:
                raise XmlRefused("too_complex", "reading the document took too long")
            parser.Parse(text[start : start + CHUNK_CHARS], False)
            check()
        parser.Parse("", True)
    except expat.ExpatError as error:
        message = f"not well-formed XML: {expat.ErrorString(error.code)} at line {error.lineno}, column {error.offset}"
        raise XmlRefused("invalid", message) from None


class Namespaces:
    """The namespace declarations in scope while reading: one mapping, changed as elements that declare some start,
    and put back as they end. (A copy of the mapping per declaring element cost the number of prefixes in scope each
    time: 500 KB of them on the root and 500 KB of children declaring one took 3 s.)"""

    def __init__(self) -> None:
        self._scope: dict[str, str] = {}
        # Per open element: what its declarations replaced, to put back at its end (None: nothing declared).
        self._replaced: list[list[tuple[str, str | None]] | None] = []

    def enter(self, attributes: dict[str, str]) -> bool:
        """An element starts: apply the declarations among its ``attributes`` (``xmlns``, ``xmlns:p``). True if it
        declares any (names then resolve differently until it ends)."""
        replaced = None
        if attributes:
            for name, value in attributes.items():
                if name == "xmlns" or name.startswith("xmlns:"):
                    prefix = name[6:]
                    replaced = replaced or []
                    replaced.append((prefix, self._scope.get(prefix)))
                    self._scope[prefix] = value
        self._replaced.append(replaced)
        return replaced is not None

    def leave(self) -> bool:
        """An element ends; True if its declarations went out of scope."""
        replaced = self._replaced.pop()
        if replaced is None:
            return False
        for prefix, value in replaced:
            if value is None:
                del self._scope[prefix]
            else:
                self._scope[prefix] = value
        return True

    def resolve(self, qualified: str, *, attribute: bool = False) -> tuple[str, str]:
        """``(namespace URI, local name)`` of an element or attribute name (an unprefixed attribute has none)."""
        prefix, colon, local = qualified.rpartition(":")
        if not colon:
            return ("" if attribute else self._scope.get("", "")), qualified
        found = self._scope.get(prefix)
        if found is None:
            found = WELL_KNOWN_PREFIXES.get(prefix.lower(), prefix + ":")
        return found, local
