"""A crawl's include and exclude patterns, matched in time linear in the URL whatever a user writes.

Why globs: users send these patterns, and a regular expression run by a backtracking engine (Python's ``re``) can take
polynomial or exponential time on a crafted pattern (``(a*)*b``, ``.*a.*a.*a…b`` against a long URL): one PUT could
stall a worker for hours. RE2 (``google-re2``) is linear, but is a native dependency for a syntax few crawls need, and
its patterns are easy to get subtly wrong (an unescaped ``.`` or ``?`` in a URL). The WHATWG URLPattern syntax has only
young Python implementations (0.x releases of 2025-2026), and its regexp groups reopen the same problem. One wildcard
says what crawls mostly need ("this part of the site", "not these files"), and its matcher needs no engine: fixed
prefix and suffix, then each literal piece found leftmost with ``str.find`` (C, Two-Way for long texts), so a URL's
characters are scanned about once per pattern.

The syntax, exactly:

- ``*`` matches any run of characters, empty included, ``/``, ``?`` and ``*`` included; ``**`` is the same as ``*``.
  There is no escape: a literal ``*`` in a URL is matched by ``*`` too. Every other character matches itself,
  case-sensitively: ``?`` is the URL's query separator, not a wildcard, and ``%2F`` is not ``%2f``.
- A pattern matches the whole text, anchored at both ends: ``/blog/*`` matches ``/blog/`` and ``/blog/a?page=2``, not
  ``/blog`` nor ``/en/blog/``; ``*.pdf`` matches ``https://example.com/a.pdf``, not ``…/a.pdf?dl=1`` (``*.pdf*`` does).
- A pattern that starts with ``/`` is matched against the URL's path and query (``/blog/*``, ``/search?q=*``), on any
  host of the crawl's scope; any other against the whole URL (``https://example.com/blog/*``, ``http://*``, ``*.pdf``).
- URLs are matched in their crawl form (``urls.crawl_key``): serialised by the URL standard, without fragment. Write a
  pattern as such a URL reads: scheme and host lower case, the host IDNA-encoded (``xn--bcher-kva.example``), no
  default port, spaces and non-ASCII percent-encoded (``%20``, ``%C3%A9``).

A pattern that could never match is refused (``invalid_pattern``, naming it): an empty one, one longer than
``MAX_PATTERN_CHARS``, one with characters no serialised URL has (non-ASCII, controls, space, ``#``, ``<``, ``>``),
one starting ``//``, and a whole-URL pattern that does not start with ``http://``, ``https://`` or ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from linkcast.core.errors import InvalidInput
from linkcast.crawl.urls import path_and_query

MAX_PATTERN_CHARS = 1000

# What the URL standard never leaves in an http(s) URL it serialises (the fragment, with its '#', is dropped).
_NEVER_IN_URL = re.compile(r"[^\x21-\x7e]|[#<>]")
_SCHEMES = ("http://", "https://")


def _shown(text: str) -> str:
    """A pattern as an error message names it: quoted, and cut if long (the message must stay readable)."""
    return repr(text if len(text) <= 80 else text[:80] + "…")


def _refuse(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"pattern {_shown(text)} {why}", code="invalid_pattern")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One glob: its text, whether it matches the path and query (else the whole URL), and its literal pieces (the
    text between the ``*``; the first is anchored at the start, the last at the end)."""

    text: str
    path_only: bool
    pieces: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Pattern:
        """The pattern ``text``, or ``InvalidInput`` (``invalid_pattern``) saying why it could never match."""
        if not text:
            raise _refuse(text, "is empty: '*' matches every URL")
        if len(text) > MAX_PATTERN_CHARS:
            raise _refuse(text, f"is longer than {MAX_PATTERN_CHARS} characters")
        bad = _NEVER_IN_URL.search(text)
        if bad is not None:
            raise _refuse(
                text,
                f"has {bad.group()!r}, which no URL has as the URL standard writes it "
                "(percent-encode it, IDNA-encode a host; fragments are not matched)",
            )
        if text.startswith("//"):
            raise _refuse(text, "starts with '//': write the scheme (https://...) or a path (/...)")
        path_only = text.startswith("/")
        pieces = tuple(re.split(r"\*+", text))
        first = pieces[0]
        if not path_only and not (first.startswith(_SCHEMES) or any(s.startswith(first) for s in _SCHEMES)):
            raise _refuse(text, "can never match: start a URL with http://, https:// or *, a path with /")
        return cls(text, path_only, pieces)

    def matches(self, key: str) -> bool:
        """Whether this pattern matches ``key``, a crawl key (``urls.crawl_key``)."""
        return self.matches_text(path_and_query(key) if self.path_only else key)

    def matches_text(self, text: str) -> bool:
        """Whether the glob matches all of ``text``. Placing each middle piece leftmost is always right: it leaves
        the most room to every piece after it, so one pass with ``str.find`` decides, without backtracking."""
        pieces = self.pieces
        if len(pieces) == 1:
            return text == pieces[0]
        first, last = pieces[0], pieces[-1]
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return False
        position = len(first)
        for piece in pieces[1:-1]:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


@dataclass(frozen=True, slots=True)
class PatternFilter:
    """A crawl's include and exclude patterns together: a URL is followed if it matches any ``include`` pattern (or
    there is none) and no ``exclude`` pattern. Exclusion wins."""

    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()

    @classmethod
    def parse(cls, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> PatternFilter:
        """Both lists parsed; the first invalid pattern is an ``InvalidInput`` (``invalid_pattern``) naming it."""
        return cls(tuple(map(Pattern.parse, include)), tuple(map(Pattern.parse, exclude)))

    def allows(self, key: str) -> bool:
        """Whether a crawl with these patterns follows ``key``, a crawl key (``urls.crawl_key``)."""
        path = path_and_query(key)
        if self.include and not any(p.matches_text(path if p.path_only else key) for p in self.include):
            return False
        return not any(p.matches_text(path if p.path_only else key) for p in self.exclude)
