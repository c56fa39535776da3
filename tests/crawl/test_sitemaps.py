"""Reading sitemaps with no I/O: formats, hosts, every bound, and hostile XML failing fast and cleanly."""

from __future__ import annotations

import gzip
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcast.crawl.sitemaps import (
    INFLATE_STEP,
    MAX_GZIP_MEMBERS,
    MAX_TOKEN_BYTES,
    SITEMAP_MAX_URLS,
    SitemapLimits,
    _Body,
    parse_sitemap,
)

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
SITE = "https://example.com/sitemap.xml"


def urlset(*locs: str, extra: str = "") -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc><lastmod>2024-01-01</lastmod>{extra}</url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{entries}</urlset>'.encode()


def gzip_bomb(unit: bytes, size: int, head: bytes = b"") -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * (65536 // len(unit))
    return (
        compressor.compress(head)
        + b"".join(compressor.compress(block) for _ in range(size // 65536))
        + (compressor.flush())
    )


def test_a_urlset_gives_its_pages_and_nothing_else() -> None:
    image = '<image:image xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><image:loc>https://example.com/i.png</image:loc></image:image>'
    sitemap = parse_sitemap(urlset(" https://example.com/a ", "https://example.com/b?x=1&amp;y=2", extra=image), SITE)
    assert sitemap.kind == "urlset" and sitemap.sitemaps == () and sitemap.error is None and not sitemap.truncated
    assert sitemap.urls == ("https://example.com/a", "https://example.com/b?x=1&y=2")


def test_entries_are_matched_by_local_name_whatever_the_namespace() -> None:
    body = b'<s:urlset xmlns:s="urn:old"><s:url><s:loc>https://example.com/a</s:loc></s:url></s:urlset>'
    assert parse_sitemap(body, SITE).urls == ("https://example.com/a",)
    assert parse_sitemap(b"<urlset><url><loc>https://example.com/b</loc></url></urlset>", SITE).urls == (
        "https://example.com/b",
    )


def test_a_sitemap_index_gives_sitemaps_on_its_own_host_only() -> None:
    body = (
        f"<sitemapindex {NS}><sitemap><loc>https://example.com/s1.xml.gz</loc></sitemap>"
        "<sitemap><loc>https://elsewhere.example/s2.xml</loc></sitemap></sitemapindex>"
    ).encode()
    sitemap = parse_sitemap(body, "https://example.com/index.xml", site_host="other.example")
    assert sitemap.kind == "sitemapindex" and sitemap.urls == () and sitemap.dropped == 1
    assert sitemap.sitemaps == ("https://example.com/s1.xml.gz",)


def test_pages_on_another_host_or_not_http_are_dropped() -> None:
    body = urlset(
        "https://example.com/a", "https://sub.example.com/b", "http://example.com/c", "ftp://example.com/d",
        "javascript:alert(1)", "/relative", "https://EXAMPLE.com/e",
    )  # fmt: skip
    sitemap = parse_sitemap(body, SITE)
    assert sitemap.urls == ("https://example.com/a", "http://example.com/c", "https://example.com/e")
    assert sitemap.dropped == 4


def test_a_cross_submitted_sitemap_lists_the_sites_pages() -> None:
    body = urlset("https://example.com/a", "https://cdn.example.net/b")
    sitemap = parse_sitemap(body, "https://cdn.example.net/sitemaps/example.xml", site_host="example.com")
    assert sitemap.urls == ("https://example.com/a",) and sitemap.dropped == 1


def test_a_text_sitemap_has_one_url_per_line() -> None:
    body = b"\xef\xbb\xbfhttps://example.com/a\r\n\r\nhttps://example.com/b\rnot a url\n  https://example.com/c  "
    sitemap = parse_sitemap(body, "https://example.com/sitemap.txt")
    assert sitemap.kind == "text" and sitemap.dropped == 3  # "not", "a", "url"
    assert sitemap.urls == ("https://example.com/a", "https://example.com/b", "https://example.com/c")


def test_repeated_urls_are_kept_once_in_first_order() -> None:
    sitemap = parse_sitemap(urlset("https://example.com/b", "https://example.com/a", "https://example.com/b"), SITE)
    assert sitemap.urls == ("https://example.com/b", "https://example.com/a")


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name() -> None:
    assert parse_sitemap(gzip.compress(urlset("https://example.com/a")), SITE).urls == ("https://example.com/a",)
    text = gzip.compress(b"https://example.com/a\nhttps://example.com/b\n")
    assert len(parse_sitemap(text, "https://example.com/list").urls) == 2


def test_a_gzip_bomb_stops_inflating_at_the_byte_bound() -> None:
    bomb = gzip_bomb(b"\n", 1 << 28)  # 256 MiB of newlines in about 256 KB: 5 times the bound
    sitemap = parse_sitemap(bomb, SITE)
    assert sitemap.truncated and sitemap.urls == () and len(bomb) < 1 << 20
    assert sitemap.error is None  # stopped by the byte bound, not by the time bound ("took too long")
    small = parse_sitemap(gzip.compress(b"https://example.com/a\n" * 1000), SITE, limits=SitemapLimits(max_bytes=50))
    assert small.truncated and small.urls == ("https://example.com/a",)


def test_a_gzip_bomb_of_markup_is_stopped_by_the_entry_bound() -> None:
    bomb = gzip_bomb(b"<x/>", 1 << 28, head=b"<urlset>")
    sitemap = parse_sitemap(bomb, SITE)
    assert sitemap.truncated and sitemap.urls == () and sitemap.error is None  # not the time bound's "took too long"


def test_reading_stops_at_the_time_bound() -> None:
    bomb = gzip_bomb(b"<x/>", 16 << 20, head=b"<urlset><url><loc>")  # below any entry: only time bounds it
    sitemap = parse_sitemap(bomb, SITE, limits=SitemapLimits(max_seconds=0.05))
    assert sitemap.truncated and sitemap.error is not None and "too long" in sitemap.error


@pytest.mark.parametrize("token", [b"<!--" + b"x" * (30 << 20) + b"-->", b'<url a="' + b"x" * (30 << 20) + b'"/>'])
def test_a_token_longer_than_any_sitemap_has_ends_the_sitemap_before_expat_rereads_it(token: bytes) -> None:
    # Expat 2.5 reads a token cut across pieces again from its start with each piece: a comment or a tag of 30 MiB
    # (30 KB gzipped) took 6.5 s of a worker's thread. Now it is refused once past MAX_TOKEN_BYTES: about 10 ms.
    body = urlset("https://example.com/a")[: -len("</urlset>")] + token + b"<url><loc>https://example.com/b</loc></url>"
    packed = gzip.compress(body, compresslevel=1)
    sitemap = parse_sitemap(packed, SITE)
    assert sitemap.urls == ("https://example.com/a",)
    assert sitemap.error is not None and f"longer than {MAX_TOKEN_BYTES:,} bytes" in sitemap.error


def test_a_plain_body_is_handed_to_expat_in_pieces() -> None:
    # 50 MiB handed at once kept the GIL, so the event loop, for the whole of a parse without callbacks (1.2 s).
    pieces = list(_Body(b"x" * (1 << 20) + b"y", 1 << 30))
    assert b"".join(pieces) == b"x" * (1 << 20) + b"y" and max(map(len, pieces)) == INFLATE_STEP
    assert b"".join(_Body(b"x" * 100_000, 70_000)) == b"x" * 70_000


def test_every_member_of_a_gzip_body_is_read() -> None:
    """RFC 1952 2.2: a gzip file is a series of members (files joined, a writer that flushed as it went): only the
    first was read, so a text sitemap lost its later URLs and an XML one ended in an error."""
    text = b"https://example.com/a\nhttps://example.com/b\n"
    joined = gzip.compress(text[:22]) + gzip.compress(text[22:])
    assert parse_sitemap(joined, "https://example.com/s.txt").urls == ("https://example.com/a", "https://example.com/b")
    body = urlset("https://example.com/a", "https://example.com/b")
    sitemap = parse_sitemap(gzip.compress(body[:100]) + gzip.compress(body[100:]) + b"\0\0trailing", SITE)
    assert sitemap.urls == ("https://example.com/a", "https://example.com/b") and sitemap.error is None


def test_a_body_of_many_gzip_members_is_read_up_to_the_member_bound() -> None:
    empty = gzip.compress(b"")
    body = (
        gzip.compress(b"https://example.com/a\n") + empty * MAX_GZIP_MEMBERS + gzip.compress(b"https://example.com/b")
    )
    sitemap = parse_sitemap(body, "https://example.com/s.txt")
    assert sitemap.urls == ("https://example.com/a",) and sitemap.truncated


def test_a_damaged_gzip_stream_gives_what_came_before_the_damage() -> None:
    packed = gzip.compress(b"https://example.com/a\n" + bytes(range(256)) * 400)
    sitemap = parse_sitemap(packed[: len(packed) // 2] + b"\x00" * 64, SITE)
    assert sitemap.urls == ("https://example.com/a",)


def test_at_most_50000_entries_are_read_from_one_sitemap() -> None:
    body = urlset(*(f"https://example.com/p{n}" for n in range(SITEMAP_MAX_URLS + 10)))
    sitemap = parse_sitemap(body, SITE)
    assert len(sitemap.urls) == SITEMAP_MAX_URLS and sitemap.truncated
    assert sitemap.urls[-1] == f"https://example.com/p{SITEMAP_MAX_URLS - 1}"


def test_refused_entries_count_toward_the_entry_bound() -> None:
    body = b"junk\n" * 100 + b"https://example.com/late\n"
    sitemap = parse_sitemap(body, SITE, limits=SitemapLimits(max_urls=100))
    assert sitemap.urls == () and sitemap.truncated and sitemap.dropped == 100


def test_a_body_past_the_byte_bound_is_read_up_to_it() -> None:
    body = b"".join(b"https://example.com/%d\n" % n for n in range(1000))
    sitemap = parse_sitemap(body, SITE, limits=SitemapLimits(max_bytes=len(body) // 2))
    assert sitemap.truncated and 0 < len(sitemap.urls) < 1000


def test_a_sitemap_cut_by_the_fetch_keeps_what_came_before_without_an_error() -> None:
    body = urlset("https://example.com/a", "https://example.com/b")
    sitemap = parse_sitemap(body[: body.index(b"https://example.com/b")], SITE, truncated=True)
    assert sitemap.urls == ("https://example.com/a",) and sitemap.truncated and sitemap.error is None


def test_broken_xml_keeps_the_entries_before_the_break_and_says_why() -> None:
    body = urlset("https://example.com/a")[: -len("</urlset>")] + b"<url><loc>https://example.com/b</oops>"
    sitemap = parse_sitemap(body, SITE)
    assert sitemap.urls == ("https://example.com/a",) and sitemap.error is not None and "mismatched" in sitemap.error


def test_an_rss_or_atom_feed_is_a_sitemap_of_its_items_links() -> None:
    """sitemaps.org takes RSS 2.0 and Atom 0.3 and 1.0 feeds as sitemaps, the link of each item or entry a page: a
    feed a robots.txt named in a Sitemap line was refused as no sitemap, and its pages never seeded the crawl."""
    rss = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b"<link>https://example.com/</link>"
        b'<atom:link href="https://example.com/feed" rel="self"/>'
        b"<item><title>a</title><link>https://example.com/a?x=1&amp;y=2</link></item>"
        b'<item><link> https://example.com/b </link><atom:link href="https://example.com/b.amp" rel="amphtml"/></item>'
        b"<item><link>https://elsewhere.example/c</link></item></channel></rss>"
    )
    sitemap = parse_sitemap(rss, SITE)
    assert sitemap.kind == "feed" and sitemap.error is None and sitemap.dropped == 1
    assert sitemap.urls == ("https://example.com/a?x=1&y=2", "https://example.com/b")
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><link href="https://example.com/" rel="alternate"/>'
        b'<entry><link href="https://example.com/a"/><link rel="edit" href="https://example.com/edit/a"/></entry>'
        b'<entry><link rel="alternate" href="https://example.com/b"/></entry></feed>'
    )
    sitemap = parse_sitemap(atom, SITE)
    assert sitemap.kind == "feed" and sitemap.urls == ("https://example.com/a", "https://example.com/b")


def test_a_document_that_is_no_sitemap_is_refused() -> None:
    for body in (b"<opml><body></body></opml>", b"<html><body><a href='https://example.com/'>x</a></body></html>"):
        sitemap = parse_sitemap(body, SITE)
        assert sitemap.kind == "unknown" and sitemap.urls == () and "not a sitemap" in (sitemap.error or "")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset><url><loc>https://example.com/&lol9;</loc></url></urlset>"""


def assert_refused_fast(body: bytes) -> None:
    started = time.perf_counter()
    sitemap = parse_sitemap(body, SITE)
    assert time.perf_counter() - started < 2  # expanded, the entities would take minutes and gigabytes
    assert sitemap.urls == () and sitemap.error is not None and "DTD" in sitemap.error


def test_billion_laughs_fails_fast_and_cleanly() -> None:
    assert_refused_fast(BILLION_LAUGHS)


def test_quadratic_blowup_fails_fast_and_cleanly() -> None:
    declaration = f'<!DOCTYPE u [<!ENTITY a "{"x" * 100_000}">]>'
    body = f'<?xml version="1.0"?>{declaration}<urlset><url><loc>{"&a;" * 50_000}</loc></url></urlset>'
    assert_refused_fast(body.encode())


def test_an_external_entity_is_never_read() -> None:
    body = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<urlset><url><loc>https://example.com/&xxe;</loc></url></urlset>"""
    assert_refused_fast(body)
    parameter = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]><urlset/>"""
    assert_refused_fast(parameter)


def test_an_undeclared_entity_is_an_error_not_a_lookup() -> None:
    sitemap = parse_sitemap(b"<urlset><url><loc>https://example.com/&xxe;</loc></url></urlset>", SITE)
    assert sitemap.urls == () and sitemap.error is not None and "undefined entity" in sitemap.error


def test_xml_after_a_bom_and_white_space_is_read_as_xml() -> None:
    """White space may come before the root (XML 1.0 ``prolog``), after a BOM as anywhere: only white space with no
    BOM was allowed for, and a BOM then a line break made the sitemap a text list of no URL."""
    body = b"\xef\xbb\xbf\r\n<urlset><url><loc>https://example.com/a</loc></url></urlset>"
    sitemap = parse_sitemap(body, SITE)
    assert (sitemap.kind, sitemap.urls, sitemap.error) == ("urlset", ("https://example.com/a",), None)


def test_xml_in_utf16_is_read() -> None:
    body = urlset("https://example.com/é").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_sitemap(body, SITE).urls == ("https://example.com/%C3%A9",)


@pytest.mark.parametrize("encoding", ["Shift_JIS", "EUC-JP", "no-such-encoding", "idna", "undefined"])
def test_an_encoding_expat_cannot_use_ends_the_sitemap_with_an_error_not_an_exception(encoding: str) -> None:
    """expat asks Python for an encoding it does not know itself, and Python's answer raises out of ``Parse``:
    ``LookupError`` for a name it does not know, ``ValueError`` for a multi-byte one (Shift_JIS: a Japanese site's),
    ``UnicodeError`` for one that cannot decode. Out of the crawl job, that made its seed page fail, five times."""
    body = urlset("https://example.com/a").replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    sitemap = parse_sitemap(body, SITE)
    assert sitemap.urls == () and sitemap.error is not None and encoding in sitemap.error


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_sitemap_never_an_exception(body: bytes) -> None:
    sitemap = parse_sitemap(body, SITE, limits=SitemapLimits(max_urls=50))
    assert len(sitemap.urls) + sitemap.dropped <= 50
