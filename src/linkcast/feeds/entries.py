"""One entry as read (a draft of raw fields, any format) to a ``FeedEntry``: identity, fingerprint, text, links.

Identity is what a poller compares across fetches, so it depends only on the entry itself, never on its position:
its id (guid), else its link, else a hash of its title, date and content. The fingerprint is a hash of the entry's
updated date and its whole content (hashed while it was read, even past what is kept), so any change to either
shows, and nothing else (a feed reordering its entries, or a new ``lastBuildDate``) does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from linkcast.core.encoding import UTF8, DocumentEncoding
from linkcast.core.encoding import lookup as lookup_encoding
from linkcast.core.links import LinkLimits, find_links
from linkcast.core.resolution import resolve
from linkcast.feeds.dates import parse_date
from linkcast.feeds.model import FeedEntry, FeedLimits
from linkcast.feeds.text import collapse, html_text, looks_like_html

TextKind = Literal["text", "html", "maybe_html"]  # maybe_html: an RSS title, HTML only if it looks like it
_UTF8_ENCODING = lookup_encoding(UTF8)
assert _UTF8_ENCODING is not None
UTF8_ENCODING: DocumentEncoding = _UTF8_ENCODING
_CONTENT_TYPE = "text/html; charset=utf-8"
# Only <a> and <area> make links: content with neither start tag is not parsed for them (lexbor costs ~30 us a call).
_ANCHOR = re.compile(r"<a(?:rea)?[\t\n\f\r />]", re.IGNORECASE)


@dataclass(slots=True)
class Content:
    """A title, summary or content as written: ``raw`` (bounded), how to read it, the base URL its links resolve
    against, and the SHA-256 of all of it (``raw`` may be a prefix)."""

    raw: str
    kind: TextKind
    base: str | None = None
    digest: bytes = b""


@dataclass(slots=True)
class EntryDraft:
    """An entry's fields as read, before they are checked, chosen among and bounded."""

    entry_id: str | None = None
    title: Content | None = None
    link: str | None = None  # resolved already (http(s) or None)
    published: str | None = None  # as written
    updated: str | None = None
    authors: list[str] = field(default_factory=list)
    summary: Content | None = None
    content: Content | None = None


@dataclass(slots=True)
class LinkBudget:
    """What a document's entries may still take in links, in bytes of JSON (``FeedLimits.max_links_bytes``)."""

    remaining: int

    def limits(self, per_entry: LinkLimits) -> LinkLimits:
        """An entry's bounds: its own, within what the document has left."""
        own = per_entry.max_bytes if per_entry.max_bytes is not None else self.remaining
        return LinkLimits(per_entry.max_links, max(0, min(own, self.remaining)))

    def spend(self, links: list[str]) -> None:
        self.remaining -= sum(len(link) + 3 for link in links)  # quotes and comma, as ``find_links`` counts them


def resolve_link(href: str | None, base: str | None) -> str | None:
    """``href`` against ``base`` as a browser resolves a link: the http(s) URL, or None."""
    if not href:
        return None
    href = href.strip()
    if not href or len(href) > 8 * 1024:
        return None
    return resolve(base, href, UTF8_ENCODING)


def bounded_id(text: str | None, overflowed: bool, digest: bytes, limits: FeedLimits) -> str | None:
    """An id as kept: trimmed, or ``sha256:`` of all of it when it is longer than ``limits.max_id_chars``."""
    if overflowed or (text is not None and len(text) > limits.max_id_chars):
        return "sha256:" + (digest.hex() if digest else hashlib.sha256((text or "").encode()).hexdigest())
    if text is None:
        return None
    return text.strip() or None


def plain(content: Content | None, limit: int) -> str | None:
    """A title's or summary's plain text."""
    if content is None:
        return None
    if content.kind == "html" or (content.kind == "maybe_html" and looks_like_html(content.raw)):
        return html_text(content.raw, limit)
    return collapse(content.raw, limit)


def finish_entry(draft: EntryDraft, limits: FeedLimits, budget: LinkBudget | None = None) -> FeedEntry | None:
    """The entry, or None when nothing identifies it (no id, link, title, date or content); its links are within
    ``budget``, the document's, and spend it."""
    title = plain(draft.title, limits.max_text_chars)
    published, updated = parse_date(draft.published), parse_date(draft.updated)
    body = draft.content if draft.content is not None and draft.content.raw.strip() else draft.summary
    body_digest = _digest(body)
    entry_id = draft.entry_id or draft.link
    if entry_id is None:
        if not (title or published or updated or (body is not None and body.raw.strip())):
            return None
        identity = "\x00".join((title or "", published or updated or "", body_digest))
        entry_id = "sha256:" + hashlib.sha256(identity.encode()).hexdigest()
    summary = plain(draft.summary if draft.summary is not None else draft.content, limits.max_summary_chars)
    links: list[str] = []
    truncated = False
    if body is not None and body.kind != "text" and _ANCHOR.search(body.raw):
        allowed = limits.links if budget is None else budget.limits(limits.links)
        if allowed.max_bytes == 0:
            truncated = True  # the document's links are spent: not even parsed for them
        else:
            found = find_links(body.raw.encode("utf-8", "replace"), body.base or "", _CONTENT_TYPE, allowed)
            links, truncated = found.links, found.truncated
            if budget is not None:
                budget.spend(links)
    authors = ", ".join(dict.fromkeys(a for a in (collapse(a, limits.max_text_chars) for a in draft.authors) if a))
    fingerprint = hashlib.sha256(f"{updated or ''}\x00{body_digest}".encode()).hexdigest()
    return FeedEntry(
        entry_id=entry_id,
        title=title,
        link=draft.link,
        published=published,
        updated=updated,
        author=authors[: limits.max_text_chars] or None,
        summary=summary,
        links=links,
        fingerprint="sha256:" + fingerprint,
        links_truncated=truncated,
    )


def _digest(content: Content | None) -> str:
    if content is None:
        return ""
    return (content.digest or hashlib.sha256(content.raw.encode("utf-8", "replace")).digest()).hex()
