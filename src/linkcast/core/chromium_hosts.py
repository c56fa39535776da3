r"""Hosts that Chromium reads otherwise than the URL standard, in hrefs with a non-ASCII host (which Chromium runs
through ICU's IDNA, and the standard through its own).

An IPv6 literal that Chromium finds in a host only once IDNA has mapped it: ``http://\u200b[::1]/``. The URL standard
reads a host as an IPv6 address only when it starts with ``[``; any other host goes through IDNA and must then hold no
``[``, so ``\u200b[::1]`` (a zero-width space, which IDNA ignores) or ``[\uff1a\uff1a1]`` (full-width colons, which
IDNA maps to ``:``) fail. Chromium splits host from port itself (the port follows the last ``:`` after the last ``]``;
a host starting with ``[`` is all address until a ``]``), maps a host with non-ASCII characters by IDNA, and then
checks whether what it got is an IP address: there, those hosts are ``[::1]``. So are ``[::%31]`` and ``%5B::1]``:
Chromium reads a host's escapes before it looks for an address, the standard only after it has found none.

A punycode label ``xn---abc`` (its only hyphen first): ICU's decoder, finding the delimiter at the start, reads it as
a digit and fails, so Chromium refuses such a label in a host it runs IDNA on, where the standard's decoder takes it.

The Bidi rule (RFC 5893), which IDNA applies to every label of a domain name that has a right-to-left label (one
with Hebrew, Arabic... letters or Arabic-Indic digits): ICU applies it to the ASCII labels too, so Chromium refuses
``http://1a.\u05e9\u05dc\u05d5\u05dd/`` (a label starting with a digit), where the URL parser (ada) takes it.

Characters no host may hold that Chromium escapes, before IDNA, in a host it runs IDNA on: it unescapes what IDNA
gives back. IDNA lowercases an escape (``%3E`` is ``%3e``, which is ``>`` again, refused) unless a combining mark
follows it and composes with its last letter: ``>`` and U+0306 are ``%3E`` and U+0306, that is ``%3`` and U+0114,
whose punycode keeps ``%3`` with the next ASCII character of the label, ``3`` in ``http://h.>\u03063/``, which
Chromium unescapes: ``http://h.xn--3-dra/``, where the URL standard refuses the ``>``.

Chromium reads a host's escapes before all of this (``%C2%A0`` is a no-break space, ``%5B::1]`` an IPv6 literal), and
reads those IDNA gives back, once and to ASCII only: a full-width percent sign, which IDNA maps to "%", starts one
(``http://\uff05\uff14\uff11.com/`` is ``http://a.com/``), where the standard refuses the "%".

Found by comparing with Chromium on random pages and on the Web Platform Tests' URL data (``make_linkcases.py --wpt``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import unquote, unquote_to_bytes

import ada_url

# The href's scheme (if any), the slashes before its authority and the authority itself; tabs and newlines removed.
_AUTHORITY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*:)?([/\\]*)([^/\\?#]*)").match
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = {0x09: None, 0x0A: None, 0x0D: None}


def with_mapped_ip_literal(href: str, base_scheme: str | None) -> str | None:
    """``href`` with its host written as the IPv6 literal Chromium maps or unescapes it to, or None if it has no
    such host.

    ``base_scheme`` is the base URL's scheme (``"http:"``), None without a base. Only hrefs the URL parser refused
    are worth asking about; only an http(s) authority is looked at.
    """
    if "%" not in href and (href.isascii() or ("[" not in href and "]" not in href)):
        return None
    read = _read_http_server(href, base_scheme)
    if read is None:
        return None
    before, server, after = read
    end = server.rfind("]") if "]" in server else (len(server) if server.startswith("[") else -1)
    colon = server.rfind(":")
    host, port = (server[:colon], server[colon:]) if colon > end else (server, "")
    decoded = _percent_decoded(host)  # Chromium reads the host's escapes before it looks for an address
    if decoded is None:
        return None
    mapped = decoded if decoded.isascii() and decoded != host else _idna_mapped(decoded)
    if mapped is None or not (mapped.startswith("[") and mapped.endswith("]")):
        return None
    return before + mapped + port + after


def with_escapes_through_idna(href: str, base_scheme: str | None) -> str | None:
    """``href`` with its host as Chromium's IDNA writes it when the host has non-ASCII characters (written or
    percent-encoded) and a character Chromium escapes before IDNA that the URL standard refuses, or that follows
    ``*`` or such a character (which it may compose with: see above), or a character IDNA maps to "%"; "" if Chromium
    refuses that host, None for any other href."""
    if href.isascii() and "%" not in href:
        return None
    read = _read_http_server(href, base_scheme)
    if read is None:
        return None
    before, server, after = read
    host, colon, port = server.rpartition(":")
    if not colon:
        host, port = server, ""
    host = _percent_decoded(host) or ""
    if host.isascii() or "%" in host or "[" in host or not _ESCAPED_OR_PERCENT(host):
        return None
    if port and not port.isdigit():
        return ""  # Chromium's port starts after the last ":" (http://\uff055B::1\uff055D/ has none)
    escaped = _ESCAPED_BEFORE_IDNA.sub(lambda char: f"%{ord(char.group()):02X}", host)
    mapped = ada_url.idna_to_ascii(escaped).decode("ascii")  # b"" if IDNA refuses it
    if not mapped or _BAD_ESCAPE(mapped):
        return ""
    unescaped = _ESCAPE.sub(lambda escape: chr(int(escape.group(1), 16)), mapped)
    if not unescaped.isascii() or not unescaped.isprintable():
        return ""  # Chromium unescapes once, and only to ASCII: "%e9" and "%2541" stay refused
    if _FORBIDDEN_IN_HOST(unescaped) and not (unescaped.startswith("[") and unescaped.endswith("]")):
        return ""  # but an IPv6 literal made so is one (the URL parser checks it)
    return before + unescaped + colon + port + after


# Those Chromium escapes before IDNA: the URL standard's forbidden host code points that end no host, the space and
# "*" (kept escaped: ``resolution``); not "{", "}" or "`", which both take as they are.
_ESCAPED_BEFORE_IDNA = re.compile("[ *<>^|]")
_REFUSED_ESCAPED = re.compile("[<>^|]").search
# When the answers differ: a host with a character the standard refuses and Chromium escapes; one where such a
# character or "*" comes before a non-ASCII one, which may compose with it for the standard (IDNA reads "<" and
# U+0338 as U+226E, which it takes) and with the escape's last letter for Chromium (which then refuses the host);
# and one with a full-width or small percent sign, which IDNA maps to "%": the standard refuses it, Chromium reads
# an escape there (http://\uff05\uff14\uff11.com/ is http://a.com/).
_ESCAPED_OR_PERCENT = re.compile("[<>^|\ufe6a\uff05]|[*][^\x00-\x7f]").search
# What an unescaped escape may not be in a host, as in the URL standard (``|`` and U+0301 give "%7" and U+0106: "%7"
# and a following "3" are "s", with "0" they are "p", with "c" they are "|" again).
_FORBIDDEN_IN_HOST = re.compile(r"[#%/:<>?@\\\[\]^|]").search
_ESCAPE = re.compile("%([0-9a-fA-F]{2})")
_BAD_ESCAPE = re.compile("%(?![0-9a-fA-F]{2})").search


def with_host_unescaped(href: str, base_scheme: str | None) -> str | None:
    """``href`` with the escapes of its http(s) host decoded, when they give a space or a non-ASCII character: Chromium
    reads them before it reads the host, so ``%C2%A0`` is a no-break space, which it keeps as ``%20`` where the URL
    standard refuses it; None for any other href. Escapes that would end the host (``%2F``, ``%3A``...) are left."""
    if "%" not in href:
        return None
    read = _read_http_server(href, base_scheme)
    if read is None:
        return None
    before, server, after = read
    decoded = _percent_decoded(server)
    if decoded is None or decoded == server or (decoded.isascii() and " " not in decoded):
        return None
    if _ENDS_A_HOST(decoded) or decoded.count(":") != server.count(":"):
        return None
    return before + decoded + after


_ENDS_A_HOST = re.compile(r"[/?#@\\%\[\]]").search


def _percent_decoded(host: str) -> str | None:
    """``host`` with its escapes decoded, as Chromium reads them before IDNA; None if they are no UTF-8."""
    if "%" not in host:
        return host
    try:
        return unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        return None


def refused_punycode(href: str, base_scheme: str | None, url: str) -> bool:
    """Whether Chromium refuses ``url``, which the URL parser made of ``href``, for a punycode label ICU cannot decode
    (``xn---abc``) in a host written with non-ASCII characters."""
    authority_at = url.find("//") + 2
    host = url[authority_at : url.find("/", authority_at)].rpartition("@")[2]
    if not _UNDECODABLE_LABEL(host):
        return False
    read = _read_http_authority(href, base_scheme)
    return read is not None and not read[1].group(3).isascii()


# A label whose punycode has its last hyphen first (a port may follow the last label).
_UNDECODABLE_LABEL = re.compile(r"(?:^|\.)xn---[^-.:]*(?:$|[.:])").search


def fails_bidi_rule(href: str, base_scheme: str | None, url: str) -> bool:
    """Whether Chromium refuses ``url``, which the URL parser made of ``href``, for the Bidi rule: ``href`` writes a
    host with non-ASCII characters (also percent-encoded: Chromium runs IDNA on it), which has a right-to-left label
    and a label the rule refuses. Only a URL whose host has a punycode label can have a right-to-left label."""
    authority_at = url.find("//") + 2
    host = url[authority_at : url.find("/", authority_at)].rpartition("@")[2]
    if host.startswith("[") or "xn--" not in host:
        return False
    text = href.strip(_C0_OR_SPACE)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.translate(_TAB_NEWLINE)
    found = _http_authority(text, base_scheme)
    if found is None:
        return False
    written = found.group(3).rpartition("@")[2]
    if "%" in written:
        written = unquote(written)
    if written.isascii():
        return False  # no IDNA: Chromium checks nothing
    if not _MAYBE_RIGHT_TO_LEFT(written) and "xn--" not in written.lower():
        return False  # its punycode labels were written in characters of no right-to-left script
    name, _colon, port = host.rpartition(":")
    unicode_host = ada_url.idna_to_unicode(name if port.isdigit() else host)
    directions = [[unicodedata.bidirectional(char) for char in label] for label in unicode_host.split(".") if label]
    if not any(_RIGHT_TO_LEFT.intersection(classes) for classes in directions):
        return False  # no bidi domain name: the rule does not apply
    return not all(map(_keeps_bidi_rule, directions))


_RIGHT_TO_LEFT = frozenset({"R", "AL", "AN"})
# The blocks that hold every character of those classes (Hebrew to Arabic Extended, the right-to-left mark,
# presentation forms, the right-to-left scripts of plane 1) and the letterlike symbols IDNA maps to Hebrew (alef
# symbol...): a host with none of them has no right-to-left label, and an href with none writes none.
_MAYBE_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\u200f\u2135-\u2138\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
).search
_LTR_ALLOWED = frozenset({"L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"})
_RTL_ALLOWED = frozenset({"R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"})


def _keeps_bidi_rule(classes: list[str]) -> bool:
    """RFC 5893's six conditions, as ICU checks them, on one label's bidirectional classes."""
    last = next((c for c in reversed(classes) if c != "NSM"), classes[0])
    if classes[0] == "L":
        return last in ("L", "EN") and _LTR_ALLOWED.issuperset(classes)
    if classes[0] not in ("R", "AL"):
        return False
    return (
        last in ("R", "AL", "EN", "AN")
        and _RTL_ALLOWED.issuperset(classes)
        and not ("EN" in classes and "AN" in classes)
    )


def written_ascii_labels(href: str, base_scheme: str | None) -> frozenset[str]:
    """The labels of the host ``href`` writes, lower case, if they are all ASCII: Chromium runs no IDNA on such a host,
    so a punycode label in it is kept as written (none if ``href`` writes no http(s) host, or a non-ASCII one)."""
    read = _read_http_authority(href, base_scheme)
    if read is None:
        return frozenset()
    host = read[1].group(3).rpartition("@")[2]
    name, colon, port = host.rpartition(":")
    if colon and (not port or port.isdigit()):
        host = name
    return frozenset(host.lower().split(".")) if host.isascii() else frozenset()


def _read_http_authority(href: str, base_scheme: str | None) -> tuple[str, re.Match[str]] | None:
    """``href`` as the URL parser reads it (C0 controls and spaces stripped, tabs and newlines removed) and its http(s)
    authority (``_http_authority``), or None."""
    text = href.strip(_C0_OR_SPACE).translate(_TAB_NEWLINE)
    found = _http_authority(text, base_scheme)
    return None if found is None else (text, found)


def _read_http_server(href: str, base_scheme: str | None) -> tuple[str, str, str] | None:
    """``href`` as the URL parser reads it, in three: what comes before its http(s) server (the host and port, after
    any user info), the server, and what follows it; None without an http(s) authority."""
    read = _read_http_authority(href, base_scheme)
    if read is None:
        return None
    text, found = read
    start = found.start(3) + found.group(3).rfind("@") + 1
    return text[:start], text[start : found.end(3)], text[found.end(3) :]


def _http_authority(text: str, base_scheme: str | None) -> re.Match[str] | None:
    """The scheme, slashes and authority of an href that has an http(s) authority, or None."""
    found = _AUTHORITY(text)
    if found is None:
        return None
    scheme, slashes, _authority = found.groups()
    if scheme is None:
        if len(slashes) < 2 or base_scheme not in ("http:", "https:"):
            return None
    elif scheme.lower() not in ("http:", "https:") or (scheme.lower() == base_scheme and len(slashes) < 2):
        return None
    return found


def _idna_mapped(host: str) -> str | None:
    """``host`` as IDNA maps it character by character (ignored ones dropped), if it maps to ASCII; else None."""
    if host.isascii():
        return None  # Chromium runs no IDNA: the URL parser has said all there is
    chars = []
    for char in host:
        mapped = char if char.isascii() else _ascii_mapping(char)
        if mapped is None:
            return None
        chars.append(mapped)
    return "".join(chars)


@functools.lru_cache(maxsize=1024)
def _ascii_mapping(char: str) -> str | None:
    """What IDNA maps one non-ASCII character to: "" if it is ignored, an ASCII character, or None for anything else."""
    try:
        mapped = ada_url.idna_to_ascii("a" + char + "a")
    except UnicodeError:  # a lone surrogate, which no decoded page holds
        return None
    if mapped == b"aa":
        return ""
    if len(mapped) == 3 and mapped.isascii():
        return chr(mapped[1])
    return None
