"""Random pages for comparing ``extract_links`` with Chromium beyond the stored cases: hrefs assembled from the pieces
that make URLs hard, in markup assembled from the tags that make trees hard, in UTF-8 and two legacy encodings.

Seeded, so a page that shows a difference can be made again; ``scripts/make_linkcases.py --fuzz SEED`` runs them.
A difference found this way becomes a stored case once understood.
"""

from __future__ import annotations

import html
import random

HREF_PIECES = [
    "/", "//", "\\", "..", ".", "../", "./", "?", "#", "%", "%2e", "%zz", "%41", ":", "@", "[", "]", "::1", "a", "B",
    "é", "日", "😀", " ", "\t", "\n", "|", "*", "'", '"', "<", ">", "`", "{", "}", "^", "~", "&", "&copy", "&#0;",
    "http:", "https:", "HTTP://", "javascript:", "mailto:", "ex.com", "example.org", "xn--", "80", ":8080",
    "1.2.3.4", "0x7f", "ß", "\u00a0", "\u3002", "-", "_", ";", "=", "+", ",", "$", "!", "(", ")", "file:", "data:",
    "\x01", "\x7f", "€", "\u200b",
]  # fmt: skip
HREF_PREFIXES = [
    "",
    "",
    "/",
    "//",
    "http://",
    "https://h.com/",
    "?",
    "#",
    "../",
    "http:",
    "//h.",
    "http://u:p@h.com:81/",
]
MARKUP = [
    "<a href=/a{n}>", "<a href='b{n}'>", "</a>", "<area href=/ar{n}>", "<svg>", "</svg>", "<math>", "</math>",
    "<template>", "</template>", "<noscript>", "</noscript>", "<table>", "</table>", "<tr>", "<td>", "</td>", "<p>",
    "</p>", "<div>", "</div>", "<b>", "</b>", "<base href=/base{n}/>", "<foreignObject>", "</foreignObject>", "<mi>",
    "</mi>", "<desc>", "<title>", "</title>", "<script>", "</script>", "<style>", "</style>", "<textarea>",
    "</textarea>", "<!--", "-->", "<select>", "<option>", "</select>", "<li>", "<ul>", "<form>", "</form>",
    "<button>", "<object>", "</object>", "<iframe>", "</iframe>", "<frameset>", "<body>", "<head>", "</head>",
    "<nobr>", "<font color=red>", "<svg><a href=/s{n}>", "<math><a href=/m{n}>", "<annotation-xml encoding=text/html>",
    "text", "&amp;", "<a xlink:href=/x{n}>", "<caption>", "<colgroup>", "<th>", "<dd>", "<ruby>", "<plaintext>",
]  # fmt: skip
ENCODINGS = [("utf-8", "text/html; charset=utf-8"), ("cp1252", "text/html; charset=windows-1252"), ("cp932", "")]


def random_href(rng: random.Random) -> str:
    return rng.choice(HREF_PREFIXES) + "".join(rng.choice(HREF_PIECES) for _ in range(rng.randint(1, 6)))


def random_page(rng: random.Random, hrefs: int = 60, tags: int = 60) -> tuple[bytes, str]:
    """One page: ``hrefs`` random links, then ``tags`` random markup tokens; encoded one of three ways (Shift_JIS
    declared by a <meta>, the others by the header)."""
    codec, content_type = rng.choice(ENCODINGS)
    parts = ["<meta charset=shift_jis>"] if codec == "cp932" else []
    parts += [f'<a href="{html.escape(random_href(rng))}">x</a>' for _ in range(hrefs)]
    parts += [rng.choice(MARKUP).replace("{n}", str(n)) for n in range(tags)]
    return "".join(parts).encode(codec, "xmlcharrefreplace"), content_type or "text/html"


def random_pages(seed: int, count: int) -> list[tuple[bytes, str]]:
    rng = random.Random(seed)
    return [random_page(rng) for _ in range(count)]
