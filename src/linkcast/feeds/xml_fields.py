"""One feed or entry element's fields as read (texts by key, atom:links, authors), and an entry's draft from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from linkcast.feeds.entries import Content, EntryDraft, bounded_id, resolve_link
from linkcast.feeds.model import FeedLimits
from linkcast.feeds.vocabulary import CONTENTS, IDS, PUBLISHED, SUMMARIES, TITLES, UPDATED


@dataclass(slots=True)
class Fields:
    """What one feed or entry element held: captured texts by key, atom:links, authors (Atom's, or RSS's)."""

    texts: dict[str, Content] = field(default_factory=dict)
    overflowed: set[str] = field(default_factory=set)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (rel, href, base)
    authors: list[str] = field(default_factory=list)
    about: tuple[str, str] | None = None  # rdf:about and its base (RSS 1.0 items)
    guid_is_permalink: bool = True  # <guid isPermaLink="false"> is no link

    def first(self, keys: tuple[str, ...]) -> Content | None:
        return next((self.texts[key] for key in keys if key in self.texts), None)

    def raw(self, keys: tuple[str, ...]) -> str | None:
        found = self.first(keys)
        return found.raw if found is not None else None

    def link(self, rel: str) -> tuple[str, str] | None:
        return next(((href, base) for link_rel, href, base in self.links if link_rel == rel), None)


def entry_draft(fields: Fields, feed_authors: list[str], limits: FeedLimits) -> EntryDraft:
    """The entry's fields chosen among (the first element of a field's list found), its link resolved."""
    id_key = next((key for key in IDS[:2] if key in fields.texts), None)
    entry_id = None
    if id_key is not None:
        found = fields.texts[id_key]
        entry_id = bounded_id(found.raw, id_key in fields.overflowed, found.digest, limits)
    if entry_id is None and fields.about is not None:
        entry_id = bounded_id(fields.about[0], False, b"", limits)
    link = entry_link(fields)
    authors = fields.authors or feed_authors
    return EntryDraft(
        entry_id=entry_id,
        title=fields.first(TITLES),
        link=link,
        published=fields.raw(PUBLISHED),
        updated=fields.raw(UPDATED),
        authors=authors,
        summary=fields.first(SUMMARIES),
        content=fields.first(CONTENTS),
    )


def entry_link(fields: Fields) -> str | None:
    """``<link>``, else the alternate atom:link, else a permalink guid that is an absolute http(s) URL."""
    text = fields.texts.get("link")
    if text is not None and "link" not in fields.overflowed:
        found = resolve_link(text.raw, text.base)
        if found is not None:
            return found
    alternate = fields.link("alternate")
    if alternate is not None:
        found = resolve_link(*alternate)
        if found is not None:
            return found
    guid = fields.texts.get("guid")
    if guid is not None and fields.guid_is_permalink and "guid" not in fields.overflowed:
        candidate = guid.raw.strip()
        if candidate[:8].lower().startswith(("http://", "https://")):
            return resolve_link(candidate, guid.base)
    return None
