"""One href against one base URL, as Chromium resolves it: the URL standard (ada), Chromium's own spellings, and a
fast path for the plain hrefs that make up most pages.

Parsing is ada's (the WHATWG URL standard). Where Chromium's URL parser (GURL) departs from the standard, as found by
comparing the two on the link cases and on tens of thousands of random hrefs, the result is respelled: Chromium
escapes ``|`` in paths, ``*`` in hosts and ``'`` in user info, and keeps a host with a space in it (also a no-break
space, which IDNA maps to a space) as ``%20`` where the standard refuses it.

A call into ada costs a few microseconds, more than parsing the HTML around the link. Plain hrefs (``/a/b``,
``../c?d=1``, ``#top``, ``https://host/path``: ASCII letters, digits and a few punctuation marks, no dot segment in
the path, no port, no upper-case host) are resolved by string operations instead; they give exactly what ada gives,
which ``tests/core/test_resolution.py`` checks on random hrefs.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import cast

import ada_url

from linkcast.core.chromium_hosts import (
    fails_bidi_rule,
    refused_punycode,
    with_escapes_through_idna,
    with_host_unescaped,
    with_mapped_ip_literal,
    written_ascii_labels,
)
from linkcast.core.encoding import DocumentEncoding, encode_query

FETCHABLE_PREFIXES = ("http:", "https:")

# What Chromium escapes where the URL standard does not: "|" in a path, "'" in user info, "*" in a host, also
# written "%2A" (Chromium reads a host's escapes before it escapes its own) or as a character IDNA maps to "*".
_CHROMIUM_ESCAPED = re.compile(r"[|*'\ufe61\uff0a]|%2[aA]")
# Those IDNA maps to "*": Chromium escapes that "*" only in IDNA's answer, so in its punycode as it stands.
_ASTERISK_AFTER_IDNA = re.compile("[\ufe61\uff0a]").search
_ASTERISK = re.compile(r"\*|%2[aA]").search
# An href whose host may hold a character Chromium escapes before IDNA, written or percent-encoded ("%3C").
_MAY_COMPOSE_AN_ESCAPE = re.compile("[<>*%]").search
_SPACE = "zq0spc0q9"  # stand-ins that survive host parsing (lower-case ASCII letters and digits; the last, a digit,
# has no precomposed form with a combining mark that may follow it)
_NO_BREAK_SPACE = "zq0nbsp0q9"
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = {0x09: None, 0x0A: None, 0x0D: None}
_PUNYCODE_DIGITS = re.compile(r"[a-zA-Z0-9-]+").fullmatch
# Where the authority of an href is ("https:h" has one too, if the base is not https).
_AUTHORITY = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?[/\\]*([^/\\?#]*)").match
_PUNYCODE = "zq0xn0qz"  # a stand-in for "xn--" that the host parser leaves alone
_IDNA_DOTS = re.compile("[\u3002\uff0e\uff61]")
_NOT_LDH = re.compile(r"[\x00-\x2c./:-@\[-`{-\x7f]")  # ASCII but letters, digits and "-"

# The fast path's grammar. Its alphabet has only characters that the parts of an http(s) URL they are in keep as
# they are, in any document encoding (never "\", whitespace, '"', "<", ">", "`", "{", "}", "^", "|").
# A path segment never starts with "." or "/" (so there is no dot segment and no empty one to think about), except
# for a last empty one (a trailing "/"). Quantifiers are possessive where giving back could never lead to a match
# (each character class stops where the next part starts), which makes a failing match fail sooner.
_CHARS = r"\-A-Za-z0-9._~!$&()*+,;=@"
_CHARS_BUT_DOT = _CHARS.replace(".", "")
_PATH = rf"(?:/[{_CHARS_BUT_DOT}:'][{_CHARS}:']*+)*+/?"
# "%" stays as it is in a query or a fragment (in a path, "%2e" is a dot); "'" too, but in a fragment only.
_TAIL = rf"(?:\?[{_CHARS}:/?%]*+)?+(?:#[{_CHARS}:/?#%']*+)?+"
_ABSOLUTE_PATH = re.compile(rf"{_PATH}{_TAIL}").fullmatch
_QUERY_OR_FRAGMENT = re.compile(_TAIL).fullmatch
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:").match
# Relative: leading "../" (and one "./"), then segments without ":" (which would make the first one a scheme).
_RELATIVE_PATH = rf"(?![./])(?:[{_CHARS_BUT_DOT}'][{_CHARS}']*+)?+(?:/[{_CHARS_BUT_DOT}'][{_CHARS}']*+)*+/?{_TAIL}"
_RELATIVE = re.compile(rf"((?:\.\./)*+)(?:\./)?+({_RELATIVE_PATH})").fullmatch
_RELATIVE_WITHOUT_DOTS = re.compile(_RELATIVE_PATH).fullmatch  # the same for an href that does not start with "."
# Absolute: a lower-case scheme (or none), a lower-case host whose last label is not a number (that would make it an
# IPv4 address, which the parser rewrites) and that has no punycode to check, no port, no user.
_HOST = r"(?![^/?#]*xn--)((?:[a-z0-9-]++\.)*+(?!0x)[0-9-]*+[a-z][a-z0-9-]*+)"
_ABSOLUTE = re.compile(rf"(https?:)?//{_HOST}({_PATH})({_TAIL})").fullmatch
# The same with a path, the common case: the URL is the href as it is (after the base's scheme, if it has none).
_ABSOLUTE_WITH_PATH = re.compile(rf"(?:https?:)?//{_HOST}(?=/){_PATH}{_TAIL}").fullmatch
_HTTP = ("http://", "https://")


class HrefJoiner:
    """Joins the hrefs of one document to its base URL, as Chromium does (None: the document has no valid base URL)."""

    def __init__(self, base: str | None, encoding: DocumentEncoding) -> None:
        self.base = base
        self.encoding = encoding
        self._joined_to, self._host_back = _with_base_host_stand_in(base)
        self._fast = _FastPath.for_base(self._joined_to) if self._joined_to is not None else None

    def resolve(self, href: str) -> str | None:
        """The http(s) URL ``href`` stands for, spelled as Chromium spells it, or None (not http(s), or invalid)."""
        return self.resolve_all((href,))[href] or None

    def resolve_all(self, hrefs: Iterable[str]) -> dict[str, str]:
        """Each of ``hrefs`` (distinct), in their order, with its http(s) URL, or "" if it gives none: ``resolve`` in
        bulk, the plain hrefs in one Python loop, the others through the URL parser."""
        answers: dict[str, str | None]
        if self._fast is None:
            answers = dict.fromkeys(hrefs)
            left: Iterable[str] = list(answers)
        else:
            answers, left = self._fast.resolve_all(hrefs)
        for href in left:
            answers[href] = resolve(self._joined_to, href, self.encoding) or ""
        if self._host_back is not None:
            stand_in, origin = self._host_back
            for href, url in answers.items():
                if url and url.startswith(stand_in) and url[len(stand_in) : len(stand_in) + 1] in ("/", ":"):
                    answers[href] = origin + url[len(stand_in) :]
        return cast("dict[str, str]", answers)  # every None was replaced


# Stands for a base URL's host that the URL parser would read otherwise than Chromium writes it: one with an escape
# Chromium keeps in a host ("a%2Ab", "exa%20mple.com", what a <base href> with "*" or a space gives), which the parser
# decodes or refuses. Hrefs are joined to the base with the stand-in, and the links that have it get the base's host
# back, as Chromium copies it.
_BASE_HOST = "zq0base0q9"
_KEPT_ESCAPE = re.compile("%2[0aA]").search


def _with_base_host_stand_in(base: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """The base URL hrefs are joined to and, if it has ``_BASE_HOST`` for its host, its origin up to that host and
    the base's own; a base whose host has no such escape is joined to as it is."""
    if base is None or not base.startswith(_HTTP) or "%" not in base:
        return base, None
    authority_at = base.index("//") + 2
    path_at = base.find("/", authority_at)
    path_at = len(base) if path_at < 0 else path_at
    host_at = authority_at + base[authority_at:path_at].rfind("@") + 1
    port_at = base.find(":", host_at, path_at)
    host_end = path_at if port_at < 0 else port_at
    if not _KEPT_ESCAPE(base, host_at, host_end):
        return base, None
    joined_to = base[:host_at] + _BASE_HOST + base[host_end:]
    return joined_to, (joined_to[: host_at + len(_BASE_HOST)], base[:host_end])


class _FastPath:
    """String-only resolution of plain hrefs against one plain http(s) base: each href's URL, or "" for an href that
    is certainly no http(s) link; the others are left to the parser."""

    def __init__(self, scheme: str, origin: str, path: str, without_fragment: str) -> None:
        self.scheme = scheme  # "https:"
        self.origin = origin  # "https://user@host:8080", everything before the path
        self.path = path  # "/docs/dir/page.html"
        self.without_fragment = without_fragment  # the base URL minus its fragment
        self.same_origin = origin + "/"  # an absolute href on the base's own origin, spelled the canonical way
        self.same_authority = origin[len(scheme) :] + "/"  # the same, scheme-relative
        self.top = path.count("/") - 1  # the most "../" that still climb: past that, the root
        self.directory = self.up(0)  # "https://host/docs/dir/": where a plain relative path starts

    def up(self, levels: int) -> str:
        """The directory a relative path starts from after ``levels`` "../": ".../docs/dir/", ".../docs/", ".../".

        Found for each href that climbs, in steps as many as its "../": a list made ahead of every directory of the
        base copied its path once per segment, quadratic (a 30 KB page whose ``<base href>`` is "/a/a/a..." took
        1.3 s and 230 MB on the event loop)."""
        end = len(self.path)
        for _ in range(min(levels, self.top) + 1):
            end = self.path.rfind("/", 0, end)
        return self.origin + self.path[: end + 1]

    @classmethod
    def for_base(cls, base: str) -> _FastPath | None:
        if not base.startswith(FETCHABLE_PREFIXES) or not base.isascii() or "//" not in base:
            return None
        # The fast path spells links by copying the base's text: only a base already in the parser's canonical form
        # (lower-case host, no dot segments...) may be copied. Any other goes through the parser, link by link.
        try:
            if ada_url.normalize_url(base) != base:
                return None
        except ValueError:
            return None
        authority_at = base.index("//") + 2
        path_at = base.find("/", authority_at)
        if path_at < 0:
            return None
        without_fragment = base.split("#", 1)[0]
        path = without_fragment[path_at:].split("?", 1)[0]
        return cls(base[: base.index(":") + 1], base[:path_at], path, without_fragment)

    def resolve(self, href: str) -> str | None:
        """``href``'s URL, "" if it is certainly no http(s) link, None to ask the parser."""
        return self.resolve_all((href,))[0][href]

    def resolve_all(self, hrefs: Iterable[str]) -> tuple[dict[str, str | None], list[str]]:
        """Each of ``hrefs`` (distinct), in their order, with its URL ("" if it is certainly no http(s) link) or None,
        and the list of those None ones, left to the parser. One loop, with the base's parts in local variables: a
        call per href would cost as much as its work."""
        scheme, origin, without_fragment = self.scheme, self.origin, self.without_fragment
        same_origin, same_authority, directory = self.same_origin, self.same_authority, self.directory
        after_origin, after_authority = len(same_origin) - 1, len(same_authority) - 1  # where their path starts
        query_base = origin + self.path
        answers: dict[str, str | None] = {}
        left: list[str] = []
        for href in hrefs:
            answer: str | None
            try:
                first = href[0]
            except IndexError:  # the empty href (rare): cheaper than a test on every href
                answers[href] = without_fragment
                continue
            if first == "/":
                if href.startswith(same_authority):
                    answer = scheme + href if _ABSOLUTE_PATH(href, after_authority) else None
                elif href.startswith("//"):
                    answer = scheme + href if _ABSOLUTE_WITH_PATH(href) else self._absolute(href)
                else:
                    answer = origin + href if _ABSOLUTE_PATH(href) else None
            elif first == "h" and href.startswith(_HTTP):
                if href.startswith(same_origin):
                    answer = href if _ABSOLUTE_PATH(href, after_origin) else None
                else:
                    answer = href if _ABSOLUTE_WITH_PATH(href) else self._absolute(href)
            elif first == "#":
                answer = without_fragment + href if _QUERY_OR_FRAGMENT(href) else None
            elif first == "?":
                answer = query_base + href if _QUERY_OR_FRAGMENT(href) else None
            elif first != ".":
                if _RELATIVE_WITHOUT_DOTS(href):
                    answer = directory + href
                else:
                    found = _SCHEME(href)
                    # mailto:, javascript:, data:...: whatever follows, not an http(s) link
                    answer = "" if found is not None and found.group().lower() not in FETCHABLE_PREFIXES else None
            else:  # "./" or "../" (never a scheme)
                relative = _RELATIVE(href)
                answer = None if relative is None else self.up(relative.end(1) // 3) + relative[2]
            answers[href] = answer
            if answer is None:
                left.append(href)
        return answers, left

    def _absolute(self, href: str) -> str | None:
        absolute = _ABSOLUTE(href)
        if absolute is None:
            return None
        scheme, host, path, tail = absolute.groups()
        return f"{scheme or self.scheme}//{host}{path or '/'}{tail}"


def resolve(base: str | None, href: str, encoding: DocumentEncoding) -> str | None:
    """``href`` parsed against ``base`` as Chromium does, or None if it fails to parse or is not http(s).

    ``base`` is None when the document's ``<base href>`` failed to parse: Chromium then has no base URL at all, so
    only absolute hrefs resolve.
    """
    return _resolve_target(base, encode_query(href, encoding), href)


def _resolve_target(base: str | None, target: str, href: str) -> str | None:
    """``resolve`` once the href's query is encoded (``target``)."""
    try:
        joined = _join(base, target)
    except ValueError:
        literal = with_mapped_ip_literal(target, _scheme(base))
        if literal is not None:
            return _join_literal(base, literal)
        through_idna = with_escapes_through_idna(target, _scheme(base))
        if through_idna is not None:
            return _resolve_target(base, through_idna, through_idna) if through_idna else None
        unescaped = with_host_unescaped(target, _scheme(base))
        if unescaped is not None:  # www%C2%A0.example: Chromium's own reading of a host starts with its escapes
            return _resolve_target(base, unescaped, unescaped)
        if " " not in target and "\xa0" not in target and "%20" not in target and not _spaced().search(target):
            return None
        return _join_with_spaces_in_host(base, target)
    if not joined.startswith(FETCHABLE_PREFIXES):
        return None
    if "xn--" in joined and _MAY_COMPOSE_AN_ESCAPE(target):
        # "<" and U+0338 are U+226E for the URL parser; Chromium escapes the "<" first (chromium_hosts)
        through_idna = with_escapes_through_idna(target, _scheme(base))
        if through_idna is not None:
            return _resolve_target(base, through_idna, through_idna) if through_idna else None
    if _refused_host(target, base, joined):
        return None
    if not _CHROMIUM_ESCAPED.search(href):
        return joined
    if _asterisks_after_idna_only(href):
        return _chromium_spelling(joined, _host_labels(joined))
    return _chromium_spelling(joined, written_ascii_labels(target, _scheme(base)))


def resolve_base(url: str, href: str) -> str | None:
    """A ``<base href>`` against the document URL, as Chromium does: in UTF-8 whatever the document's encoding, any
    scheme, None if it fails to parse; an http(s) one read as an href is (``resolve``)."""
    try:
        joined: str = ada_url.join_url(url, href)
    except ValueError:
        return _resolve_target(url, href, href)  # an http(s) URL Chromium reads where the URL standard fails
    if not joined.startswith(FETCHABLE_PREFIXES):
        return joined
    return _resolve_target(url, href, href)


def _refused_host(href: str, base: str | None, url: str) -> bool:
    """Whether Chromium refuses the host of ``url``, which the URL parser made of ``href`` against ``base``, where the
    parser takes it: a host Chromium runs IDNA on (written with non-ASCII characters or escapes) with a punycode label
    ICU cannot decode, or a label that breaks the Bidi rule (``chromium_hosts``)."""
    if "xn--" not in url or (href.isascii() and "%" not in href):
        return False
    if "xn---" in url and not href.isascii() and refused_punycode(href, _scheme(base), url):
        return True
    return fails_bidi_rule(href, _scheme(base), url)


def _asterisks_after_idna_only(href: str) -> bool:
    """Whether the authority of ``href`` has a character IDNA maps to "*", and no "*" written so (or as %2A)."""
    authority = _AUTHORITY(href.strip(_C0_OR_SPACE).translate(_TAB_NEWLINE))
    written = authority.group(1) if authority is not None else ""
    return bool(_ASTERISK_AFTER_IDNA(written)) and not _ASTERISK(written)


def _host_labels(url: str) -> frozenset[str]:
    """The labels of an http(s) URL's host (no port)."""
    authority_at = url.index("//") + 2
    host = url[authority_at : url.index("/", authority_at)].rpartition("@")[2]
    name, colon, port = host.rpartition(":")
    return frozenset((name if colon and port.isdigit() else host).split("."))


def _join(base: str | None, href: str) -> str:
    if base is None:
        absolute: str = ada_url.URL(href).href
        return absolute
    joined: str = ada_url.join_url(base, href)
    return joined


def _scheme(base: str | None) -> str | None:
    return base[: base.find(":") + 1] if base is not None else None


def _join_literal(base: str | None, href: str) -> str | None:
    try:
        joined = _join(base, href)
    except ValueError:
        return None
    return joined if joined.startswith(FETCHABLE_PREFIXES) else None


def _join_with_spaces_in_host(base: str | None, href: str) -> str | None:
    """Parse an href the standard refuses for a space in its host the way Chromium does, or None."""
    # The URL parser drops tabs and newlines first: "/\t/host" has an authority.
    stand_in = href.strip(_C0_OR_SPACE).translate(_TAB_NEWLINE).replace(" ", _SPACE).replace("\xa0", _NO_BREAK_SPACE)
    authority = _AUTHORITY(stand_in)
    if authority is not None:
        host_at = authority.start(1) + authority.group(1).rfind("@") + 1
        # A space percent-encoded in the host is one too (the host is percent-decoded before it is checked).
        written = stand_in[host_at : authority.end(1)].replace("%20", _SPACE)
        # A character IDNA maps to a space and more (U+203E: a space and U+0305) is that, its space as a no-break
        # space's (also one that IDNA makes).
        written = _spaced().sub(_unspaced, written)
        after = stand_in[authority.end(1) :]
        stand_in = stand_in[:host_at] + written + after
        if written.isascii() and _NO_BREAK_SPACE not in written:
            # All ASCII: Chromium runs no IDNA, so a punycode label is kept as written (lower-cased), whatever it is;
            # one the parser would check is hidden from it.
            labels = [_PUNYCODE + label[4:] if label[:4].lower() == "xn--" else label for label in written.split(".")]
            stand_in = stand_in[:host_at] + ".".join(labels) + after
        else:
            # Chromium's IDNA checks the punycode labels; one with a space it keeps as written, once it has decoded
            # (IDNA reads the full-width and ideographic full stops as dots too.)
            written = _IDNA_DOTS.sub(".", written)
            kept = [_spaced_punycode_label(label) for label in written.split(".")]
            if None in kept or _has_invalid_punycode(written):
                return None
            stand_in = stand_in[:host_at] + ".".join(cast("list[str]", kept)) + after
    try:
        joined = _join(base, stand_in)
    except ValueError:
        return None
    if not joined.startswith(FETCHABLE_PREFIXES):
        return None
    authority_at = joined.index("//") + 2
    host = joined[authority_at : joined.index("/", authority_at)].rpartition("@")[2]
    if _SPACE not in host and _NO_BREAK_SPACE not in host:
        return None
    return _chromium_spelling(joined).replace(_PUNYCODE, "xn--")


@functools.cache
def _spaced() -> re.Pattern[str]:
    """The characters whose compatibility mapping (as IDNA's) has a space: spacing accents, spaces, U+203E..."""
    chars = "".join(c for c in map(chr, range(0xA0, 0x10000)) if " " in unicodedata.normalize("NFKC", c))
    return re.compile("[" + re.escape(chars) + "]")


def _unspaced(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group()).replace(" ", _NO_BREAK_SPACE)


def _spaced_punycode_label(label: str) -> str | None:
    """A host label with a space (or a no-break space) that IDNA makes a punycode label, as Chromium keeps it: the
    label IDNA maps it to (ASCII, lower case), hidden from the parser, which would decode the stand-ins of the spaces
    as punycode digits; None if Chromium refuses it. Any other label is returned as it is.

    Chromium escapes spaces and ``*`` before IDNA, which maps a no-break space to a space: ICU then decodes the label
    with ``%20``, ``%2A`` and spaces in it. They (or any ASCII) may be in the part before the last hyphen, kept as it
    is, not among the digits after it, and no hyphen may end the label; the label it decodes to must be one IDNA maps
    to itself. Found by comparing with Chromium on random pages: ``https://xn--<space><small roman numeral
    one>xn--nxa`` is ``https://xn--%20ixn--nxa/``, ``https://xn--<roman numeral twelve><space>0x7f`` fails."""
    name, colon, port = label.partition(":")
    if name[:4].lower() != "xn--" or (_SPACE not in name and _NO_BREAK_SPACE not in name):
        return label
    mapped = ada_url.idna_to_ascii(_PUNYCODE + name[4:]).decode("ascii")
    if not mapped.startswith(_PUNYCODE):  # refused (b""), or a character IDNA maps to no ASCII, no punycode digit
        return None
    escaped = mapped[len(_PUNYCODE) :].replace(_SPACE, "%20").replace("*", "%2A").replace(_NO_BREAK_SPACE, " ")
    if escaped.endswith("-"):
        return None
    try:
        decoded = escaped.encode("ascii").decode("punycode")
    except UnicodeError:
        return None
    probe = _NOT_LDH.sub("a", decoded)
    if not probe.isascii() and ada_url.idna_to_ascii(probe) != b"xn--" + probe.encode("punycode"):
        return None
    return mapped + colon + port


def _has_invalid_punycode(host: str) -> bool:
    """Whether a host written with a space and a no-break space or other non-ASCII character (so that Chromium runs
    IDNA on it) has a punycode label Chromium's IDNA refuses, as far as comparing with Chromium has shown: an empty
    one, one with a character that is no punycode digit or one ending in a hyphen; and when there is a no-break
    space, one that does not decode to a label IDNA writes so (a label with a space or a no-break space:
    ``_spaced_punycode_label``)."""
    full_idna = _NO_BREAK_SPACE in host
    for label in host.split("."):
        if label[:4].lower() != "xn--" or _SPACE in label or _NO_BREAK_SPACE in label:
            continue  # a label with a space is checked by _spaced_punycode_label
        if not label.isascii():  # IDNA maps it first (xn--<roman numeral twelve> is xn--xii)
            mapped = ada_url.idna_to_ascii(_PUNYCODE + label[4:]).decode("ascii")
            if not mapped.startswith(_PUNYCODE):
                return True
            label = "xn--" + mapped[len(_PUNYCODE) :]
        if not _PUNYCODE_DIGITS(label, 4) or label.endswith("-"):  # ICU refuses "xn--abc-" (it is "abc")
            return True
        if label.startswith("xn---") and "-" not in label[5:]:  # ICU's decoder fails (chromium_hosts)
            return True
        if full_idna:
            try:
                decoded = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                return True
            if ada_url.idna_to_ascii(decoded) != label.lower().encode():  # b"" if IDNA refuses it
                return True
    return False


def _chromium_spelling(url: str, written: frozenset[str] = frozenset()) -> str:
    """Respell an http(s) URL as Chromium does; ``url`` is ada's serialisation, which fixes where each part is.

    After ``scheme://``, the first ``/`` starts the path (the user info percent-encodes its slashes) and the first
    ``?`` or ``#`` after it ends the path. Working on the string keeps an empty query or fragment (``?``, ``#``).
    """
    authority_at = url.index("//") + 2
    path_at = url.index("/", authority_at)
    rest_at = min((i for i in (url.find("?", path_at), url.find("#", path_at)) if i >= 0), default=len(url))
    userinfo, at, host = url[authority_at:path_at].rpartition("@")
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit()):
        name, colon, port = host, "", ""
    host = ".".join(_chromium_label(label, label in written) for label in name.split(".")) + colon + port
    respelled = (
        url[:authority_at] + userinfo.replace("'", "%27") + at + host + url[path_at:rest_at].replace("|", "%7C")
    ) + url[rest_at:]
    return respelled.replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, "%C2%A0")


def _chromium_label(label: str, as_written: bool = False) -> str:
    """One host label as Chromium spells it: it escapes ``*`` and spaces before IDNA (so inside the punycode), and
    then the spaces IDNA made of no-break spaces. A punycode label the href wrote so (``as_written``) is no IDNA's
    output: only its ``*`` is escaped."""
    if label.startswith("xn--") and not as_written and ("*" in label or _SPACE in label or _NO_BREAK_SPACE in label):
        try:
            unicode_label = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            pass
        else:
            unicode_label = unicode_label.replace("*", "%2A").replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, " ")
            return "xn--" + unicode_label.encode("punycode").decode("ascii").replace(" ", "%20")
    return label.replace("*", "%2A").replace(_SPACE, "%20").replace(_NO_BREAK_SPACE, "%20")
