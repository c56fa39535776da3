"""A page Chromium reads as an XML document (``application/xhtml+xml``, ``application/xml``, ``text/xml``...): the
hrefs of its links and its ``<base href>``, read as Chromium's XML parser (libxml2) builds the tree.

What differs from HTML, each checked against Chromium (the ``xhtml-*`` link cases):

- Only elements in the XHTML namespace are HTML: an ``<a>`` with no namespace (or an undeclared prefix), or
  ``<A>``, is no link, and an ``HREF`` or a prefixed ``x:href`` is no ``href``. ``xml:base`` is ignored; the first
  XHTML ``<base href>`` counts, as in HTML (not one inside ``<template>``, whose content is another document).
- At the first well-formedness error (a tag left open, ``&nbsp;`` with no DTD to declare it, an attribute's
  undeclared prefix, bytes the encoding cannot read, an XML version but 1.x, a nesting deeper than ``MAX_DEPTH``)
  Chromium stops: what was read before stays.
- Entities: those declared in the internal subset are expanded (markup too, and ``<!ATTLIST>`` defaults apply);
  nothing external is ever read. A DOCTYPE with an external identifier makes an undeclared entity no error (it is
  skipped), and one of the XHTML public identifiers Chromium knows declares HTML's named characters.
- Attribute values are normalized as XML says: a newline or tab written as such is a space (``%20`` in the URL).

Bounds, as the HTML path's: the caller caps the body, and a large one is read in a child with a deadline. Entity
expansion is bounded by expat's own guard (an amplification factor of 100 once past 8 MiB) and here by what the
expansions may add: elements and href characters past the document's size (and ``_SPARE_*``) stop the reading, as
libxml2's guard stops Chromium's (a billion laughs ends there, with the links before it).

Not followed: an ``<?xml-stylesheet?>`` XSLT transform (Chromium applies it, and reads the links of its output), and
a parameter entity in the internal subset (expanded here; Chromium leaves its declarations unread).
"""

from __future__ import annotations

import codecs
import html.entities
import re
from dataclasses import dataclass, field
from xml.parsers import expat

from linkcast.core.encoding import DocumentEncoding, charset_parameter, decode, lookup

XHTML_NS = "http://www.w3.org/1999/xhtml"
# The media types Chromium renders as an XML document (others with +xml it downloads, or shows as text).
XML_DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "application/xml", "text/xml", "image/svg+xml", "text/xsl"})
# Blink's XMLDocumentParser stops deeper than this (kMaxXMLTreeDepth), as at an error.
MAX_DEPTH = 5000
CHUNK_CHARS = 256 * 1024
MAX_TEXT_CHARS = 4000  # an anchor's text read, at most (the caller keeps fewer)
# Encodings in which a document can write U+FFFD itself. (Chromium goes on past a lone surrogate in UTF-16.)
_MAY_WRITE_REPLACEMENT = frozenset({"utf-16le", "utf-16be", "gb18030"})

# The public identifiers whose DTD Chromium takes as declaring HTML's named characters (and no others).
XHTML_PUBLIC_IDS = frozenset(
    {
        "-//W3C//DTD XHTML 1.0 Transitional//EN",
        "-//W3C//DTD XHTML 1.1//EN",
        "-//W3C//DTD XHTML 1.0 Strict//EN",
        "-//W3C//DTD XHTML 1.0 Frameset//EN",
        "-//W3C//DTD XHTML Basic 1.0//EN",
        "-//W3C//DTD XHTML 1.1 plus MathML 2.0//EN",
        "-//W3C//DTD XHTML 1.1 plus MathML 2.0 plus SVG 1.1//EN",
        "-//W3C//DTD MathML 2.0//EN",
        "-//WAPFORUM//DTD XHTML Mobile 1.0//EN",
        "-//WAPFORUM//DTD XHTML Mobile 1.1//EN",
        "-//WAPFORUM//DTD XHTML Mobile 1.2//EN",
    }
)

XML_NS = "http://www.w3.org/XML/1998/namespace"
_LINK_NAMES = frozenset({"a", "area"})
_DECLARATION = re.compile(rb"""\s*<\?xml[^>]{0,200}?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_VERSION = re.compile(r"""<\?xml[\t\n\r ]+version[\t\n\r ]*=[\t\n\r ]*["']([^"']{0,20})["']""")
_UTF16_WITHOUT_BOM = ((b"<\x00?\x00", "utf-16le"), (b"\x00<\x00?", "utf-16be"))
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16le"), (codecs.BOM_UTF16_BE, "utf-16be"))


def is_xml_document(content_type: str | None) -> bool:
    """Whether a response with this ``Content-Type`` is an XML document to Chromium."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in XML_DOCUMENT_TYPES


def xml_encoding(body: bytes, content_type: str | None) -> DocumentEncoding:
    """The encoding an XML document is read in (RFC 7303, as browsers apply it): a byte order mark, else the
    Content-Type ``charset``, else the XML declaration's ``encoding``, else UTF-8 (a ``<meta>`` is not read)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            found = lookup(name)
            assert found is not None
            return DocumentEncoding(found.name, found.decoder, found.encoder, len(bom))
    label = charset_parameter(content_type) if content_type else None
    found = lookup(label) if label else None
    if found is not None:
        return found
    for start, name in _UTF16_WITHOUT_BOM:
        if body.startswith(start):
            found = lookup(name)
            assert found is not None
            return found
    declared = _DECLARATION.match(body, 0, 512)
    found = lookup(declared.group(1).decode("ascii")) if declared else None
    if found is not None and found.name not in ("utf-16le", "utf-16be"):  # the bytes were ASCII: not UTF-16
        return found
    utf8 = lookup("utf-8")
    assert utf8 is not None
    return utf8


@dataclass(frozen=True, slots=True)
class XhtmlLinks:
    """What an XML document holds for its links: each distinct href in document order, its first ``<base href>``
    (None if none), and the encoding it was read in (which also encodes URL queries)."""

    hrefs: list[str]
    base_href: str | None
    encoding: DocumentEncoding
    texts: dict[str, str] = field(default_factory=dict)  # with anchor_texts: each href's first anchor's text


def read_xhtml(body: bytes, content_type: str | None, *, anchor_texts: bool = False) -> XhtmlLinks:
    """The hrefs and base of ``body`` as Chromium's XML parser reads it, as far as its first error; with
    ``anchor_texts``, also the text of each href's first anchor (``textContent``, else its first ``<img alt>``; an
    ``<area>``'s ``alt``), at most ``max_text`` characters of it."""
    encoding = xml_encoding(body, content_type)
    text, whole = _decoded(body, encoding)
    reader = _Reader(len(text), anchor_texts)
    version = _VERSION.match(text)
    if version is not None and not version.group(1).startswith("1."):
        whole, text = False, ""  # libxml2 refuses a version it does not know (expat reads it): nothing is read
    parser = reader.parser()
    try:
        for start in range(0, len(text), CHUNK_CHARS):
            parser.Parse(text[start : start + CHUNK_CHARS], False)
        if whole:
            parser.Parse("", True)
    except (expat.ExpatError, _Stop):
        pass  # Chromium stops there, keeping what it read before
    if reader.text_href is not None:
        reader.end_text()  # the document stopped inside it: what was read is its text, as in Chromium's tree
    return XhtmlLinks(list(reader.hrefs), reader.base_href, encoding, reader.texts)


def _decoded(body: bytes, encoding: DocumentEncoding) -> tuple[str, bool]:
    """The document's text, and False if it was cut at bytes the encoding cannot read: Chromium stops there."""
    if encoding.is_utf8:
        data = body[encoding.bom_length :]
        try:
            return data.decode("utf-8"), True
        except UnicodeDecodeError as error:
            return data[: error.start].decode("utf-8"), False
    text = decode(body, encoding)
    if encoding.name in _MAY_WRITE_REPLACEMENT:  # a U+FFFD may be the document's own
        return text, True
    # No other encoding can write U+FFFD: each one in the text is bytes it could not read.
    cut = text.find("\ufffd")
    return (text, True) if cut < 0 else (text[:cut], False)


class _Stop(Exception):
    """Reading stops here, as Chromium's does (too deep, or entities amplified past the bound)."""


# HTML's named characters (those written with their semicolon) as a DTD, for the XHTML public identifiers.
_XHTML_DTD = "".join(
    f'<!ENTITY {name[:-1]} "{"".join(f"&#{ord(char)};" for char in text)}">'
    for name, text in html.entities.html5.items()
    if name.endswith(";") and name[:-1] not in ("lt", "gt", "amp", "apos", "quot")
)
# What entity expansions may add past the document's own size before the reading stops: elements (each written
# takes 4 characters at least) and href characters.
_SPARE_ELEMENTS = 10_000
_SPARE_HREF_CHARS = 1 << 20


class _Reader:
    """expat's handlers: the links and the base, the nesting, and what entity expansion has added."""

    def __init__(self, size: int, anchor_texts: bool = False) -> None:
        self.anchor_texts = anchor_texts
        self.texts: dict[str, str] = {}
        self.text_href: str | None = None  # the href whose first anchor's text is being read
        self.text_depth = 0
        self.text_parts: list[str] = []
        self.text_left = 0
        self.image_alt: str | None = None
        self.hrefs: dict[str, None] = {}
        self.base_href: str | None = None
        self.depth = 0
        self.template_depth = 0  # the depth of the <template> being read (0: none), whose content is not the tree's
        self.elements_left = size // 4 + _SPARE_ELEMENTS
        self._parser: expat.XMLParserType | None = None
        self.scope: dict[str, str] = {"xml": XML_NS}  # the namespace of each prefix in scope ("": the default)
        self.replaced: list[list[tuple[str, str | None]] | None] = []  # per open element: what its xmlns replaced
        self.href_chars_left = size + _SPARE_HREF_CHARS

    def parser(self) -> expat.XMLParserType:
        # Namespaces are resolved here, not by expat, which refuses an undeclared prefix outright: Chromium does only
        # on an attribute's.
        parser = self._parser = expat.ParserCreate()
        # The external DTD is "read" by _external_entity, which reads nothing from outside.
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE)
        parser.ExternalEntityRefHandler = self._external_entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        if self.anchor_texts:
            parser.CharacterDataHandler = self._text
            parser.buffer_text = True
        return parser

    def _external_entity(self, context: str | None, _base: str | None, _system: str | None, public: str | None) -> int:
        # Never read: an external entity is skipped (as Chromium skips it), and the DTD of an XHTML public identifier
        # is the built-in list of HTML's named characters.
        if context is None and public in XHTML_PUBLIC_IDS and self._parser is not None:
            self._parser.ExternalEntityParserCreate(None).Parse(_XHTML_DTD, True)
        return 1

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        self.elements_left -= 1
        if self.depth > MAX_DEPTH or self.elements_left < 0:
            raise _Stop
        replaced: list[tuple[str, str | None]] | None = None
        prefixed = False
        for key in attributes:
            if key.startswith("xmlns") and (len(key) == 5 or key[5] == ":"):
                replaced = replaced or []
                replaced.append((key[6:], self.scope.get(key[6:])))
                self.scope[key[6:]] = attributes[key]
            elif ":" in key:
                prefixed = True
        self.replaced.append(replaced)
        if prefixed and any(self._unbound(key) for key in attributes):
            raise _Stop  # Blink stops at an attribute whose prefix is undeclared (an element's is just no namespace)
        prefix, colon, local = name.rpartition(":")
        if self.template_depth or self.scope.get(prefix if colon else "") != XHTML_NS:
            return
        if local in _LINK_NAMES:
            href = attributes.get("href")
            if href is not None and href not in self.hrefs:
                self.href_chars_left -= len(href)
                if self.href_chars_left < 0:
                    raise _Stop
                self.hrefs[href] = None
                if self.anchor_texts:
                    self._start_text(local, href, attributes)
        elif local == "img" and self.text_href is not None and self.image_alt is None:
            self.image_alt = attributes.get("alt")
        elif local == "base":
            if self.base_href is None and "href" in attributes:
                self.base_href = attributes["href"]
        elif local == "template":
            self.template_depth = self.depth

    def _unbound(self, attribute: str) -> bool:
        prefix, colon, _local = attribute.rpartition(":")
        return bool(colon) and prefix not in ("xml", "xmlns") and not self.scope.get(prefix)

    def _start_text(self, local: str, href: str, attributes: dict[str, str]) -> None:
        if local == "area":
            self.texts[href] = attributes.get("alt") or ""
        elif self.text_href is None:
            self.text_href, self.text_depth, self.text_parts, self.image_alt = href, self.depth, [], None
            self.text_left = MAX_TEXT_CHARS
        else:
            self.texts[href] = ""  # an <a> inside the one being read: its text is that one's

    def _text(self, data: str) -> None:
        if self.text_href is not None and self.text_left > 0:
            self.text_parts.append(data[: self.text_left])
            self.text_left -= len(data)

    def end_text(self) -> None:
        text = "".join(self.text_parts)
        assert self.text_href is not None
        self.texts[self.text_href] = text if text.strip() else self.image_alt or ""
        self.text_href, self.text_parts, self.image_alt = None, [], None

    def _end(self, _name: str) -> None:
        if self.text_href is not None and self.depth == self.text_depth:
            self.end_text()
        if self.template_depth == self.depth:
            self.template_depth = 0
        self.depth -= 1
        replaced = self.replaced.pop()
        if replaced is not None:  # the element's declarations go out of scope
            for prefix, value in reversed(replaced):
                if value is None:
                    del self.scope[prefix]
                else:
                    self.scope[prefix] = value
