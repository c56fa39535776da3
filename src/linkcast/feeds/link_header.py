"""HTTP ``Link`` headers (RFC 8288) read into ``(target, parameters)``, bounded: a header is the server's to make up.

Each ``Link: <uri>; rel="alternate"; type="application/rss+xml"; title="…"`` value may hold several links separated
by commas (outside quotes and angle brackets). Parameter names are case-insensitive and only the first of each counts
(RFC 8288 3.3 says so of ``rel``); ``title*`` is decoded (RFC 8187: ``UTF-8''%E2%82%AC``) and wins over ``title``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import unquote

MAX_LINK_HEADER_CHARS = 64 * 1024  # all the Link headers of one response read, at most
MAX_HEADER_LINKS = 100

_TOKEN = re.compile(r"[^\s;,=\"]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.DOTALL)
_BACKSLASH = re.compile(r"\\(.)", re.DOTALL)
_EXTENDED = re.compile(r"([A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(.*)", re.DOTALL)


def parse_link_headers(values: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each link of the ``Link`` header ``values``, in order: its target as written and its parameters."""
    budget, count = MAX_LINK_HEADER_CHARS, 0
    for value in values:
        value = value[:budget]
        budget -= len(value)
        for link in _links(value):
            count += 1
            if count > MAX_HEADER_LINKS:
                return
            yield link
        if budget <= 0:
            return


def _links(value: str) -> Iterator[tuple[str, dict[str, str]]]:
    position = 0
    while True:
        start = value.find("<", position)
        if start < 0:
            return
        end = value.find(">", start)
        if end < 0:
            return
        target = value[start + 1 : end]
        parameters, position = _parameters(value, end + 1)
        yield target.strip(), parameters


def _parameters(value: str, position: int) -> tuple[dict[str, str], int]:
    """The ``; name=value`` parameters from ``position`` to the comma that ends the link (or the end)."""
    parameters: dict[str, str] = {}
    length = len(value)
    while position < length:
        while position < length and value[position] in " \t":
            position += 1
        if position >= length or value[position] == ",":
            return _with_title(parameters), position + 1
        if value[position] != ";":
            position += 1  # junk between parameters is skipped
            continue
        position += 1
        while position < length and value[position] in " \t":
            position += 1
        name_match = _TOKEN.match(value, position)
        if name_match is None:
            continue
        name, position = name_match.group().lower(), name_match.end()
        while position < length and value[position] in " \t":
            position += 1
        text = ""
        if position < length and value[position] == "=":
            position += 1
            while position < length and value[position] in " \t":
                position += 1
            if position < length and value[position] == '"':
                quoted = _QUOTED.match(value, position)
                assert quoted is not None  # a quote always starts a (maybe unterminated) quoted string
                text, position = _BACKSLASH.sub(r"\1", quoted.group(1)), quoted.end()
            else:
                token = _TOKEN.match(value, position)
                if token is not None:
                    text, position = token.group(), token.end()
        parameters.setdefault(name, text)
    return _with_title(parameters), position


def _with_title(parameters: dict[str, str]) -> dict[str, str]:
    extended = parameters.pop("title*", None)
    if extended is not None:
        match = _EXTENDED.fullmatch(extended)
        if match is not None:
            charset = match.group(1).lower()
            # The server names the charset: one Python does not know (LookupError), or one it knows that refuses to
            # decode (UnicodeError, a ValueError: "undefined" anything, "punycode" non-ASCII, "idna" with
            # errors="replace"), leaves the plain title.
            with contextlib.suppress(LookupError, ValueError):
                parameters["title"] = unquote(match.group(2), encoding=charset, errors="replace")
    return parameters
