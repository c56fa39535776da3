"""What the elements of RSS, RSS 1.0 and Atom mean: namespaces, element keys, which child is which field.

An element is known by a key: its namespace's short name and its lower-cased local name (``pubdate``,
``content:encoded``, ``atom:link``); RSS's own elements, in whichever of its namespaces, have no prefix. Each field
lists the elements that give it, first found first.
"""

from __future__ import annotations

ATOM_10 = "http://www.w3.org/2005/Atom"
ATOM_03 = "http://purl.org/atom/ns#"
RSS_10 = "http://purl.org/rss/1.0/"
RSS_090 = "http://my.netscape.com/rdf/simple/0.9/"
SHORT = {
    "": "", RSS_10: "", RSS_090: "", "http://backend.userland.com/rss2": "", "http://backend.userland.com/rss": "",
    "http://backend.userland.com/rss2.1": "", "http://blogs.law.harvard.edu/tech/rss": "",
    ATOM_10: "atom", ATOM_03: "atom",
    "http://purl.org/dc/elements/1.1/": "dc", "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content", "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf", "http://www.w3.org/1999/xhtml": "xhtml",
}  # fmt: skip
RSS_VERSIONS = {"2.0": "rss2.0", "2.0.1": "rss2.0", "2.00": "rss2.0", "0.91": "rss0.91", "0.92": "rss0.92",
                 "0.93": "rss0.93", "0.94": "rss0.94", "0.90": "rss0.90", "1.0": "rss1.0"}  # fmt: skip
ENTRY_PARENTS = frozenset({"channel", "rss", "rdf:rdf", "atom:feed"})
FEED_ELEMENTS = frozenset({"channel", "atom:feed"})
MAX_URL_CHARS = 8 * 1024

# Entry children read as text: where they go, how their text reads ("id", "url", "date" and "author" are text too).
ENTRY_FIELDS = {
    "title": "maybe_html", "atom:title": "atom", "dc:title": "maybe_html",
    "guid": "id", "atom:id": "id", "link": "url",
    "pubdate": "date", "atom:published": "date", "atom:issued": "date", "dc:date": "date", "dcterms:issued": "date",
    "dcterms:created": "date", "atom:created": "date", "atom:updated": "date", "atom:modified": "date",
    "dcterms:modified": "date", "author": "author", "dc:creator": "author",
    "description": "html", "atom:summary": "atom", "dc:description": "maybe_html",
    "content:encoded": "html", "atom:content": "atom", "xhtml:body": "html",
}  # fmt: skip
FEED_FIELDS = {
    "title": "maybe_html", "atom:title": "atom", "dc:title": "maybe_html", "link": "url", "ttl": "short",
    "sy:updateperiod": "short", "sy:updatefrequency": "short",
}  # fmt: skip
TITLES = ("title", "atom:title", "dc:title")
IDS = ("guid", "atom:id", "rdf:about")
PUBLISHED = (
    "pubdate", "atom:published", "atom:issued", "dc:date", "dcterms:issued", "dcterms:created", "atom:created",
)  # fmt: skip
UPDATED = ("atom:updated", "atom:modified", "dcterms:modified")
SUMMARIES = ("description", "atom:summary", "dc:description")
CONTENTS = ("content:encoded", "atom:content", "xhtml:body")


def atom_kind(attributes: dict[str, str]) -> str | None:
    """How an Atom text construct reads: "text", or "html" (escaped or inline XHTML); None for base64 content."""
    media = attributes.get("type", "").strip().lower()
    mode = attributes.get("mode", "").strip().lower()
    if mode == "base64":
        return None
    if media in ("", "text", "text/plain"):
        return "text"
    if media in ("html", "xhtml", "text/html", "application/xhtml+xml"):
        return "html"
    if media.startswith("text/"):
        return "text"
    if media.endswith(("/xml", "+xml")):
        return "html"
    return None  # other media types are base64 (RFC 4287 4.1.3.3): nothing to read as text
