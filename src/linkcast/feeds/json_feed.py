"""JSON Feed 1.0 and 1.1 (jsonfeed.org): items to entries, with the same identity, text and link rules as XML.

A JSON Feed is an object whose ``version`` is ``https://jsonfeed.org/version/1`` or ``/1.1``; any other JSON is not
a feed. Fields of the wrong type are ignored, as readers do, rather than refusing the feed: an ``id`` written as a
number (common in 1.0 feeds) is read as its decimal text. 1.1's ``authors`` and 1.0's ``author`` are both read.
Of ``hubs``, only WebSub hubs count (``_a_websub_hub``: a ``type`` of "rssCloud" names another protocol).
JSON has no ``xml:base``: relative URLs resolve against the feed URL. orjson reads the document (it refuses nesting
deeper than 1,024, which is then ``too_complex``), once its values are counted (``FeedLimits.max_json_values``: a
document of 10 MB of ``{},`` would hold some 290 MB).
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import orjson

from linkcast.core.encoding import charset_parameter, decode, lookup
from linkcast.feeds.entries import Content, EntryDraft, LinkBudget, bounded_id, finish_entry, plain, resolve_link
from linkcast.feeds.model import FeedEntry, FeedLimits, ParsedFeed
from linkcast.feeds.safe_xml import XmlRefused

_VERSIONS = {"1": "json1.0", "1.0": "json1.0", "1.1": "json1.1"}
_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def json_feed_version(document: object) -> str | None:
    """``json1.0`` or ``json1.1`` if ``document`` is a JSON Feed object, else None."""
    if not isinstance(document, dict):
        return None
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        return None
    return _VERSIONS.get(version.rpartition("/")[2].strip(), "json1.1")


def read_json_feed(body: bytes, url: str, content_type: str | None, max_entries: int, limits: FeedLimits) -> ParsedFeed:
    """Read a JSON Feed; ``XmlRefused`` (its codes are the same for JSON) says why one is refused."""
    deadline = time.monotonic() + limits.max_seconds
    text = _text(body, content_type)
    if _values(text) > limits.max_json_values:
        raise XmlRefused("too_complex", f"the JSON holds more than {limits.max_json_values:,} values")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if "recursion" in str(error).lower() or "depth limit" in str(error).lower():
            raise XmlRefused("too_complex", "JSON nested too deep") from None
        raise XmlRefused("invalid", f"not valid JSON: {error}") from None
    version = json_feed_version(document)
    if version is None:
        raise XmlRefused("not_a_feed", "not a feed: JSON without a JSON Feed version")
    items = document.get("items")
    items = items if isinstance(items, list) else []
    entries: list[FeedEntry] = []
    budget = LinkBudget(limits.max_links_bytes)
    for item in items[:max_entries]:
        if time.monotonic() > deadline:
            raise XmlRefused("too_complex", f"reading the feed took over {limits.max_seconds:g} s")
        if isinstance(item, dict):
            entry = finish_entry(_draft(item, url, limits), limits, budget)
            if entry is not None:
                entries.append(entry)
    hubs = document.get("hubs")
    hubs = hubs[:100] if isinstance(hubs, list) else []
    hub_urls = [resolve_link(_string(hub.get("url")), url) for hub in hubs if _a_websub_hub(hub)]
    title = _string(document.get("title"))
    return ParsedFeed(
        kind="json",
        version=version,
        title=plain(Content(title, "text"), limits.max_text_chars) if title else None,
        site_link=resolve_link(_string(document.get("home_page_url")), url),
        self_url=resolve_link(_string(document.get("feed_url")), url),
        hubs=list(dict.fromkeys(hub for hub in hub_urls if hub))[: limits.max_hubs],
        ttl_seconds=None,
        entries=entries,
        entries_truncated=len(items) > max_entries,
    )


# A JSON string, escapes and all (RFC 8259 7): what is inside one is no structure. One left unterminated runs to the
# end: a pattern that must find the closing quote was tried again from every later quote, each try running to the end
# (32 KiB of '"\\' took 3 s, in the thread that reads a small feed, holding the GIL). Every quote now starts a match.
_STRING = re.compile(r'"[^"\\]*+(?:\\.?[^"\\]*+)*+(?:"|\Z)', re.DOTALL)


def _values(text: str) -> int:
    """How many values the document would hold, counted without building them: every object and array, and every
    value after the first of one (a comma). Those after an unterminated string are not counted: orjson refuses the
    document at that string, having built only what came before it."""
    structure = _STRING.sub("", text)
    return structure.count("{") + structure.count("[") + structure.count(",")


def _text(body: bytes, content_type: str | None) -> str:
    """The document as text: UTF-8 (RFC 8259), unless a BOM or the Content-Type charset says otherwise."""
    label = charset_parameter(content_type) if content_type else None
    encoding = lookup(label) if label else None
    if body.startswith(b"\xef\xbb\xbf") or encoding is None:
        return body.decode("utf-8", "replace").removeprefix("\ufeff")
    return decode(body, encoding).removeprefix("\ufeff")


# The ``type`` of a ``hubs`` entry is the protocol its endpoint speaks ("rssCloud", "WebSub"); linkcast speaks WebSub
# (known by its older name too).
_WEBSUB_HUB_TYPES = frozenset({"websub", "pubsubhubbub"})


def _a_websub_hub(hub: object) -> bool:
    """Whether a ``hubs`` entry is a WebSub hub: one whose ``type`` names another protocol (an rssCloud endpoint) is
    not, and a WebSub subscription request sent to it could only fail. One with no ``type`` (which 1.1 requires) is
    taken for one, WebSub being the protocol feeds name hubs for."""
    if not isinstance(hub, dict):
        return False
    kind = hub.get("type")
    return not isinstance(kind, str) or kind.strip().lower() in _WEBSUB_HUB_TYPES


def _string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _draft(item: dict[str, Any], url: str, limits: FeedLimits) -> EntryDraft:
    raw_id = _string(item.get("id"))
    entry_id = bounded_id(raw_id, False, _sha256(raw_id), limits) if raw_id else None
    title = _string(item.get("title"))
    html = _string(item.get("content_html"))
    text = _string(item.get("content_text"))
    summary = _string(item.get("summary"))
    content = None
    if html:
        content = _content(html, "html", url, limits)
    elif text:
        content = _content(text, "text", url, limits)
    return EntryDraft(
        entry_id=entry_id,
        title=Content(title[: limits.max_text_chars * 4], "text") if title else None,
        link=resolve_link(_string(item.get("url")), url) or resolve_link(_string(item.get("external_url")), url),
        published=_string(item.get("date_published")),
        updated=_string(item.get("date_modified")),
        authors=_authors(item),
        summary=_content(summary, "text", url, limits) if summary else None,
        content=content,
    )


def _content(value: str, kind: str, url: str, limits: FeedLimits) -> Content:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    return Content(value[: limits.max_content_chars], "html" if kind == "html" else "text", url, digest)


def _authors(item: dict[str, Any]) -> list[str]:
    found = item.get("authors")
    people = found if isinstance(found, list) else [item.get("author")]
    names = [_string(person.get("name")) for person in people[:20] if isinstance(person, dict)]
    return [name for name in names if name]


def _sha256(text: str | None) -> bytes:
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).digest() if text else b""
