"""What this process knows about the links of its crawls, so that a link found on many pages (a site's menus, its
footer: most of a page's links) is judged and sent to the store once, not once per page.

For a crawl, a link is known by its skip reason (``scope``, ``pattern``: the crawl's rules never change) or as
``duplicate``: a page whose outcome the store recorded sent it, so the crawl's visited set holds it from then on,
and the store would only count it as a duplicate again. What is known is only ever a committed fact, so forgetting
it costs speed, never correctness: another worker process simply knows less. Bounded by ``max_links`` in all; past
it everything is forgotten at once (cheaper than an LRU, and a crawl relearns its menus within a few pages); so is it
past ``max_chars`` of links in all (50,000 links of 8 KiB, what a crawl's pages may hold, were 400 MB kept for as
long as the process ran). A link longer than ``MAX_KNOWN_CHARS`` is never remembered (links can be 2 MiB long: 50,000
of them would be 100 GB).
"""

from __future__ import annotations

from collections.abc import Iterable

from linkcast.core.inputs import MAX_URL_BYTES

DUPLICATE = "duplicate"
# Links known at most, over every crawl: about 150 bytes each (the URL and its entry), so a few MB.
MAX_KNOWN_LINKS = 50_000
# The longest link remembered: a URL the API takes (longer ones are out of every crawl's scope: crawl/rules.py).
MAX_KNOWN_CHARS = MAX_URL_BYTES
# The characters of the links known, in all: 50,000 links of some 100 characters.
MAX_KNOWN_TOTAL_CHARS = 8 * 1024 * 1024


class KnownLinks:
    def __init__(self, max_links: int = MAX_KNOWN_LINKS, max_chars: int = MAX_KNOWN_TOTAL_CHARS) -> None:
        self.max_links, self.max_chars = max_links, max_chars
        self._crawls: dict[str, dict[str, str]] = {}
        self._count = 0
        self._chars = 0
        self._chars_of: dict[str, int] = {}  # each crawl's share of ``_chars``

    def of(self, crawl_id: str) -> dict[str, str]:
        """The crawl's known links (link -> skip reason), to read; ``learn`` and ``visited`` add to it."""
        return self._crawls.get(crawl_id) or {}

    def learn(self, crawl_id: str, link: str, reason: str) -> None:
        """``link`` is skipped for ``reason`` in this crawl."""
        if len(link) > MAX_KNOWN_CHARS:
            return
        self._make_room(1, len(link))
        known = self._crawls.setdefault(crawl_id, {})
        if link not in known:
            self._count += 1
            self._add_chars(crawl_id, len(link))
        known[link] = reason

    def visited(self, crawl_id: str, links: Iterable[str]) -> None:
        """The store recorded an outcome that sent ``links``: the crawl's visited set holds each of them."""
        links = [link for link in links if len(link) <= MAX_KNOWN_CHARS]
        chars = sum(map(len, links))
        if len(links) > self.max_links or chars > self.max_chars:
            return
        self._make_room(len(links), chars)
        known = self._crawls.setdefault(crawl_id, {})
        before = len(known)
        self._add_chars(crawl_id, sum(len(link) for link in dict.fromkeys(links) if link not in known))
        known.update(dict.fromkeys(links, DUPLICATE))
        self._count += len(known) - before

    def forget(self, crawl_id: str) -> None:
        self._count -= len(self._crawls.pop(crawl_id, {}))
        self._chars -= self._chars_of.pop(crawl_id, 0)

    def __len__(self) -> int:
        return self._count

    def _add_chars(self, crawl_id: str, chars: int) -> None:
        self._chars += chars
        self._chars_of[crawl_id] = self._chars_of.get(crawl_id, 0) + chars

    def _make_room(self, links: int, chars: int) -> None:
        if self._count + links > self.max_links or self._chars + chars > self.max_chars:
            self._crawls.clear()
            self._chars_of.clear()
            self._count = self._chars = 0
