"""A page served as XML is read as Chromium reads an XML document (the ``xhtml-*`` and ``xml-*`` link cases hold
Chromium's answers); here, what no browser can answer: hostile XML ends bounded, with the links read before."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkcast.core.links import LinkLimits, extract_links, find_anchors, find_links
from linkcast.core.xhtml import MAX_DEPTH, is_xml_document

ORIGIN = "http://127.0.0.1:8123"
PAGE_URL = ORIGIN + "/dir/page.xhtml"
XHTML = "application/xhtml+xml"
OPEN = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><a href="/before">b</a>'
CLOSE = b'<a href="/after">a</a></body></html>'


def laughs(value: str, levels: int = 9) -> str:
    """A DOCTYPE whose last entity, ``&e{levels};``, is ``value`` repeated 10 ** levels times."""
    entities = [f'<!ENTITY e0 "{value}">'] + [f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, levels + 1)]
    return "<!DOCTYPE html [" + "".join(entities) + "]>"


def test_xml_media_types_are_the_ones_chromium_renders_as_xml_documents() -> None:
    assert is_xml_document("application/xhtml+xml; charset=utf-8")
    assert is_xml_document("Text/XML") and is_xml_document("application/xml") and is_xml_document("image/svg+xml")
    # Chromium shows these as text, or downloads them: they are no documents with links.
    assert not is_xml_document("application/rss+xml") and not is_xml_document("application/foo+xml")
    assert not is_xml_document("text/html") and not is_xml_document(None)


def test_nesting_deeper_than_blinks_limit_stops_the_reading_there() -> None:
    # Blink's XML parser stops past MAX_DEPTH (kMaxXMLTreeDepth); Chromium's renderer crashes on such a page before
    # it answers, so the answer here is the parser's: the links read before, none after.
    depth = MAX_DEPTH + 10
    body = OPEN + b"<div>" * depth + b'<a href="/deep"/>' + b"</div>" * depth + CLOSE
    assert extract_links(body, PAGE_URL, XHTML) == [ORIGIN + "/before"]
    shallow = MAX_DEPTH - 10
    body = OPEN + b"<div>" * shallow + b'<a href="/deep"/>' + b"</div>" * shallow + CLOSE
    assert extract_links(body, PAGE_URL, XHTML) == [ORIGIN + "/before", ORIGIN + "/deep", ORIGIN + "/after"]


def test_entities_that_expand_to_a_billion_elements_stop_the_reading() -> None:
    doctype = laughs("<a href='/expanded'/>").encode()
    body = doctype + OPEN + b"<p>&e9;</p>" + CLOSE
    found = extract_links(body, PAGE_URL, XHTML)
    assert found == [ORIGIN + "/before", ORIGIN + "/expanded"]  # stopped inside the expansion, never at /after


def test_entities_that_expand_an_href_past_the_bound_stop_the_reading() -> None:
    body = laughs("/aaaaaaaaaaaaaaa", 6).encode() + OPEN + b'<a href="&e6;">huge</a>' + CLOSE
    assert extract_links(body, PAGE_URL, XHTML) == [ORIGIN + "/before"]
    body = laughs("/aaaaaaaaaaaaaaa", 2).encode() + OPEN + b'<a href="&e2;">small</a>' + CLOSE
    assert extract_links(body, PAGE_URL, XHTML) == [
        ORIGIN + "/before", ORIGIN + "/aaaaaaaaaaaaaaa" * 100, ORIGIN + "/after"
    ]  # fmt: skip


def test_an_external_entity_or_dtd_is_never_read() -> None:
    # A loopback URL that nothing listens on: were it fetched, the reading would fail or hang, not skip it.
    body = (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://127.0.0.1:9/x.dtd" ['
        b'<!ENTITY internal "/internal"><!ENTITY ext SYSTEM "http://127.0.0.1:9/ext.xml">'
        b'<!ENTITY % pe SYSTEM "http://127.0.0.1:9/pe.dtd"> %pe;]>'
        + OPEN
        + b'&ext;&nbsp;<a href="&internal;">i</a>'
        + CLOSE
    )
    assert extract_links(body, PAGE_URL, XHTML) == [ORIGIN + "/before", ORIGIN + "/internal", ORIGIN + "/after"]


def test_limits_keep_the_first_links_of_an_xml_page() -> None:
    body = OPEN + b"".join(b'<a href="/p%d">x</a>' % n for n in range(100)) + b'<a xmlns="" href="/n"/>' + CLOSE
    everything = extract_links(body, PAGE_URL, XHTML)
    assert len(everything) == 102 and ORIGIN + "/n" not in everything
    found = find_links(body, PAGE_URL, XHTML, LinkLimits(max_links=5))
    assert found.links == everything[:5] and found.truncated


def test_an_xml_pages_anchors_are_its_links_with_their_text() -> None:
    # For watching a page as a feed: the same links as find_links, each named as in an HTML page.
    body = (
        OPEN + b'<a href="/t"> Hello\n <b>big</b> world </a><a href="/t">again</a><a xmlns="" href="/none">n</a>'
        b'<a href="/img"><img alt="picture"/></a><map name="m"><area href="/area" alt="region"/></map>'
        b'<a href="/cut">stopped <i>inside</i></div>' + CLOSE
    )
    assert find_anchors(body, PAGE_URL, XHTML) == [
        (ORIGIN + "/before", "b"), (ORIGIN + "/t", "Hello big world"), (ORIGIN + "/img", "picture"),
        (ORIGIN + "/area", "region"), (ORIGIN + "/cut", "stopped inside"),
    ]  # fmt: skip


XML_PIECES = [
    "<a href='/x'>", "<a href='y'/>", "</a>", "<area href='#f'/>", "<base href='/b/'/>", "<p>", "</p>", "&amp;",
    "&nbsp;", "&#233;", "<x:a href='/z'/>", "<a xmlns='' href='/n'/>", "<template>", "</template>", "<![CDATA[<a>]]>",
    "<!-- c -->", "<?pi x?>", "é", "\x01", "<", "&", "<svg xmlns='http://www.w3.org/2000/svg'>", "</svg>",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # answers, not timings
@given(
    pieces=st.lists(st.sampled_from(XML_PIECES), max_size=40),
    content_type=st.sampled_from([XHTML, "text/xml; charset=windows-1252", "application/xml; charset=utf-16le"]),
)
def test_any_xml_gives_unique_http_links_and_never_more_than_its_html_elements(
    pieces: list[str], content_type: str
) -> None:
    body = ('<html xmlns="http://www.w3.org/1999/xhtml"><body>' + "".join(pieces)).encode("utf-8")
    links = extract_links(body, PAGE_URL, content_type)
    assert len(links) == len(set(links))
    assert all(link.startswith("http://") for link in links)
    assert ORIGIN + "/n" not in links and ORIGIN + "/z" not in links  # no namespace, or an undeclared prefix
