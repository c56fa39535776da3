"""A document's character encoding, chosen as Chromium chooses it, and the URL query encoding that follows from it.

Order (the HTML standard's, as Chromium applies it): a byte order mark; else the ``charset`` of the HTTP
``Content-Type``; else UTF-16 for a page starting with ``<?xml`` in UTF-16; else a ``<meta charset>`` or ``<meta
http-equiv="Content-Type" content="...charset=...">`` found by Chromium's scan (``HTMLMetaCharsetParser``: every tag
in the head, and anywhere in the first 1024 bytes); else the encoding of an XML declaration at the start, which
Chromium reads in HTML too; else windows-1252. Labels follow the WHATWG Encoding standard (the ``webencodings``
package maps them).

Where Chromium goes further it is not followed: for a page that declares nothing, Chromium also runs a statistical
detector (CED) that may pick a legacy CJK encoding; here such a page is windows-1252, the standard's default.

The encoding matters for links in two ways: it decodes the bytes (so a non-ASCII href reads right), and a URL's query
is percent-encoded in it, not in UTF-8 (``?q=é`` is ``?q=%E9`` on a windows-1252 page); the fragment and the path are
always UTF-8.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import webencodings

from linkcast.core.cjk import big5_lookalikes, decode_iso_2022_jp, decoder_fixes, encoder_for

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
REPLACEMENT = "replacement"

_BOMS = ((codecs.BOM_UTF8, UTF8), (codecs.BOM_UTF16_BE, "utf-16be"), (codecs.BOM_UTF16_LE, "utf-16le"))

# Encodings whose URL queries are written in UTF-8 anyway (the standard's "get an output encoding").
_UTF8_OUTPUT = frozenset({UTF8, "utf-16be", "utf-16le", REPLACEMENT})

# The WHATWG gbk decoder is the gb18030 decoder; only the encoder differs (no four-byte sequences, euro as 0x80).
_DECODER_OVERRIDES = {"gbk": "gb18030"}

_QUERY_ERRORS = "linkcast-url-query"
# Bytes that are no character: one U+FFFD each (single-byte encodings have their undefined C1 bytes as controls
# in their own tables, ``_single_byte_codec``).
_DECODE_ERRORS = "replace"


@dataclass(frozen=True, slots=True)
class DocumentEncoding:
    """The WHATWG name of a document's encoding, the Python codecs that read and write it, and its BOM's length."""

    name: str
    decoder: codecs.CodecInfo
    encoder: codecs.CodecInfo
    bom_length: int = 0

    @property
    def is_utf8(self) -> bool:
        return self.name == UTF8

    @property
    def query_is_utf8(self) -> bool:
        """True when URL queries are percent-encoded as UTF-8, so no work beyond the URL parser is needed."""
        return self.name in _UTF8_OUTPUT


@functools.cache  # a handful of names; the objects are immutable
def _known(name: str, bom_length: int = 0) -> DocumentEncoding:
    encoding = webencodings.lookup(name)
    assert encoding is not None, name
    return _from_webencodings(encoding, bom_length)


def _from_webencodings(encoding: webencodings.Encoding, bom_length: int = 0) -> DocumentEncoding:
    # The codec objects, not their names: x-user-defined exists only as webencodings' codec, unregistered in Python.
    codec: codecs.CodecInfo = encoding.codec_info
    if encoding.name in _SINGLE_BYTE:
        codec = _single_byte_codec(encoding.name, codec.name)
    decoder = _DECODER_OVERRIDES.get(encoding.name)
    return DocumentEncoding(encoding.name, codecs.lookup(decoder) if decoder else codec, codec, bom_length)


# The WHATWG single-byte encodings (but x-user-defined, which webencodings has right).
_SINGLE_BYTE = frozenset(
    {"ibm866", "koi8-r", "koi8-u", "macintosh", "x-mac-cyrillic", "windows-874"}
    | {f"iso-8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)}
    | {"iso-8859-8-i"}
    | {f"windows-{n}" for n in range(1250, 1259)}
)
# Where the standard's index differs from Python's table (but for the undefined bytes 0x80-0x9F, see below).
_SINGLE_BYTE_DIFFERENCES = {"koi8-u": {0xAE: "\u045e", 0xBE: "\u040e"}, "windows-1255": {0xCA: "\u05ba"}}


@functools.cache
def _single_byte_codec(name: str, python_codec: str) -> codecs.CodecInfo:
    """The standard's single-byte encoding ``name`` as a codec: Python's table, where a byte 0x80-0x9F it leaves
    undefined (windows-1252's 0x81...) is the C1 control of that number both ways, as in the standard's indexes (and
    no other C1 control can be written), and with the standard's few other differences."""
    differences = _SINGLE_BYTE_DIFFERENCES.get(name, {})
    chars = []
    for byte in range(256):
        try:
            char = bytes((byte,)).decode(python_codec)
        except UnicodeDecodeError:
            char = chr(byte) if 0x80 <= byte <= 0x9F else "\ufffe"  # U+FFFE: undefined, to charmap_decode
        chars.append(differences.get(byte, char))
    decoding_table = "".join(chars)
    encoding_table = codecs.charmap_build(decoding_table)

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        return codecs.charmap_encode(text, errors, encoding_table)

    def decode(data: ReadableBuffer, errors: str = "strict") -> tuple[str, int]:
        return codecs.charmap_decode(data, errors, decoding_table)

    return codecs.CodecInfo(encode, decode, name=name)


@functools.lru_cache(maxsize=256)  # labels come from pages: bounded, since a page may make up any
def lookup(label: str) -> DocumentEncoding | None:
    """The encoding a WHATWG label names (``latin1`` is windows-1252, ``shift_jis`` is cp932...), or None."""
    encoding = webencodings.lookup(label)
    return None if encoding is None else _from_webencodings(encoding)


def document_encoding(body: bytes, content_type: str | None = None) -> DocumentEncoding:
    """The encoding Chromium decodes ``body`` with, given the response's ``Content-Type`` header."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _known(name, len(bom))
    if content_type:
        label = charset_parameter(content_type)
        found = lookup(label) if label else None
        if found is not None:
            return found
    for start, name in _UTF16_XML_DECLARATIONS:
        if body.startswith(start) and len(body) >= 8:
            return _known(name)
    label = meta_charset(body)
    if label is not None:
        found = lookup(label)
        if found is not None:
            # A meta cannot switch to UTF-16 (the bytes it was read from are ASCII-compatible) or to x-user-defined.
            if found.name in ("utf-16be", "utf-16le"):
                return _known(UTF8)
            if found.name == "x-user-defined":
                return _known(WINDOWS_1252)
            return found
    found = xml_declaration_encoding(body)
    if found is not None:
        return _known(UTF8) if found.name in ("utf-16be", "utf-16le") else found
    return _known(WINDOWS_1252)


# Chromium reads a page that starts with an XML declaration in UTF-16 without a BOM as UTF-16 (before any meta).
_UTF16_XML_DECLARATIONS = ((b"<\x00?\x00x\x00", "utf-16le"), (b"\x00<\x00?\x00x", "utf-16be"))


def xml_declaration_encoding(body: bytes) -> DocumentEncoding | None:
    """The encoding an XML declaration at the very start of ``body`` names, as Chromium reads one even in an HTML page
    (``TextResourceDecoder::CheckForXMLCharset``), after the header and the meta: ``<?xml`` (lower case, no space
    before it), up to the first ``>``, the first ``encoding`` in it, then ``=`` and a quoted label, any byte up to a
    space or past ASCII skipped around the ``=``. The label is taken as written (no spaces trimmed)."""
    if not body.startswith(b"<?xml") or len(body) < 8:
        return None
    end = body.find(b">")
    if end < 0:
        return None
    declaration = body[:end]
    at = declaration.find(b"encoding")
    if at < 0:
        return None
    found = _XML_ENCODING.match(declaration, at + len(b"encoding"))
    if found is None:
        return None
    label = found.group(2).decode("latin-1")
    if label != label.strip("\t\n\f\r "):
        return None
    return lookup(label)


# Chromium's test is ``char <= ' '`` on a signed char: controls, the space and every byte past ASCII.
_XML_ENCODING = re.compile(rb"[\x00-\x20\x80-\xff]*=[\x00-\x20\x80-\xff]*([\"'])(.*?)\1", re.DOTALL)


def charset_parameter(content_type: str) -> str | None:
    """The ``charset`` of a ``Content-Type`` value as Chromium reads it (``HttpUtil::ParseContentType``), or None.

    The value is split at commas outside double quotes, each part read in turn: the first ``charset`` parameter of a
    part whose media type has a ``/`` is taken (unquoted: up to the next ``;``, trailing spaces trimmed; quoted: up to
    the closing quote, a backslash escaping the next character); a parameter name is not trimmed (``charset =x`` is
    none), and one with an empty unquoted value is skipped. A later part with another media type clears it.
    """
    media_type, charset = "", None
    for part in _comma_separated(content_type):
        if not part or part == "*/*" or "/" not in part:
            continue
        part_type, part_charset = _media_type_and_charset(part)
        same = bool(media_type) and part_type == media_type
        if not same:
            media_type = part_type
        if (not same and charset is not None) or part_charset is not None:
            charset = part_charset or ""
    return charset.strip() or None if charset is not None else None


_LWS = " \t"


def _comma_separated(value: str) -> list[str]:
    """The parts of a header value between commas outside double quotes, trimmed of spaces and tabs."""
    parts, start, quoted, escaped = [], 0, False, False
    for at, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(value[start:at].strip(_LWS))
            start = at + 1
    parts.append(value[start:].strip(_LWS))
    return parts


def _media_type_and_charset(value: str) -> tuple[str, str | None]:
    """One part's media type (lower case) and its first ``charset`` parameter, if it has one."""
    size = len(value)
    type_start = _skip(value, 0, _LWS)
    type_end = _find_any(value, _LWS + ";(", type_start)
    charset: str | None = None
    offset = _find_any(value, ";", type_end)
    while offset < size:
        offset = _skip(value, offset + 1, _LWS)
        name_start = offset
        offset = _find_any(value, ";=", offset)
        if offset >= size or value[offset] == ";":
            continue
        name = value[name_start:offset]
        offset = _skip(value, offset + 1, _LWS)
        if offset >= size or value[offset] == ";":
            continue
        if value[offset] != '"':
            value_start, offset = offset, _find_any(value, ";", offset)
            parameter = value[value_start:offset].rstrip(_LWS)
        else:
            chars = []
            offset += 1
            while offset < size and value[offset] != '"':
                if value[offset] == "\\" and offset + 1 < size:
                    offset += 1
                chars.append(value[offset])
                offset += 1
            parameter = "".join(chars)
            offset = _find_any(value, ";", offset)
        if charset is None and name.lower() == "charset":
            charset = parameter
    return value[type_start:type_end].lower(), charset


def _skip(text: str, start: int, chars: str) -> int:
    while start < len(text) and text[start] in chars:
        start += 1
    return start


def _find_any(text: str, chars: str, start: int) -> int:
    while start < len(text) and text[start] not in chars:
        start += 1
    return start


def decode(body: bytes, encoding: DocumentEncoding) -> str:
    """``body`` as text; bytes the encoding cannot read become U+FFFD (C1 controls in single-byte encodings)."""
    if encoding.name == REPLACEMENT:
        # The standard's replacement encoding: a document in an encoding that is refused reads as one U+FFFD.
        return "\ufffd" if body else ""
    if encoding.name == "iso-2022-jp":
        return decode_iso_2022_jp(body[encoding.bom_length :])
    fixes = decoder_fixes(encoding.name)
    if fixes is None:
        text: str = encoding.decoder.decode(body[encoding.bom_length :], _DECODE_ERRORS)[0]
        return text
    data = body[encoding.bom_length :]
    lookalikes = big5_lookalikes(data) if encoding.name == "big5" else []
    if lookalikes:  # decoded apart, around those pairs
        parts, start = [], 0
        for at, char in lookalikes:
            parts += [encoding.decoder.decode(data[start:at], fixes.errors)[0], char]
            start = at + 2
        text = "".join(parts) + encoding.decoder.decode(data[start:], fixes.errors)[0]
    else:
        text = encoding.decoder.decode(data, fixes.errors)[0]
    # One "in" per character is many times quicker than the pattern's search.
    if fixes.pattern is None or not any(char in text for char in fixes.replacements):
        return text
    return fixes.pattern.sub(fixes.replace, text)


def encode_query(href: str, encoding: DocumentEncoding) -> str:
    """Rewrite the non-ASCII characters of ``href``'s query as the percent-encoded bytes of ``encoding``.

    The URL parser (ada) only knows UTF-8; handing it a query that is already ASCII makes it produce what a browser
    produces for a page in ``encoding``: it leaves ``%XX`` alone and encodes the rest of the query as usual.
    Characters the encoding cannot represent become ``%26%23<code point>%3B`` (``&#N;``), as the URL standard says.
    The CJK encodings use the Encoding standard's encoders (``cjk``), which Python's codecs differ from.
    """
    if encoding.query_is_utf8 or _written_as_is(href, encoding):
        return href
    # The URL parser strips these before anything else: a stateful encoder (ISO-2022-JP) must not see them, or a
    # trailing space, written before its closing escape sequence, would no longer be trailing.
    href = href.strip(_C0_OR_SPACE)
    fragment_at = href.find("#")
    query_at = href.find("?", 0, fragment_at if fragment_at >= 0 else len(href))
    if query_at < 0:
        return href
    end = fragment_at if fragment_at >= 0 else len(href)
    query = href[query_at + 1 : end]
    if _written_as_is(query, encoding):
        return href
    # The URL parser drops tabs and newlines before anything else; a stateful encoder (ISO-2022-JP) must not see them.
    query = query.translate(_TAB_NEWLINE)
    standard = encoder_for(encoding.name)
    encoded: bytes = standard(query) if standard is not None else encoding.encoder.encode(query, _QUERY_ERRORS)[0]
    return href[: query_at + 1] + _percent_encode_high(encoded) + href[end:]


def _written_as_is(text: str, encoding: DocumentEncoding) -> bool:
    """Whether ``text`` is ASCII that ``encoding`` writes as the same bytes: every ASCII-compatible encoding does, but
    ISO-2022-JP has Shift Out, Shift In and Escape as errors (so they are written as U+FFFD's ``&#65533;``)."""
    if not text.isascii():
        return False
    return encoding.name != "iso-2022-jp" or not any(char in text for char in _ISO_2022_JP_ERRORS)


_ISO_2022_JP_ERRORS = "\x0e\x0f\x1b"
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = {0x09: None, 0x0A: None, 0x0D: None}
# Bytes past ASCII, and "#", which an ISO-2022-JP encoder writes as a byte of a JIS X 0208 character: left as it is,
# it would end the query.
_HIGH_BYTES = re.compile(rb"[\x80-\xff#]")


def _percent_encode_high(data: bytes) -> str:
    return _HIGH_BYTES.sub(lambda match: b"%%%02X" % match.group()[0], data).decode("ascii")


def _query_error(error: UnicodeError) -> tuple[bytes, int]:
    """Encode-side errors: ``&#N;``, percent-encoded."""
    assert isinstance(error, UnicodeEncodeError)
    return b"".join(b"%%26%%23%d%%3B" % ord(char) for char in error.object[error.start : error.end]), error.end


codecs.register_error(_QUERY_ERRORS, _query_error)


# --- Chromium's meta charset scan -----------------------------------------------------------------------------------

_SCAN_UNCONDITIONALLY = 1024
_HEAD_TAGS = frozenset({b"script", b"noscript", b"style", b"link", b"meta", b"object", b"title", b"base"})
# Elements whose content is text to the tokenizer, so tags inside them are not tags.
_TEXT_ELEMENTS = frozenset({b"script", b"style", b"title", b"textarea", b"xmp", b"iframe", b"noembed", b"noframes"})
_WS = rb"\t\n\f\r "
_ATTRIBUTE = re.compile(
    rb"[" + _WS + rb"/]*+([^" + _WS + rb"/>][^" + _WS + rb"/>=]*+)"
    rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+(?:\"([^\"]*+)\"|'([^']*+)'|([^" + _WS + rb">]*+)))?"
)
_TAG = re.compile(rb"<(/?)([A-Za-z][^" + _WS + rb"/>]*+)((?:" + _ATTRIBUTE.pattern + rb")*+)[" + _WS + rb"/]*+>")
_MARKUP = re.compile(rb"<(?:!--|[!?]|/?[A-Za-z])")


def meta_charset(body: bytes) -> str | None:
    """The charset label of the first ``<meta>`` that declares one, scanning as Chromium does, or None.

    Chromium tokenizes from the start: tags inside comments, scripts, styles and titles are not tags; it stops once
    the head is over (a tag that does not belong in a head) and at least 1024 bytes have been read.
    """
    position = 0
    in_head = True
    while True:
        if not in_head and position >= _SCAN_UNCONDITIONALLY:
            return None
        found = _MARKUP.search(body, position)
        if found is None:
            return None
        start = found.start()
        if not in_head and start >= _SCAN_UNCONDITIONALLY:
            return None
        opener = body[start + 1 : start + 2]
        if body.startswith(b"<!--", start):
            position = _comment_end(body, start)
            continue
        if opener in (b"!", b"?"):
            end = body.find(b">", start)
            position = len(body) if end < 0 else end + 1
            continue
        tag = _TAG.match(body, start)
        if tag is None:
            return None  # a tag cut off by the end of the input: nothing after it is a tag
        position = tag.end()
        is_end = tag.group(1) == b"/"
        name = tag.group(2).lower()
        if not is_end:
            if name == b"meta":
                label = _charset_from_meta(tag.group(3))
                if label is not None and lookup(label) is not None:
                    return label
            elif name in _TEXT_ELEMENTS:
                position = _raw_text_end(body, position, name)
            elif name == b"plaintext":
                return None
        if name not in _HEAD_TAGS and (is_end or name not in (b"html", b"head")):
            in_head = False


def _comment_end(body: bytes, start: int) -> int:
    after = start + 4
    if body.startswith(b">", after):
        return after + 1
    if body.startswith(b"->", after):
        return after + 2
    # One search for either ending: a find of each scanned on to the end of the body for the one a page never writes,
    # at every comment (thousands of <!--x--> in a 64 KiB head took 0.4 s on the event loop).
    end = _COMMENT_END.search(body, after)
    return len(body) if end is None else end.end()


_COMMENT_END = re.compile(rb"--!?>")


def _raw_text_end(body: bytes, position: int, name: bytes) -> int:
    found = _CLOSING_TAGS[name](body, position)
    return len(body) if found is None else found.start()


_CLOSING_TAGS = {
    name: re.compile(rb"</" + name + rb"[" + _WS + rb"/>]", re.IGNORECASE).search for name in _TEXT_ELEMENTS
}


def _charset_from_meta(attributes: bytes) -> str | None:
    """Chromium's ``EncodingFromMetaAttributes``: ``charset`` wins, else ``content`` with ``http-equiv``."""
    seen: set[bytes] = set()
    pragma = False
    charset: str | None = None
    from_charset = False
    for match in _ATTRIBUTE.finditer(attributes):
        name = match.group(1).lower()
        if name in seen:
            continue  # the tokenizer keeps the first of duplicate attributes
        seen.add(name)
        raw = next((g for g in match.groups()[1:] if g is not None), b"")
        value = raw.decode("latin-1")
        if name == b"http-equiv":
            pragma = pragma or value.strip().lower() == "content-type"
        elif name == b"charset":
            charset, from_charset = value, True
        elif name == b"content" and not from_charset:
            extracted = _charset_from_content(value)
            if extracted:
                charset = extracted
    if charset is None or not (from_charset or pragma):
        return None
    return charset.strip(" \t\n\f\r")


def _charset_from_content(value: str) -> str:
    """Chromium's ``ExtractCharset``: the value after the first ``charset=`` in a meta ``content``."""
    lowered = value.lower()
    position = 0
    while True:
        position = lowered.find("charset", position)
        if position < 0:
            return ""
        position += len("charset")
        while position < len(value) and value[position] <= " ":
            position += 1
        if position >= len(value) or value[position] != "=":
            continue
        position += 1
        while position < len(value) and value[position] <= " ":
            position += 1
        if position >= len(value):
            return ""
        quote = value[position] if value[position] in "\"'" else ""
        if quote:
            position += 1
            end = value.find(quote, position)
            return "" if end < 0 else value[position:end]
        end = position
        while end < len(value) and value[end] > " " and value[end] not in "\"';":
            end += 1
        return value[position:end]
