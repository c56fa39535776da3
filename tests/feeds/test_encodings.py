"""Character encodings: BOM, then the Content-Type charset, then the XML declaration, then UTF-8 (RFC 7303)."""

from __future__ import annotations

import codecs

import pytest

from linkcast.feeds import parse_feed

URL = "https://feeds.example.com/feed"


def rss(title: str, declaration: str = "") -> str:
    return f"{declaration}<rss version='2.0'><channel><title>{title}</title></channel></rss>"


@pytest.mark.parametrize(
    "encoding", ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "euc-kr", "gb18030", "big5"]
)
def test_the_declared_encoding_is_read_whatever_it_is(encoding: str) -> None:
    title = {"koi8-r": "Привет", "shift_jis": "日本語", "euc-kr": "한국어", "gb18030": "中文", "big5": "中文"}.get(
        encoding, "Café"
    )
    body = rss(title, f'<?xml version="1.0" encoding="{encoding}"?>').encode(encoding)
    assert parse_feed(body, URL).title == title


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_a_byte_order_mark_wins_over_everything(bom: bytes, codec: str) -> None:
    body = bom + rss("Ünïcode", '<?xml version="1.0" encoding="iso-8859-1"?>').encode(codec)
    assert parse_feed(body, URL, "text/xml; charset=koi8-r").title == "Ünïcode"


def test_utf_16_without_a_bom_is_recognised_by_its_first_bytes() -> None:
    body = rss("Ünïcode", '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16-le")
    assert parse_feed(body, URL).title == "Ünïcode"


def test_the_content_type_charset_wins_over_the_declaration() -> None:
    body = rss("Café", '<?xml version="1.0" encoding="utf-8"?>').encode("windows-1252")
    assert parse_feed(body, URL, "application/rss+xml; charset=windows-1252").title == "Café"


def test_windows_1252_is_read_for_iso_8859_1_as_browsers_do() -> None:
    body = rss("don\u2019t", '<?xml version="1.0" encoding="iso-8859-1"?>').encode("windows-1252")
    assert parse_feed(body, URL).title == "don\u2019t"


def test_bytes_invalid_in_the_encoding_become_replacement_characters_not_errors() -> None:
    body = b"<rss version='2.0'><channel><title>bad \xff\xfe bytes \xc3</title></channel></rss>"
    assert parse_feed(body, URL).title == "bad \ufffd\ufffd bytes \ufffd"


def test_an_unknown_encoding_label_falls_back_to_utf_8() -> None:
    body = rss("Café", '<?xml version="1.0" encoding="x-no-such-thing"?>').encode()
    assert parse_feed(body, URL).title == "Café"


def test_control_characters_xml_forbids_are_dropped_rather_than_refusing_the_feed() -> None:
    body = b"<rss version='2.0'><channel><title>a\x01b\x0cc\x1fd</title></channel></rss>"
    assert parse_feed(body, URL).title == "abcd"


def test_json_feed_is_utf_8_with_or_without_a_bom() -> None:
    body = '{"version": "https://jsonfeed.org/version/1.1", "title": "Café", "items": []}'.encode()
    assert parse_feed(codecs.BOM_UTF8 + body, URL).title == parse_feed(body, URL).title == "Café"


def test_blank_lines_before_the_xml_declaration_are_forgiven() -> None:
    body = b'\n\n  <?xml version="1.0" encoding="utf-8"?>\n' + rss("Blank lines first").encode()
    assert parse_feed(body, URL).title == "Blank lines first"
