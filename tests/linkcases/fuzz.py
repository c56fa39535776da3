"""Random pages for comparing ``extract_links`` with Chromium beyond the stored cases: hrefs assembled from the pieces
that make URLs hard, in markup assembled from the tags that make trees hard, in UTF-8 and legacy encodings (those
whose Python codecs differ from the Encoding standard's among them), with some raw malformed bytes.

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
    # Characters whose bytes differ between Python's codecs and the Encoding standard's (JIS, Big5, GB 18030-2022,
    # KOI8-U, windows-1255), C1 controls, and IPv4/IPv6/IDNA hosts.
    "\uff5e", "〜", "\u2212", "¥", "‾", "∥", "‖", "￠", "①", "\u2170", "纊", "\u0081", "\u009d", "ў", "Ў", "\u05ba",
    "\ue78d", "\ufe10", "\u1e3f", "\ue7c7", "\ue5e5", "ｱ", "ﾟ", "\uff10", "\uff03", "%25", "0x", "09", "[::1]",
    "[::ffff:1.2.3.4]", "xn--nxa", "faß", "Ⅻ", "\u00ad", "\uff21\uff22",
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
    "http://0x7f.1/",
    "http://1.2.3/",
    "http://4294967295/",
    "http://[::1]:80/",
    "http://",
    "https://xn--",
    "ws://h/",
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
    "<select><a href=/sel{n}>", "<image href=/img{n}>", "<base href=//b{n}.example/>", "<map><area href=/map{n}>",
    "<xmp>", "</xmp>", "<noembed>", "</noembed>", "<a href=/d{n} href=/e{n}>", "<mtext>", "<option>", "</option>",
]  # fmt: skip
# (Python codec that writes the page, Content-Type; a page with none declares its encoding in a <meta>).
ENCODINGS = [
    ("utf-8", "text/html; charset=utf-8"),
    ("cp1252", "text/html; charset=windows-1252"),
    ("cp932", ""),
    ("euc_jp", "text/html; charset=euc-jp"),
    ("cp949", "text/html; charset=euc-kr"),
    ("big5hkscs", ""),
    ("gb18030", "text/html; charset=gb18030"),
    ("gbk", "text/html; charset=gbk"),
    ("koi8_u", "text/html; charset=koi8-u"),
    ("cp1250", "text/html; charset=windows-1250"),
    ("cp1255", ""),
    ("iso2022_jp", "text/html; charset=iso-2022-jp"),
]
META = {"cp932": "shift_jis", "big5hkscs": "big5", "cp1255": "windows-1255"}
# Bytes with no meaning in most legacy encodings, or that start a multibyte sequence: put raw into some hrefs.
NOISE = b"\x80\x81\x8e\x8f\xa0\xa1\xa2\xfd\xfe\xff"


def random_href(rng: random.Random) -> str:
    return rng.choice(HREF_PREFIXES) + "".join(rng.choice(HREF_PIECES) for _ in range(rng.randint(1, 6)))


def random_page(rng: random.Random, hrefs: int = 60, tags: int = 60) -> tuple[bytes, str]:
    """One page: ``hrefs`` random links (a few with raw bytes that are malformed in legacy encodings), then ``tags``
    random markup tokens; encoded one of the ``ENCODINGS`` ways (declared by the header, or else by a <meta>)."""
    codec, content_type = rng.choice(ENCODINGS)
    parts = [f"<meta charset={META[codec]}>".encode()] if codec in META else []
    for _ in range(hrefs):
        href = html.escape(random_href(rng)).encode(codec, "xmlcharrefreplace")
        if codec != "utf-8" and rng.random() < 0.1:
            at = rng.randint(0, len(href))
            href = href[:at] + bytes(rng.choice(NOISE) for _ in range(rng.randint(1, 3))) + href[at:]
        parts.append(b'<a href="' + href + b'">x</a>')
    markup = "".join(rng.choice(MARKUP).replace("{n}", str(n)) for n in range(tags))
    parts.append(markup.encode(codec, "xmlcharrefreplace"))
    return b"".join(parts), content_type or "text/html"


def random_pages(seed: int, count: int) -> list[tuple[bytes, str]]:
    rng = random.Random(seed)
    return [random_page(rng) for _ in range(count)]
