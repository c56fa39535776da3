"""Pages made from the Web Platform Tests' URL data, for comparing ``extract_links`` with Chromium on them.

WPT's ``url/a-element.html`` sets each entry of ``urltestdata.json`` (``input`` against ``base``) as an ``<a href>``
under a ``<base href>``; ``toascii.json`` and ``IdnaTestV2.json`` give a host (``input``), tried here as
``https://INPUT/x``. The data files are not kept in this repository: pass one (from web-platform-tests/wpt
``url/resources/``, or a copy such as ada-url/ada's ``tests/wpt/``) to ``scripts/make_linkcases.py --wpt FILE``.
Chromium is the reference, not the entries' expected answers: a difference found this way becomes a stored case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# (Python codec, Content-Type): UTF-8, then legacy encodings, whose documents percent-encode a query their own way.
ENCODINGS = {
    "utf-8": ("utf-8", "text/html; charset=utf-8"),
    "windows-1252": ("cp1252", "text/html; charset=windows-1252"),
    "shift_jis": ("cp932", "text/html; charset=shift_jis"),
    "euc-kr": ("cp949", "text/html; charset=euc-kr"),
    "gb18030": ("gb18030", "text/html; charset=gb18030"),
    "big5": ("big5hkscs", "text/html; charset=big5"),
    "iso-2022-jp": ("iso2022_jp", "text/html; charset=iso-2022-jp"),
    "iso-8859-2": ("iso8859_2", "text/html; charset=iso-8859-2"),
    "xhtml": ("utf-8", "application/xhtml+xml"),  # read as XML (core/xhtml.py)
}
# In an attribute value: the quote and "&" as references; CR as one, since the parser reads a raw CR as LF; a lone
# surrogate as U+FFFD, which is what the parser makes of its reference (no encoding can write it raw).
_ESCAPED = re.compile('[&"\r\ud800-\udfff]')
_REFERENCES = {"&": "&amp;", '"': "&quot;", "\r": "&#13;"}


@dataclass(frozen=True)
class WptEntry:
    """One href to try: ``base`` is a ``<base href>`` (None: the page's own URL is the base)."""

    number: int
    href: str
    base: str | None

    def describe(self) -> str:
        return f"#{self.number} href={self.href!r} base={self.base!r}"


# What a page links under each input taken as a <base href> (``as_base``): each gives a link of its own.
RELATIVE_HREFS = ("x", "/y", "?q", "#f", "http:z")


def load_entries(path: Path, as_base: bool = False, escape_hosts: bool = False) -> list[WptEntry]:
    """The entries of a urltestdata-like file (``input`` and ``base``), a toascii-like one (``input`` a host) or
    percent-encoding.json (``input`` in a query and a fragment); with
    ``as_base``, each input (or ``https://HOST/x``) is a ``<base href>`` instead, under which ``RELATIVE_HREFS``;
    with ``escape_hosts``, a host is written percent-encoded (UTF-8)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for number, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("input"), str):
            continue  # a comment
        if "base" in item:
            entries.append(WptEntry(number, item["input"], item.get("base")))
        elif isinstance(item.get("output"), dict):  # percent-encoding.json, as url/percent-encoding.window.js
            entries.append(WptEntry(number, f"https://doesnotmatter.invalid/?{item['input']}#{item['input']}", None))
        else:
            host = quote(item["input"], safe="", errors="surrogatepass") if escape_hosts else item["input"]
            entries.append(WptEntry(number, f"https://{host}/x", None))
    if as_base:
        return [WptEntry(entry.number, href, entry.href) for entry in entries for href in RELATIVE_HREFS]
    return entries


# In XML also "<", and tabs, newlines and other controls (an XML attribute value reads a raw one as a space; a
# control other than those makes the page ill-formed, as it does written raw).
_XML_ESCAPED = re.compile('[&"<\x00-\x1f\ud800-\udfff]')


def attribute(value: str, xml: bool = False) -> str:
    if xml:
        return _XML_ESCAPED.sub(lambda match: _xml_reference(match.group()), value)
    return _ESCAPED.sub(lambda match: _REFERENCES.get(match.group(), "&#xFFFD;"), value)


def _xml_reference(char: str) -> str:
    if char in _REFERENCES:
        return _REFERENCES[char]
    return "&lt;" if char == "<" else "&#xFFFD;" if "\ud800" <= char <= "\udfff" else f"&#x{ord(char):X};"


def wpt_page(entries: list[WptEntry], encoding: str) -> tuple[bytes, str]:
    """A page with one ``<a href>`` per entry, all under the first entry's ``<base href>`` (if any), in ``encoding``
    (a key of ``ENCODINGS``): characters it cannot write are character references."""
    codec, content_type = ENCODINGS[encoding]
    xml = encoding == "xhtml"
    base = entries[0].base
    parts = ['<html xmlns="http://www.w3.org/1999/xhtml"><head>' if xml else "<!doctype html>", "<title>wpt</title>"]
    if base is not None:
        parts.append(f'<base href="{attribute(base, xml)}"/>')
    parts.append("</head><body>" if xml else "")
    parts.extend(f'<a href="{attribute(entry.href, xml)}">{entry.number}</a>\n' for entry in entries)
    parts.append("</body></html>" if xml else "")
    return "".join(parts).encode(codec, "xmlcharrefreplace"), content_type


def batches(entries: list[WptEntry], size: int) -> list[list[WptEntry]]:
    """Runs of at most ``size`` consecutive entries with the same base (a document has one base URL)."""
    runs: list[list[WptEntry]] = []
    for entry in entries:
        if runs and runs[-1][0].base == entry.base and len(runs[-1]) < size:
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs
