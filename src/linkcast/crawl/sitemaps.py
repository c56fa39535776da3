"""Sitemaps (sitemaps.org) read with no I/O: XML URL sets and indexes, RSS and Atom feeds, text lists, gzip, every one
of them bounded.

API::

    parse_sitemap(body: bytes, sitemap_url: str, *, site_host: str | None = None,
                  limits: SitemapLimits = SitemapLimits(), truncated: bool = False) -> Sitemap
    Sitemap.kind: "urlset" | "sitemapindex" | "feed" | "text" | "unknown"   # feed: RSS 2.0 or Atom
    Sitemap.urls: tuple[str, ...]       # pages (<urlset>, feed or text): http(s) URLs on site_host, first kept
    Sitemap.sitemaps: tuple[str, ...]   # sitemaps (<sitemapindex>): http(s) URLs on the sitemap's own host
    Sitemap.dropped: int                # entries refused: another host, not http(s), not a URL
    Sitemap.truncated: bool             # a bound was reached (or the body was cut): what follows was not read
    Sitemap.error: str | None           # why reading stopped early: a DTD, XML that does not parse...
    SitemapLimits(max_urls=50_000, max_bytes=50 MiB, max_sitemaps=100, max_total_urls=50_000,
                  max_total_chars=16 Mi, max_depth=2, max_seconds=10.0, max_total_seconds=60.0)
    SitemapLimits.from_settings(settings)

Bounds: at most ``max_urls`` entries and ``max_bytes`` uncompressed bytes per sitemap (the sitemaps.org limits); a
gzip body (found by its magic bytes, whatever its name or type) is inflated 64 KiB at a time, each of its members (up
to 10,000) in turn, never past ``max_bytes``, each piece handed to the parser at once, so a gzip bomb costs
``max_bytes`` of inflating and no memory.

XML is read by the standard library's expat with no DTD at all: a sitemap has no use for one, so a ``<!DOCTYPE``
ends the document at once, before any entity is declared. Billion laughs and quadratic blowup (entities), external
entities and DTD fetches (a SYSTEM identifier is never read, let alone fetched) all stop there, cleanly, as an error.
Entries are matched by local name (``<url><loc>``, ``<sitemap><loc>``, an RSS ``<item><link>``, an Atom
``<entry><link href>`` of the entry's own page) at their depth, whatever the namespace, so extensions (``<image:loc>``
inside ``<url>``) are not taken for pages.

Hosts: a sitemap's pages must be on the site's host (``site_host``, by default the sitemap's own: the sitemaps.org
rule). A sitemap on another host that the site's robots.txt lists (sitemaps.org "cross submits") may list the site's
pages, so the caller passes the site's host; an index may list only sitemaps on its own host (sitemaps.org).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from xml.parsers import expat

import ada_url

from linkcast.core.errors import InvalidInput
from linkcast.core.inputs import validate_url
from linkcast.settings import Settings

SITEMAP_MAX_URLS = 50_000  # sitemaps.org: per sitemap file, and per index
SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # sitemaps.org: uncompressed
INFLATE_STEP = 64 * 1024  # also the most handed to expat at once: a call holds the GIL until it returns
# Expat (2.5, as CPython 3.11 bundles it) reads a token cut across pieces from its start again with each piece, so one
# tag or comment of 30 MiB took 6.5 s, quadratic. No tag, comment or declaration of a sitemap is this long.
MAX_TOKEN_BYTES = 1024 * 1024
MAX_LOC_CHARS = 64 * 1024  # an entry longer than this is no URL (those are at most 8 KiB here): not kept whole
GZIP_MAGIC = b"\x1f\x8b"
# A gzip body is read member after member: a sitemap has one, or a few when files were joined or a writer flushed as
# it went. Bounded, since each member costs an inflater: a body of empty members (20 bytes each) would be 500,000.
MAX_GZIP_MEMBERS = 10_000
GZIP_INPUT_STEP = 4096  # the compressed bytes handed to zlib at once
UTF8_BOM = b"\xef\xbb\xbf"
XML_STARTS = (b"<", b"\xff\xfe", b"\xfe\xff")  # markup (after a UTF-8 BOM, if one, and white space), or UTF-16

Kind = Literal["urlset", "sitemapindex", "feed", "text", "unknown"]


@dataclass(frozen=True, slots=True)
class SitemapLimits:
    """How much of a site's sitemaps is read: per sitemap (sitemaps.org's limits) and for the whole site."""

    max_urls: int = SITEMAP_MAX_URLS
    max_bytes: int = SITEMAP_MAX_BYTES
    max_sitemaps: int = 100  # sitemap files fetched for one site, indexes included
    max_total_urls: int = 50_000  # page URLs taken from all of them
    # Their characters, in all: URLs of up to 8 KiB made the 50,000 of 100 gzipped sitemaps (2 MB sent) 400 MB held by
    # one crawl job, and each crawl of the site read them again. 50,000 URLs of 320 characters fit.
    max_total_chars: int = 16 * 1024 * 1024
    max_depth: int = 2  # an index and the sitemaps it lists; an index listed by an index is not followed
    max_seconds: float = 10.0  # reading one sitemap: 50 MiB of tiny elements would take expat's callbacks ~7 s
    # Fetching and reading all of a site's sitemaps, which the job of one seed does one after the other: each fetch
    # has --fetch-timeout, but max_sitemaps slow ones in a row would hold a worker for 100 x 30 s.
    max_total_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SitemapLimits:
        """``--max-sitemaps``, ``--max-sitemap-urls``, ``--parse-timeout`` for the time to read one sitemap, and
        twice ``--fetch-timeout`` for all of them."""
        return cls(
            max_sitemaps=settings.max_sitemaps,
            max_total_urls=settings.max_sitemap_urls,
            max_seconds=settings.parse_timeout,
            max_total_seconds=2 * settings.fetch_timeout,
        )


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap file lists, and what of it was refused or left unread."""

    kind: Kind
    urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    dropped: int = 0
    truncated: bool = False
    error: str | None = None


class _Stop(Exception):
    """Ends reading from inside a parser callback: a bound was reached (``error`` None) or the document is refused."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__(error)
        self.error = error


class _Entries:
    """The entries read so far: each checked (http(s), host), first occurrence kept, at most ``limit`` read.

    Refused and repeated entries count toward the limit too: a sitemap holds at most that many (sitemaps.org), and
    reading stops there whatever they are, so a file of junk costs no more than a file of URLs.
    """

    def __init__(self, page_host: str, own_host: str, limit: int) -> None:
        self.page_host, self.own_host, self.limit = page_host, own_host, limit
        self.urls: dict[str, None] = {}
        self.dropped = 0
        self.read = 0

    def count(self) -> None:
        """One more entry read (a line, or an element right inside the root), or ``_Stop`` past the limit."""
        if self.read >= self.limit:
            raise _Stop()
        self.read += 1

    def add(self, text: str, *, sitemap: bool) -> None:
        url = _http_url(text.strip())
        host = ada_url.URL(url).hostname if url else None
        if url is None or host != (self.own_host if sitemap else self.page_host):
            self.dropped += 1
        else:
            self.urls[url] = None


def parse_sitemap(
    body: bytes,
    sitemap_url: str,
    *,
    site_host: str | None = None,
    limits: SitemapLimits | None = None,
    truncated: bool = False,
) -> Sitemap:
    """Read one sitemap. ``truncated`` says that ``body`` was cut by the fetch (its end is then not an error)."""
    limits = limits or SitemapLimits()
    own_host = ada_url.URL(sitemap_url).hostname
    entries = _Entries(site_host or own_host, own_host, limits.max_urls)
    source = _Body(body, limits.max_bytes)
    chunks = iter(source)
    first = next(chunks, b"")
    deadline = time.monotonic() + limits.max_seconds
    if first.removeprefix(UTF8_BOM).lstrip().startswith(XML_STARTS):
        kind, cut, error = _read_xml(first, chunks, entries, deadline)
    else:
        kind = "text"
        cut, error = _read_text(first, chunks, entries, deadline)
    cut = cut or source.overflowed
    if cut or truncated:
        error = None if error is not None and error.startswith("XML:") else error  # a cut document ends badly
    urls = tuple(entries.urls)
    is_index = kind == "sitemapindex"
    return Sitemap(kind, () if is_index else urls, urls if is_index else (), entries.dropped, cut or truncated, error)


def _http_url(text: str) -> str | None:
    try:
        return validate_url(text)
    except InvalidInput:
        return None


class _Body:
    """The body in pieces, inflated if it is gzip, never past ``limit`` bytes; ``overflowed`` once there was more."""

    def __init__(self, body: bytes, limit: int) -> None:
        self.body, self.limit = body, limit
        self.overflowed = False

    def __iter__(self) -> Iterator[bytes]:
        if not self.body.startswith(GZIP_MAGIC):
            # In pieces too: expat handed 50 MiB at once held the GIL, so the event loop, for its whole parse (1.2 s).
            self.overflowed = len(self.body) > self.limit
            for start in range(0, min(len(self.body), self.limit), INFLATE_STEP):
                yield self.body[start : min(start + INFLATE_STEP, self.limit)]
            return
        yield from self._inflated()

    def _inflated(self) -> Iterator[bytes]:
        """A gzip body inflated: each of its members in turn (RFC 1952 2.2: a gzip file is a series of them, as files
        joined or a writer that flushed as it went make), at most ``MAX_GZIP_MEMBERS``. What follows the last member
        is no gzip: it ends the body. The body is handed to zlib ``GZIP_INPUT_STEP`` at a time, so that what follows
        each member's end, which zlib copies out, is never the whole rest of a body of many members."""
        view = memoryview(self.body)
        inflater, members = zlib.decompressobj(16 + zlib.MAX_WBITS), 1
        offset, size = 0, 0
        pending: bytes | memoryview = b""
        try:
            while True:
                if not pending:
                    if offset >= len(view):
                        return
                    pending, offset = view[offset : offset + GZIP_INPUT_STEP], offset + GZIP_INPUT_STEP
                piece = inflater.decompress(pending, min(INFLATE_STEP, self.limit - size + 1))
                pending = inflater.unconsumed_tail
                if size + len(piece) > self.limit:
                    self.overflowed = True
                    yield piece[: self.limit - size]
                    return
                size += len(piece)
                if piece:
                    yield piece
                if inflater.eof:
                    pending = inflater.unused_data + view[offset : offset + 2]  # the next member's magic, if one
                    offset += len(pending) - len(inflater.unused_data)
                    if not pending.startswith(GZIP_MAGIC):
                        return
                    if members == MAX_GZIP_MEMBERS:
                        self.overflowed = True
                        return
                    inflater, members = zlib.decompressobj(16 + zlib.MAX_WBITS), members + 1
        except zlib.error:
            return  # a damaged stream ends where it breaks; what came before it is read


def _read_text(first: bytes, chunks: Iterator[bytes], entries: _Entries, deadline: float) -> tuple[bool, str | None]:
    """A text sitemap: one URL per line (a URL has no whitespace, so blank lines cost nothing). True if a bound hit."""
    partial = b""
    try:
        for chunk in _pieces(first, chunks, deadline):
            data = partial + chunk
            end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            partial = data[end:] if len(data) - end <= MAX_LOC_CHARS else b""  # a line without end is no URL
            for token in data[:end].split():
                entries.count()
                entries.add(token.decode("utf-8", "replace").lstrip("\ufeff"), sitemap=False)
        for token in partial.split():
            entries.count()
            entries.add(token.decode("utf-8", "replace").lstrip("\ufeff"), sitemap=False)
    except _Stop as stop:
        return True, stop.error
    return False, None


def _pieces(first: bytes, chunks: Iterator[bytes], deadline: float) -> Iterator[bytes]:
    """The body's pieces in turn, until the time to read it is up."""
    yield first
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise _Stop("took too long to read: the rest was not read")
        yield chunk


def _read_xml(
    first: bytes, chunks: Iterator[bytes], entries: _Entries, deadline: float
) -> tuple[Kind, bool, str | None]:
    """A ``<urlset>`` or ``<sitemapindex>``. Returns its kind, whether a bound stopped it, and why it failed."""
    reader = _XmlReader(entries)
    parser, fed = reader.parser, 0
    try:
        for chunk in _pieces(first, chunks, deadline):
            parser.Parse(chunk, False)
            fed += len(chunk)
            # Outside a callback, CurrentByteIndex is where the token not yet whole begins.
            if fed - max(parser.CurrentByteIndex, 0) > MAX_TOKEN_BYTES:
                raise _Stop(f"a tag, comment or declaration longer than {MAX_TOKEN_BYTES:,} bytes: not read")
        parser.Parse(b"", True)
    except _Stop as stop:
        return reader.kind, stop.error is None or stop.error.startswith("took"), stop.error
    except expat.ExpatError as error:
        return reader.kind, False, f"XML: {expat.ErrorString(error.code)} at line {error.lineno}"
    except (LookupError, ValueError):
        # expat asks Python for an encoding it does not know itself, and Python's answer raises out of Parse: an
        # unknown name (LookupError), a multi-byte encoding (ValueError: Shift_JIS), or a codec that cannot decode
        # (UnicodeError, a ValueError: idna). A sitemap is UTF-8 (sitemaps.org); this one cannot be read.
        return reader.kind, False, f"XML: the encoding {reader.encoding!r} cannot be read (a sitemap is UTF-8)"
    return reader.kind, False, None


# What each kind of XML document sitemaps.org accepts is read for: its kind here, and the local names from the root
# down to the element that holds an entry's URL (its text; an Atom link's href). Each element right above that one is
# an entry, counted toward the bound. RSS 2.0 and Atom 0.3 and 1.0 feeds are sitemaps too ("other sitemap formats"):
# the link of each item or entry is a page.
_DOCUMENTS: dict[str, tuple[Kind, tuple[str, ...]]] = {
    "urlset": ("urlset", ("urlset", "url", "loc")),
    "sitemapindex": ("sitemapindex", ("sitemapindex", "sitemap", "loc")),
    "rss": ("feed", ("rss", "channel", "item", "link")),
    "feed": ("feed", ("feed", "entry", "link")),
}


class _XmlReader:
    """Expat callbacks: the root's kind, and the URL of each entry (``_DOCUMENTS``): a ``loc`` right inside a ``url``
    or ``sitemap``, the ``link`` of an RSS item or an Atom entry."""

    def __init__(self, entries: _Entries) -> None:
        self.entries = entries
        self.kind: Kind = "unknown"
        self.path: tuple[str, ...] = ()  # where the entries' URLs are, once the root is known
        self.reach = 1  # the depth of those URLs: below it nothing is read
        self.names: list[str] = []  # local names of the open elements, down to that depth only
        self.depth = 0
        self.text: list[str] | None = None  # inside an entry's URL element
        self.text_size = 0
        self.encoding: str | None = None  # as the XML declaration names it
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.ExternalEntityRefHandler = self._refuse_external
        parser.XmlDeclHandler = self._declared
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.buffer_text = True
        self.parser = parser

    def _declared(self, _version: str, encoding: str | None, _standalone: int) -> None:
        self.encoding = encoding

    def _refuse_dtd(self, *_args: object) -> None:
        raise _Stop("a DTD or an entity declaration (a sitemap has none): not read")

    def _refuse_external(self, *_args: object) -> int:
        raise _Stop("an external entity (a sitemap has none): not read")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.reach:
            return  # below an entry's URL nothing is read: the cheapest callback possible
        local = name.rsplit(" ", 1)[-1]
        if self.depth == 1:
            document = _DOCUMENTS.get(local)
            if document is None:
                raise _Stop(f"not a sitemap: the document is a <{local}>")
            self.kind, self.path = document
            self.reach = len(self.path)
        elif self.depth == self.reach - 1:
            self.entries.count()
        self.names.append(local)
        if self.depth == self.reach and tuple(self.names) == self.path:
            href = attributes.get("href") if self.kind == "feed" else None
            if href is None:
                self.text, self.text_size = [], 0
            elif attributes.get("rel", "alternate") == "alternate":  # Atom: the entry's own page, not its feed's
                self.entries.add(href, sitemap=False)

    def _end(self, _name: str) -> None:
        self.depth -= 1
        if self.depth >= self.reach:
            return
        self.names.pop()
        if self.text is not None and self.depth == self.reach - 1:
            text, self.text = "".join(self.text), None
            if text.strip() or self.kind != "feed":  # a feed's item may have an atom:link, of no text, as well
                self.entries.add(text, sitemap=self.kind == "sitemapindex")

    def _characters(self, data: str) -> None:
        if self.text is not None and self.text_size + len(data) <= MAX_LOC_CHARS:  # more is no URL anyway
            self.text.append(data)
            self.text_size += len(data)
