"""The document encoding as Chromium picks it, and URL queries written in it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webencodings.labels import LABELS

from linkcast.core.cjk import big5_lookalikes
from linkcast.core.encoding import charset_parameter, decode, document_encoding, encode_query, lookup, meta_charset
from linkcast.core.links import extract_links


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"\xef\xbb\xbf<meta charset=koi8-r>", "text/html; charset=gbk", "utf-8"),
        (b"\xff\xfe<\x00", "text/html; charset=utf-8", "utf-16le"),
        (b"\xfe\xff\x00<", None, "utf-16be"),
        (b"<meta charset=koi8-r>", 'text/html; charset="Shift_JIS"', "shift_jis"),
        (b"<meta charset=koi8-r>", "text/html; charset=no-such-thing", "koi8-r"),
        (b"<meta charset=koi8-r>", "text/html", "koi8-r"),
        (b"<meta http-equiv=Content-Type content='text/html; charset=euc-kr'>", None, "euc-kr"),
        (b"<meta content='text/html; charset=euc-kr'>", None, "windows-1252"),  # no http-equiv: not a declaration
        (b"<meta charset=bogus><meta charset=gbk>", None, "gbk"),  # an unknown label does not stop the scan
        (b"<meta charset=utf-16le>", None, "utf-8"),
        (b"<meta charset=x-user-defined>", None, "windows-1252"),
        (b"<meta charset=latin1>", None, "windows-1252"),
        (b"<p>nothing declared", None, "windows-1252"),
        (b"", None, "windows-1252"),
    ],
)
def test_document_encoding_follows_bom_then_header_then_meta(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert document_encoding(body, content_type).name == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<!--" + b"x" * 2000 + b"--><meta charset=koi8-r>", "koi8-r"),  # still in the head: no byte limit
        (b"<title>" + b"x" * 2000 + b"</title><meta charset=koi8-r>", "koi8-r"),
        (b"<body><meta charset=koi8-r>", "koi8-r"),  # after the head, but within 1024 bytes
        (b"<body>" + b"x" * 2000 + b"<meta charset=koi8-r>", None),
        (b"<script>'<meta charset=gbk>'</script><meta charset=koi8-r>", "koi8-r"),
        (b"<!-- <meta charset=gbk> --><meta charset=koi8-r>", "koi8-r"),
        (b"<meta charset='koi8-r' charset=gbk>", "koi8-r"),  # the first of duplicate attributes
        (b"<meta content='text/html;charset=gbk' http-equiv=content-type>", "gbk"),
        (b'<meta charset="gbk', None),  # cut off: no tag
        (b"<plaintext><meta charset=gbk>", None),
    ],
)
def test_meta_scan_is_chromiums(body: bytes, expected: str | None) -> None:
    assert meta_charset(body) == expected


def test_meta_scan_reads_past_many_comments() -> None:
    # Each comment's end was found by two searches, one of which ran on to the end of the body: 512 KiB of short
    # comments took about 25 s (64 KiB, 0.4 s, on the event loop of a feed's discovery). Now about 30 ms
    # (bench/bench_complexity.py).
    body = b"<!--x-->" * (64 * 1024) + b"<meta charset=koi8-r>"
    assert meta_charset(body) == "koi8-r"


def _big5_pair_starts(data: bytes) -> set[int]:
    """Where each character of Big5 ``data`` starts, read from its first byte: what ``big5_lookalikes`` follows."""
    starts, position = set(), 0
    while position < len(data):
        starts.add(position)
        lead, after = data[position], data[position + 1 : position + 2]
        position += 2 if 0x81 <= lead <= 0xFE and after and (0x40 <= after[0] <= 0x7E or after[0] >= 0x80) else 1
    return starts


@given(st.lists(st.sampled_from([b"\xa2\x41", b"\xa2\x42", b"\xa2", b"\x41", b"\x81", b"\x20", b"\x7f", b"\xff"])))
def test_big5_lookalikes_are_found_where_a_character_starts(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    starts = _big5_pair_starts(data)
    expected = [(at, "\u2215" if data[at + 1] == 0x41 else "\ufe68") for at in sorted(starts) if data[at : at + 2]
                in (b"\xa2\x41", b"\xa2\x42")]  # fmt: skip
    assert big5_lookalikes(data) == expected


def test_big5_lookalikes_of_a_long_run_of_pairs() -> None:
    # Each pair was read from the last byte below 0x40 before it, over every pair since: 8 KB of A2 41 took 1.8 s
    # of the event loop (a page of up to 32 KiB is read inline). Now a few milliseconds (bench/bench_complexity.py).
    data = b"\xa2\x41" * 8_000 + b"\x81" + b"\xa2\x41" * 8_000
    found = big5_lookalikes(data)
    # The 0x81 lead takes the A2 after it, and the 41 after that is a character alone: the pairs go on a byte later.
    assert [at for at, _char in found] == [*range(0, 16_000, 2), *range(16_003, len(data), 2)]


@given(st.binary(max_size=3000))
def test_meta_scan_never_raises(body: bytes) -> None:
    meta_charset(body)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=utf-8", "utf-8"),
        ("text/html;charset=UTF-8;q=1", "UTF-8"),
        ('text/html; charset="shift_jis"', "shift_jis"),
        ("text/html", None),
        ("text/html; charset=", None),
        # As Chromium reads them (each checked in it): the name is not trimmed, an empty unquoted value is skipped,
        # a quoted one counts, quotes hide semicolons and commas, parts between commas are read in turn.
        ("text/html; charset =koi8-r", None),
        ("text/html; charset=; charset=koi8-r", "koi8-r"),
        ('text/html; charset=""; charset=koi8-r', None),
        ('text/html; foo="a; charset=utf-8"; charset=koi8-r', "koi8-r"),
        ('text/html; charset="koi\\8-r"', "koi8-r"),
        ("text/html; charset=koi8-r junk", "koi8-r junk"),
        ("text/html; charset=koi8-r, text/html", "koi8-r"),
        ('text/html; foo="\\"; charset=koi8-r"', None),
        ("text/html charset=koi8-r", None),
    ],
)
def test_charset_parameter(content_type: str, expected: str | None) -> None:
    assert charset_parameter(content_type) == expected


@pytest.mark.parametrize(
    ("label", "href", "expected"),
    [
        ("windows-1252", "/é?q=é#é", "/é?q=%E9#é"),  # only the query: path and fragment stay for the URL parser
        ("windows-1252", "?q=日", "?q=%26%2326085%3B"),
        ("windows-1252", "?c1=\x81", "?c1=%81"),
        ("shift_jis", "?q=本", "?q=%96{"),
        ("gbk", "?q=€", "?q=%80"),
        ("utf-8", "?q=é", "?q=é"),
        ("utf-16le", "?q=é", "?q=é"),
        ("windows-1252", "#?q=é", "#?q=é"),
        ("windows-1252", "/path", "/path"),
    ],
)
def test_encode_query_writes_the_query_in_the_document_encoding(label: str, href: str, expected: str) -> None:
    encoding = lookup(label)
    assert encoding is not None
    assert encode_query(href, encoding) == expected


@pytest.mark.parametrize("name", sorted(set(LABELS.values())))
def test_every_whatwg_encoding_reads_pages_and_writes_queries(name: str) -> None:
    body = '<a href="/é?q=é日€&amp;c1=\x81">x</a>'.encode()
    encoding = lookup(name)
    assert encoding is not None and encoding.name == name
    decode(body, encoding)
    encode_query("?q=é日€\x81😀", encoding)
    for page in (body, f'<meta charset="{name}">'.encode() + body):
        for link in extract_links(page, "http://a.example/d/p.html", f"text/html; charset={name}"):
            assert link.startswith("http://a.example/")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        # Each as Chromium decides it (checked in it): the XML declaration comes after the header and the meta.
        (b'<?xml version="1.0" encoding="koi8-u"?><a>', "text/html", "koi8-u"),
        (b"<?xml version='1.0' encoding \n= \t'koi8-u'?><a>", None, "koi8-u"),
        (b'<?xml version="1.0" encoding\xa0="koi8-u"?><a>', None, "koi8-u"),
        (b'<?xml-stylesheet href="a" encoding="koi8-u"?><a>', None, "koi8-u"),
        (b'<?xml version="1.0" encoding="koi8-u"?><a>', "text/html; charset=koi8-r", "koi8-r"),
        (b'<?xml version="1.0" encoding="koi8-u"?><a>', "text/html; charset=bogus", "koi8-u"),
        (b'<?xml version="1.0" encoding="koi8-u"?><meta charset=koi8-r>', None, "koi8-r"),
        (b'<?xml version="1.0" encoding="bogus"?><meta charset=koi8-r>', None, "koi8-r"),
        (b'<?xml version="1.0" encoding="utf-16"?><a>', None, "utf-8"),
        (b'<?xml version="1.0" encoding="iso-2022-kr"?><a>', None, "replacement"),
        (b'<?xml version="1.0" encoding=" koi8-u "?><a>', None, "windows-1252"),
        (b'<?xml version="1.0" encoding=koi8-u?><a>', None, "windows-1252"),
        (b'<?xml version=">" encoding="koi8-u"?><a>', None, "windows-1252"),
        (b'<?XML version="1.0" encoding="koi8-u"?><a>', None, "windows-1252"),
        (b' <?xml version="1.0" encoding="koi8-u"?><a>', None, "windows-1252"),
        (b'<!doctype html><?xml version="1.0" encoding="koi8-u"?><a>', None, "windows-1252"),
        (b'<?xml version="1.0" encodingx="koi8-u"?><a>', None, "windows-1252"),
        ('<?xml version="1.0"?><meta charset=koi8-r>'.encode("utf-16-le"), None, "utf-16le"),
        ('<?xml version="1.0"?><meta charset=koi8-r>'.encode("utf-16-be"), None, "utf-16be"),
    ],
)
def test_an_xml_declaration_names_the_encoding_after_the_header_and_the_meta(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert document_encoding(body, content_type).name == expected
