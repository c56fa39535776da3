"""robots.txt by RFC 9309, parsed and matched with no I/O.

API::

    parse_robots(body: bytes, *, truncated: bool = False) -> RobotsRules   # truncated: body is a cut-off prefix
    RobotsRules.allows(url_path_and_query: str, product_token: str) -> bool
    RobotsRules.prepare(product_token: str) -> RobotsRules   # index the crawler's rules now (they are on first use)
    RobotsRules.crawl_delay(product_token: str) -> float | None
    RobotsRules.sitemaps: tuple[str, ...]            # the Sitemap: lines, in order, as written
    RobotsRules.ignored_lines: int                   # lines neither blank, a comment, nor a record understood
    RobotsRules.truncated: bool                      # the body was longer than ROBOTS_PARSE_LIMIT
    RobotsRules.parsed_bytes: int                    # octets parsed (what keeping the rules costs grows with it)
    ALLOW_ALL, DISALLOW_ALL: RobotsRules             # for "unavailable" (4xx) and "unreachable" (5xx) answers
    product_token(user_agent: str) -> str            # "linkcast/1.2 (+url)" -> "linkcast"
    is_valid_product_token(token: str) -> bool
    path_and_query(url: str) -> str                  # "https://h/a/b?c#f" -> "/a/b?c"
    canonical_octets(value: str | bytes) -> str      # the form in which paths and patterns are compared

A line of exactly two words and no colon is read as if the colon were there (``Disallow /a``), as Google's parser
(github.com/google/robotstxt) does and its RFC conformance test (``ID_LineSyntax_Line``) asks; a line of more words
without a colon is ignored. The RFC is followed where Google's parser deliberately differs from it: lines are never
cut short (Google cuts them at 16,664 bytes), ``index.html`` is not taken for its directory, and the URL is
percent-encoded by the same rules as the patterns (Google leaves that to its caller), so ``/a/ツ`` and
``/a/%E3%83%84`` are one path and ``%62`` is ``b``; and, as the RFC's table of encodings has it, ``?u=https://h`` and
``?u=https%3A%2F%2Fh`` are one query (Google compares octets).

Written here rather than taken from Protego (PyPI, 0.7), which binds a crawler to a group whose user-agent is only
the start of its name ("User-agent: Link" rules linkcast) rather than its whole product token, and compares
``/a%2fb`` and ``/a%2Fb`` as different paths; the parser and matcher are smaller than the adapter it would need.

Matching never backtracks: a pattern is cut at its ``*`` into literal segments, each found at its leftmost place
after the previous one (which is always right for ``*`` alone), so a check costs about one pass over the path per
rule whatever a hostile robots.txt holds. Rules are kept longest first, so the first rule that matches decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# RFC 9309 2.5: at least 500 KiB must be parsed; what follows is ignored (the partial last line too).
ROBOTS_PARSE_LIMIT = 500 * 1024
# The work one URL's check may do on '*' rules: each rule tried costs its segments plus one per 64 octets of the path
# (at most about 1 ms in all; a hundred-octet URL may try 2,500 rules of three segments).
WILDCARD_BUDGET = 10_000

_BOM = b"\xef\xbb\xbf"
_IDENTIFIER = re.compile(rb"[A-Za-z_-]+|\*")
_VALID_TOKEN = re.compile(r"[A-Za-z_-]+")
_DELAY = re.compile(rb"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
# Octets compared as they are: unreserved and reserved URI characters, except the robots.txt specials '*' and '$'
# (a path's literal '*' and '$' are compared as %2A and %24, RFC 9309 2.2.3). Anything else is percent-encoded,
# and an escape is written with capital hex digits, or as the character itself if it is an unreserved one.
_TO_NORMALISE = re.compile(rb"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!&'()+,;=:@/?\[\]]")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# In the query, reserved characters that delimit nothing there are data whether escaped or not: RFC 9309 2.2.2's
# table matches "?baz=https://foo.bar" as "?baz=https%3A%2F%2Ffoo.bar", as a form decoder reads both. Those that
# split a query into fields (& = ; +) keep their escapes apart, as do the robots.txt specials '*' and '$'.
_QUERY_DATA = frozenset(b":/?@!'(),[]")
_DECODED_IN_PATH = _UNRESERVED
_DECODED_IN_QUERY = _UNRESERVED | _QUERY_DATA


def canonical_octets(value: str | bytes) -> str:
    """``value`` as RFC 9309 2.2.2 compares it: non-ASCII and stray octets percent-encoded, escapes normalised.

    ``/a%2fb`` and ``/a%2Fb`` are one path, ``/%62`` is ``/b``, ``/ツ`` is ``/%E3%83%84``; ``/a%2Fb`` stays apart
    from ``/a/b`` (an escaped reserved character is data, not a delimiter: RFC 3986 2.2). After the first ``?`` (the
    query), ``https%3A%2F%2Fh`` is ``https://h`` (``_QUERY_DATA``).
    """
    octets = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    path, mark, query = octets.partition(b"?")
    return _canonical(path, _DECODED_IN_PATH) + (("?" + _canonical(query, _DECODED_IN_QUERY)) if mark else "")


def _canonical(octets: bytes, decoded: frozenset[int]) -> str:
    """``octets`` percent-encoded where needed, each escape of an octet in ``decoded`` written as that octet."""

    def normalise(match: re.Match[bytes]) -> bytes:
        text = match[0]
        if len(text) == 3:
            octet = int(text[1:], 16)
            return bytes((octet,)) if octet in decoded else text.upper()
        return b"%%%02X" % text[0]

    return _TO_NORMALISE.sub(normalise, octets).decode("ascii")


def product_token(user_agent: str) -> str:
    """The product token of a User-Agent string: its leading run of letters, ``_`` and ``-`` (RFC 9309 2.2.1)."""
    match = _IDENTIFIER.match(user_agent.strip().encode("utf-8", "surrogatepass"))
    return match[0].decode("ascii") if match and match[0] != b"*" else ""


def is_valid_product_token(token: str) -> bool:
    """Whether ``token`` is a product token a crawler may use: only ``a-z A-Z _ -``, at least one of them."""
    return _VALID_TOKEN.fullmatch(token) is not None


def path_and_query(url: str) -> str:
    """The part of an absolute URL that robots.txt rules are matched against: path and query, never the fragment."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class _Rule:
    allow: bool
    length: int  # octets of the canonical pattern, '*' and '$' included: the RFC's "most specific"
    segments: tuple[str, ...]  # the pattern cut at each '*': a prefix, middles found in turn, a suffix
    anchored: bool  # ended with '$'

    def matches(self, path: str) -> bool:
        """Whether a pattern with a ``*`` (two segments or more) matches; those without are looked up instead."""
        first = self.segments[0]
        if not path.startswith(first):
            return False
        position = len(first)
        for middle in self.segments[1:-1]:
            found = path.find(middle, position)
            if found < 0:
                return False
            position = found + len(middle)
        last = self.segments[-1]
        if self.anchored:
            return len(path) - len(last) >= position and path.endswith(last)
        return path.find(last, position) >= 0


def _rule(allow: bool, pattern: bytes) -> _Rule:
    anchored = pattern.endswith(b"$")
    body = pattern[:-1] if anchored else pattern
    pieces = _pattern_pieces(body)
    length = len("*".join(pieces)) + anchored
    segments = [pieces[0], *(piece for piece in pieces[1:-1] if piece)]
    if len(pieces) > 1:
        segments.append(pieces[-1])
    return _Rule(allow, length, tuple(segments), anchored)


def _pattern_pieces(body: bytes) -> list[str]:
    """The pattern cut at each ``*``, each piece canonical as the part of the URL it stands for: path or query."""
    path, mark, query = body.partition(b"?")
    pieces = [_canonical(piece, _DECODED_IN_PATH) for piece in path.split(b"*")]
    if mark:
        first, *rest = (_canonical(piece, _DECODED_IN_QUERY) for piece in query.split(b"*"))
        pieces[-1] += "?" + first
        pieces += rest
    return pieces


@dataclass(slots=True)
class _Group:
    agents: list[str] = field(default_factory=list)  # product tokens, lower case
    rules: list[_Rule] = field(default_factory=list)
    delay: float | None = None
    closed: bool = False  # a rule was seen: the next user-agent line starts a new group


class _Applicable:
    """The merged rules for one crawler, indexed so that a check costs about the same whatever the file holds.

    The most specific rule decides (RFC 9309 2.2.2: the most octets, allow winning a tie). Rules without ``*`` are
    looked up, not scanned: an anchored one (``/a$``) by the whole path, the others by the path's prefix of each length
    such rules have, longest first. Only the ``*`` rules longer than the best of those are tried, longest first, within
    ``WILDCARD_BUDGET``: a file of tens of thousands of ``*`` rules (500 KiB holds 40,000) could otherwise take tens of
    milliseconds of the event loop for every URL of a crawl. Past that bound the URL is refused, the polite answer
    when the rules cannot be read through.
    """

    __slots__ = ("anchored", "by_prefix", "delay", "prefix_lengths", "wildcards")

    def __init__(self, rules: list[_Rule], delay: float | None) -> None:
        self.delay = delay
        self.anchored: dict[str, bool] = {}  # "/a$" -> "/a": allow?
        self.by_prefix: dict[int, dict[str, bool]] = {}  # length -> prefix -> allow?
        wildcards = []
        for rule in rules:
            if len(rule.segments) > 1:
                wildcards.append(rule)
                continue
            table = self.anchored if rule.anchored else self.by_prefix.setdefault(len(rule.segments[0]), {})
            key = rule.segments[0]
            table[key] = table.get(key, False) or rule.allow  # the same pattern twice: allow wins the tie
        self.prefix_lengths = sorted(self.by_prefix, reverse=True)
        # Longest first; at equal length allow first (RFC 9309 2.2.2: allow wins ties).
        self.wildcards = sorted(wildcards, key=lambda r: (-r.length, not r.allow))

    def allows(self, path: str) -> bool:
        best, allowed = self._best_plain(path)
        budget = WILDCARD_BUDGET
        scan = len(path) // 64  # a '*' rule's segments are searched for in the rest of the path
        for rule in self.wildcards:
            if rule.length < best or (rule.length == best and (allowed or not rule.allow)):
                break  # no rule left could be more specific than the one found (or win its tie)
            budget -= len(rule.segments) + scan
            if budget < 0:
                return False
            if rule.matches(path):
                return rule.allow
        return allowed

    def _best_plain(self, path: str) -> tuple[int, bool]:
        """The length and verdict of the most specific rule without ``*`` that matches (0 and allowed: none)."""
        allowed = self.anchored.get(path)
        if allowed is not None:
            return len(path) + 1, allowed  # longer than any prefix of the path: '$' counts as an octet
        size = len(path)
        for length in self.prefix_lengths:
            if length <= size and (allowed := self.by_prefix[length].get(path[:length])) is not None:
                return length, allowed
        return 0, True


@dataclass(frozen=True)
class RobotsRules:
    """A parsed robots.txt: the groups by product token, and the records that apply to the whole file."""

    _groups: tuple[_Group, ...] = ()
    sitemaps: tuple[str, ...] = ()
    ignored_lines: int = 0
    truncated: bool = False
    parsed_bytes: int = 0
    _merged: dict[str, _Applicable] = field(default_factory=dict, repr=False, compare=False)

    def allows(self, url_path_and_query: str, product_token: str) -> bool:
        """Whether the crawler named ``product_token`` may fetch this path (and query) of the site."""
        path = canonical_octets(url_path_and_query.split("#", 1)[0])
        if not path.startswith("/"):
            path = "/" + path
        if path == "/robots.txt":
            return True
        return self._applicable(product_token).allows(path)

    def prepare(self, product_token: str) -> RobotsRules:
        """Merge and index the rules for this crawler now (the first check would): where the file was parsed, off the
        event loop. Returns itself."""
        self._applicable(product_token)
        return self

    def crawl_delay(self, product_token: str) -> float | None:
        """Seconds asked between two fetches (``Crawl-delay``, not in the RFC): the largest in the groups that apply."""
        return self._applicable(product_token).delay

    def _applicable(self, product_token: str) -> _Applicable:
        token = product_token.lower()
        merged = self._merged.get(token)
        if merged is None:
            merged = self._merged[token] = self._merge(token)
        return merged

    def _merge(self, token: str) -> _Applicable:
        """RFC 9309 2.2.1: every group naming the token, merged; else every ``*`` group; else no rules."""
        groups = [g for g in self._groups if token in g.agents] or [g for g in self._groups if "*" in g.agents]
        delays = [group.delay for group in groups if group.delay is not None]
        return _Applicable([rule for group in groups for rule in group.rules], max(delays, default=None))


def parse_robots(body: bytes, *, truncated: bool = False) -> RobotsRules:
    """Parse a robots.txt body: every line that parses is used, everything else ignored (RFC 9309 2.3.1.5).

    ``truncated`` says that ``body`` is the start of a longer file (cut by the fetch), whose last line may be partial.
    """
    data, truncated = _within_limit(body, truncated)
    groups: list[_Group] = []
    sitemaps: list[str] = []
    ignored = 0
    for line in data.splitlines():  # bytes.splitlines: CR, LF and CRLF only
        line = line.split(b"#", 1)[0].strip()
        if not line:
            continue
        name, value = _record(line)
        if name is None:
            ignored += 1
            continue
        current = groups[-1] if groups else None
        if name == b"user-agent":
            if current is None or current.closed:
                current = _Group()
                groups.append(current)
            current.agents.append(_agent(value))
        elif name in (b"allow", b"disallow"):
            if current is None:
                continue  # RFC 9309 2.2.2: rules before the first user-agent line belong to no group
            current.closed = True
            if value:  # an empty pattern matches nothing: "Disallow:" allows everything
                current.rules.append(_rule(name == b"allow", value))
        elif name == b"sitemap":
            if value:
                sitemaps.append(value.decode("utf-8", "replace"))
        elif name == b"crawl-delay":
            if current is not None and current.delay is None and _DELAY.fullmatch(value):
                current.delay = float(value)
        else:
            ignored += 1
    return RobotsRules(tuple(groups), tuple(sitemaps), ignored, truncated, len(data))


def _record(line: bytes) -> tuple[bytes | None, bytes]:
    """A stripped, non-empty line's name (lower case) and value; no name for a line that is no record.

    "name: value" is the RFC's form. A forgotten colon is forgiven only between exactly two words ("Disallow /a"):
    with more, nothing says where the name ends, so the line stays unread (Google reads it no further either)."""
    name, colon, value = line.partition(b":")
    if colon:
        return name.strip().lower(), value.strip()
    words = line.split()
    if len(words) != 2:
        return None, b""
    return words[0].lower(), words[1]


def _agent(value: bytes) -> str:
    """Whom a user-agent line names, lower case: ``*`` alone (or before a space, as Google reads it), else the
    product token it starts with; "" (no crawler) for anything else, such as ``*bot`` (RFC 9309 2.2.1: a product
    token or ``*``; taking ``*bot`` for ``*`` would apply its rules to every crawler)."""
    if value.startswith(b"*"):
        return "*" if len(value) == 1 or value[1:2].isspace() else ""
    token = _IDENTIFIER.match(value)
    return token[0].decode("ascii").lower() if token else ""


def _within_limit(body: bytes, truncated: bool) -> tuple[bytes, bool]:
    """The body without a leading (even partial) UTF-8 BOM, cut to the parse limit at the last whole line."""
    for bom in (_BOM, _BOM[:2], _BOM[:1]):  # Google also skips a partial BOM: it cannot start a valid record
        if body.startswith(bom):
            body = body[len(bom) :]
            break
    if len(body) > ROBOTS_PARSE_LIMIT:
        truncated = True
        whole_line = body[ROBOTS_PARSE_LIMIT] in b"\r\n"  # the cut falls at the end of a line
        body = body[:ROBOTS_PARSE_LIMIT]
        if whole_line:
            return body, True
    if truncated:
        end = max(body.rfind(b"\n"), body.rfind(b"\r"))
        body = body[: end + 1]  # a line cut in two could be a shorter, wrong rule: drop it
    return body, truncated


ALLOW_ALL = parse_robots(b"")
DISALLOW_ALL = parse_robots(b"User-agent: *\nDisallow: /\n")
