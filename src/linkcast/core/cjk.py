"""The WHATWG Encoding standard's encoders for the CJK encodings, as browsers use them to percent-encode URL queries,
and the corrections that make Python's decoders for them decode as the standard's do.

Python's codecs for these encodings are close to the standard's but not the same: ``cp932`` writes ``U+301C`` as
``0x8160`` and refuses ``U+00A5``, ``euc_jp`` follows the JIS mapping rather than Microsoft's, ``big5hkscs`` writes
Hong Kong characters with lead bytes below ``0xA1`` that the standard's Big5 encoder never writes, and ``gb18030``
predates the 2022 mappings the standard follows. Chromium follows the standard (the link cases ``query-cjk-*`` and
``decode-*``), but where noted.

So each encoder here is the standard's algorithm over the standard's index, the index read from a Python decoder that
agrees with it pointer for pointer (``cp932`` for index jis0208; ``big5hkscs`` and ``gb18030`` but for the entries
listed below): a table built once, the first time a document in that encoding has a non-ASCII query.

An encoder answers bytes, each code point it cannot write being ``%26%23N%3B`` (``&#N;`` percent-encoded), as the URL
standard's "percent-encode after encoding" does; the caller percent-encodes the bytes past ASCII.

Decoding (``decoder_fixes``): Python's decoders give one U+FFFD per byte of a malformed sequence where the standard's
give one for a lead byte and the non-ASCII byte after it, and fail on pairs the standard's indexes have (NEC row 13
and IBM extensions in EUC-JP, Hong Kong characters in Big5): an error handler does what the standard's decoder does
there. The pairs Python decodes to other characters than the index (the same lists as for encoding) are mapped after.

Not followed: Chromium's Big5 decoder turns the four pairs that stand for two code points (0x8862, 0x8864, 0x88A3,
0x88A5) into a lone surrogate, so that no href with one of them is a link there; here they decode as the standard says.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

Encoder = Callable[[str], bytes]

# index jis0208 pointers that Shift_JIS never writes (the NEC-selected IBM extensions: it writes the IBM ones), and
# those of the private use area (which the decoders map, but the index has no entry for).
_SHIFT_JIS_EXCLUDED = range(8272, 8836)
_JIS0208_PRIVATE_USE = range(8836, 10716)
_JIS0208_POINTERS = 60 * 188  # lead bytes 0x81-0x9F and 0xE0-0xFC
# index iso-2022-jp katakana: U+FF61..U+FF9F (half-width) as the full-width forms JIS X 0208 has.
_KATAKANA = (
    "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソ"
    "タチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜"
)

# index Big5 from pointer (0xA1 - 0x81) x 157 on (all that its encoder uses), where big5hkscs decodes otherwise
# (None: the index has no entry).
_BIG5_FIRST = (0xA1 - 0x81) * 157
_BIG5_POINTERS = (0xFF - 0x81) * 157
_BIG5_DIFFERENCES: dict[int, int | None] = {
    5029: 0x2027, 5038: 0xFE51, 5120: 0x00AF, 5153: 0xFF5E, 5168: 0x2295, 5169: 0x2299, 5182: 0x2215, 5183: 0xFE68,
    5185: 0xFFE5, 5187: 0xFFE0, 5188: 0xFFE1, 5432: 0x2400, 5433: 0x2401, 5434: 0x2402, 5435: 0x2403, 5436: 0x2404,
    5437: 0x2405, 5438: 0x2406, 5439: 0x2407, 5440: 0x2408, 5441: 0x2409, 5442: 0x240A, 5443: 0x240B, 5444: 0x240C,
    5445: 0x240D, 5446: 0x240E, 5447: 0x240F, 5448: 0x2410, 5449: 0x2411, 5450: 0x2412, 5451: 0x2413, 5452: 0x2414,
    5453: 0x2415, 5454: 0x2416, 5455: 0x2417, 5456: 0x2418, 5457: 0x2419, 5458: 0x241A, 5459: 0x241B, 5460: 0x241C,
    5461: 0x241D, 5462: 0x241E, 5463: 0x241F, 5464: 0x2421, 5465: 0x20AC, 10942: 0x5EF4, 10946: 0x65E0,
    10948: 0x7676, 10950: 0x96B6, 10957: 0x3003, 10958: 0x4EDD, 19028: 0x5029, 19035: 0x507D, 19088: 0x5305,
    19096: 0x5344, 19112: 0x537F, 19162: 0x5605, 19240: 0x5A77, 19299: 0x5E75, 19305: 0x5ED0, 19326: 0x5F58,
    19355: 0x60A4, 19398: 0x6490, 19439: 0x6674, 19454: 0x675E, 19553: 0x6C9C, 19554: 0x6E1D, 19557: 0x6E2F,
    19611: 0x716E, 19643: 0x732A, 19672: 0x745C, 19697: 0x74E9, 19748: 0x7809,
}  # fmt: skip
# index Big5 below that, where big5hkscs fails (the decoder uses them).
_BIG5_BELOW_FIRST = {
    1000: 0x3875, 1001: 0x21D53, 1002: 0x2369E, 1003: 0x26021, 1004: 0x3EEC, 1005: 0x258DE, 1006: 0x3AF5,
    1007: 0x7AFC, 1008: 0x9F97, 1009: 0x24161, 1010: 0x2890D, 1011: 0x231EA, 1012: 0x20A8A, 1013: 0x2325E,
    1014: 0x430A, 1015: 0x8484, 1016: 0x9F96, 1017: 0x942F, 1018: 0x4930, 1019: 0x8613, 1020: 0x5896, 1021: 0x974A,
    1022: 0x9218, 1023: 0x79D0, 1024: 0x7A32, 1025: 0x6660, 1026: 0x6A29, 1027: 0x889D, 1028: 0x744C, 1029: 0x7BC5,
    1030: 0x6782, 1031: 0x7A2C, 1032: 0x524F, 1033: 0x9046, 1034: 0x34E6, 1035: 0x73C4, 1036: 0x25DB9, 1037: 0x74C6,
    1038: 0x9FC7, 1039: 0x57B3, 1040: 0x492F, 1041: 0x544C, 1042: 0x4131, 1043: 0x2368E, 1044: 0x5818, 1045: 0x7A72,
    1046: 0x27B65, 1047: 0x8B8F, 1048: 0x46AE, 1049: 0x26E88, 1050: 0x4181, 1051: 0x25D99, 1052: 0x7BAE,
    1053: 0x224BC, 1054: 0x9FC8, 1055: 0x224C1, 1056: 0x224C9, 1057: 0x224CC, 1058: 0x9FC9, 1059: 0x8504,
    1060: 0x235BB, 1061: 0x40B4, 1062: 0x9FCA, 1063: 0x44E1, 1064: 0x2ADFF, 1065: 0x62C1, 1066: 0x706E, 1067: 0x9FCB,
    2082: 0x7BB8, 2088: 0x7C06, 2103: 0x7CCE, 2114: 0x7DD2, 2123: 0x7E1D, 2148: 0x8005, 2151: 0x8028, 2221: 0x83C1,
    2239: 0x84A8, 2244: 0x840F, 2303: 0x89A6, 2304: 0x89A9, 2354: 0x8D77, 2400: 0x90FD, 2413: 0x92B9, 2477: 0x975C,
    2498: 0x97FF, 2605: 0x9F16, 2673: 0x8503, 2746: 0x5159, 2747: 0x515B, 2748: 0x515D, 2749: 0x515E, 2771: 0x936E,
    2780: 0x7479, 2990: 0x6D67, 3087: 0x799B, 3259: 0x9097, 3301: 0x975D, 3436: 0x701E, 3451: 0x5B28, 4136: 0x7201,
    4138: 0x77D7, 4141: 0x7E87, 4182: 0x99D6, 4206: 0x91D4, 4220: 0x60DE, 4230: 0x6FB6, 4241: 0x8F36, 4258: 0x4FBB,
    4273: 0x71DF, 4279: 0x9104, 4282: 0x9DF0, 4294: 0x83CF, 4329: 0x5C10, 4330: 0x79E3, 4349: 0x5A67, 4419: 0x8F0B,
    4422: 0x7B51, 4494: 0x62D0, 4624: 0x6062, 4694: 0x75F9, 4708: 0x6C4A, 4742: 0x9B2E, 4748: 0x9F17, 4815: 0x50ED,
    4828: 0x5F0C, 4902: 0x880F, 4922: 0x62CE, 4982: 0x7468, 4992: 0x7162, 4997: 0x7250,
}  # fmt: skip
_BIG5_LAST_POINTER = frozenset({0x2550, 0x255E, 0x2561, 0x256A, 0x5341, 0x5345})

# index gb18030 where Python's gb18030 decodes otherwise (the standard follows GB 18030-2022 there, Python 2005).
_GB18030_POINTERS = 126 * 190
_GB18030_DIFFERENCES = {
    6555: 0x3000, 7182: 0xFE10, 7183: 0xFE12, 7184: 0xFE11, 7185: 0xFE13, 7186: 0xFE14, 7187: 0xFE15, 7188: 0xFE16,
    7201: 0xFE17, 7202: 0xFE18, 7208: 0xFE19, 7533: 0x1E3F, 23775: 0x9FB4, 23783: 0x9FB5, 23788: 0x9FB6,
    23789: 0x9FB7, 23795: 0x9FB8, 23812: 0x9FB9, 23829: 0x9FBA, 23845: 0x9FBB,
}  # fmt: skip
# index gb18030 ranges: (pointer, code point), for the four-byte sequences.
_GB18030_RANGES = (
    (0, 0x0080), (36, 0x00A5), (38, 0x00A9), (45, 0x00B2), (50, 0x00B8), (81, 0x00D8), (89, 0x00E2), (95, 0x00EB),
    (96, 0x00EE), (100, 0x00F4), (103, 0x00F8), (104, 0x00FB), (105, 0x00FD), (109, 0x0102), (126, 0x0114),
    (133, 0x011C), (148, 0x012C), (172, 0x0145), (175, 0x0149), (179, 0x014E), (208, 0x016C), (306, 0x01CF),
    (307, 0x01D1), (308, 0x01D3), (309, 0x01D5), (310, 0x01D7), (311, 0x01D9), (312, 0x01DB), (313, 0x01DD),
    (341, 0x01FA), (428, 0x0252), (443, 0x0262), (544, 0x02C8), (545, 0x02CC), (558, 0x02DA), (741, 0x03A2),
    (742, 0x03AA), (749, 0x03C2), (750, 0x03CA), (805, 0x0402), (819, 0x0450), (820, 0x0452), (7922, 0x2011),
    (7924, 0x2017), (7925, 0x201A), (7927, 0x201E), (7934, 0x2027), (7943, 0x2031), (7944, 0x2034), (7945, 0x2036),
    (7950, 0x203C), (8062, 0x20AD), (8148, 0x2104), (8149, 0x2106), (8152, 0x210A), (8164, 0x2117), (8174, 0x2122),
    (8236, 0x216C), (8240, 0x217A), (8262, 0x2194), (8264, 0x219A), (8374, 0x2209), (8380, 0x2210), (8381, 0x2212),
    (8384, 0x2216), (8388, 0x221B), (8390, 0x2221), (8392, 0x2224), (8393, 0x2226), (8394, 0x222C), (8396, 0x222F),
    (8401, 0x2238), (8406, 0x223E), (8416, 0x2249), (8419, 0x224D), (8424, 0x2253), (8437, 0x2262), (8439, 0x2268),
    (8445, 0x2270), (8482, 0x2296), (8485, 0x229A), (8496, 0x22A6), (8521, 0x22C0), (8603, 0x2313), (8936, 0x246A),
    (8946, 0x249C), (9046, 0x254C), (9050, 0x2574), (9063, 0x2590), (9066, 0x2596), (9076, 0x25A2), (9092, 0x25B4),
    (9100, 0x25BE), (9108, 0x25C8), (9111, 0x25CC), (9113, 0x25D0), (9131, 0x25E6), (9162, 0x2607), (9164, 0x260A),
    (9218, 0x2641), (9219, 0x2643), (11329, 0x2E82), (11331, 0x2E85), (11334, 0x2E89), (11336, 0x2E8D),
    (11346, 0x2E98), (11361, 0x2EA8), (11363, 0x2EAB), (11366, 0x2EAF), (11370, 0x2EB4), (11372, 0x2EB8),
    (11375, 0x2EBC), (11389, 0x2ECB), (11682, 0x2FFC), (11686, 0x3004), (11687, 0x3018), (11692, 0x301F),
    (11694, 0x302A), (11714, 0x303F), (11716, 0x3094), (11723, 0x309F), (11725, 0x30F7), (11730, 0x30FF),
    (11736, 0x312A), (11982, 0x322A), (11989, 0x3232), (12102, 0x32A4), (12336, 0x3390), (12348, 0x339F),
    (12350, 0x33A2), (12384, 0x33C5), (12393, 0x33CF), (12395, 0x33D3), (12397, 0x33D6), (12510, 0x3448),
    (12553, 0x3474), (12851, 0x359F), (12962, 0x360F), (12973, 0x361B), (13738, 0x3919), (13823, 0x396F),
    (13919, 0x39D1), (13933, 0x39E0), (14080, 0x3A74), (14298, 0x3B4F), (14585, 0x3C6F), (14698, 0x3CE1),
    (15583, 0x4057), (15847, 0x4160), (16318, 0x4338), (16434, 0x43AD), (16438, 0x43B2), (16481, 0x43DE),
    (16729, 0x44D7), (17102, 0x464D), (17122, 0x4662), (17315, 0x4724), (17320, 0x472A), (17402, 0x477D),
    (17418, 0x478E), (17859, 0x4948), (17909, 0x497B), (17911, 0x497E), (17915, 0x4984), (17916, 0x4987),
    (17936, 0x499C), (17939, 0x49A0), (17961, 0x49B8), (18664, 0x4C78), (18703, 0x4CA4), (18814, 0x4D1A),
    (18962, 0x4DAF), (19043, 0x9FA6), (33469, 0xE76C), (33470, 0xE7C8), (33471, 0xE7E7), (33484, 0xE815),
    (33485, 0xE819), (33490, 0xE81F), (33497, 0xE827), (33501, 0xE82D), (33505, 0xE833), (33513, 0xE83C),
    (33520, 0xE844), (33536, 0xE856), (33550, 0xE865), (37845, 0xF92D), (37921, 0xF97A), (37948, 0xF996),
    (38029, 0xF9E8), (38038, 0xF9F2), (38064, 0xFA10), (38065, 0xFA12), (38066, 0xFA15), (38069, 0xFA19),
    (38075, 0xFA22), (38076, 0xFA25), (38078, 0xFA2A), (39108, 0xFE32), (39109, 0xFE45), (39113, 0xFE53),
    (39114, 0xFE58), (39115, 0xFE67), (39116, 0xFE6C), (39265, 0xFF5F), (39394, 0xFFE6), (189000, 0x10000),
)  # fmt: skip
_RANGE_POINTERS = [pointer for pointer, _ in _GB18030_RANGES]
_RANGE_CODE_POINTS = [code_point for _, code_point in _GB18030_RANGES]


def encoder_for(name: str) -> Encoder | None:
    """The standard's encoder for the encoding named ``name`` (its WHATWG name), if it is one of these."""
    return _ENCODERS.get(name)


def _error(code_point: int) -> bytes:
    return b"%%26%%23%d%%3B" % code_point


def _with_table(table: dict[str, bytes], text: str) -> bytes:
    return b"".join(table.get(char) or _error(ord(char)) for char in text)


def _shift_jis_bytes(pointer: int) -> bytes:
    lead, trail = divmod(pointer, 188)
    return bytes((lead + (0x81 if lead < 0x1F else 0xC1), trail + (0x40 if trail < 0x3F else 0x41)))


def _jis0212_still(data: bytes, position: int) -> tuple[str, int]:
    """After 0x8F, a byte and a malformed one, Chromium's decoder keeps reading the next pair as JIS X 0212 (the
    standard's would not): up to that pair (both bytes in 0xA1-0xFE), decoded here, since Python's would not."""
    text = ["\ufffd"]
    end = len(data)
    while position < end:
        high = _HIGH_BYTE.search(data, position)
        if high is None:
            text.append(data[position:].decode("ascii"))
            return "".join(text), end
        text.append(data[position : high.start()].decode("ascii"))
        position = high.start()
        lead = data[position]
        after = data[position + 1] if position + 1 < end else -1
        if lead == 0x8F and 0xA1 <= after <= 0xFE:
            position += 1  # still JIS X 0212, with this lead
        elif 0xA1 <= lead <= 0xFE and 0xA1 <= after <= 0xFE:
            try:
                text.append(bytes((0x8F, lead, after)).decode("euc_jp"))
            except UnicodeDecodeError:
                text.append("\ufffd")
            return "".join(text), position + 2
        elif lead == 0x8E and 0xA1 <= after <= 0xDF:
            text.append(chr(0xFF61 - 0xA1 + after))
            position += 2
        elif lead in (0x8E, 0x8F) or 0xA1 <= lead <= 0xFE:
            text.append("\ufffd")
            position += 1 if after < 0x80 else 2
        else:
            text.append("\ufffd")
            position += 1
    return "".join(text), position


_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


@functools.cache
def _jis0208_by_pointer() -> dict[int, str]:
    """index jis0208: pointer -> code point (as a string)."""
    table: dict[int, str] = {}
    for pointer in range(_JIS0208_POINTERS):
        if pointer in _JIS0208_PRIVATE_USE:
            continue
        try:
            table[pointer] = _shift_jis_bytes(pointer).decode("cp932")
        except UnicodeDecodeError:
            continue
    return table


@functools.cache
def _jis0208() -> dict[str, int]:
    """index jis0208 as code point -> its first pointer."""
    table: dict[str, int] = {}
    for pointer, char in _jis0208_by_pointer().items():
        table.setdefault(char, pointer)
    return table


def _ascii() -> dict[str, bytes]:
    return {chr(code_point): bytes((code_point,)) for code_point in range(0x80)}


@functools.cache
def _shift_jis_table() -> dict[str, bytes]:
    table = _ascii()
    for pointer in range(_JIS0208_POINTERS):
        if pointer in _SHIFT_JIS_EXCLUDED or pointer in _JIS0208_PRIVATE_USE:
            continue
        encoded = _shift_jis_bytes(pointer)
        try:
            table.setdefault(encoded.decode("cp932"), encoded)
        except UnicodeDecodeError:
            continue
    table["\x80"] = b"\x80"
    table["\u00a5"] = b"\\"
    table["\u203e"] = b"~"
    for offset in range(0x3F):
        table[chr(0xFF61 + offset)] = bytes((0xA1 + offset,))
    table["\u2212"] = table["\uff0d"]
    return table


def _encode_shift_jis(text: str) -> bytes:
    return _with_table(_shift_jis_table(), text)


@functools.cache
def _euc_jp_table() -> dict[str, bytes]:
    table = _ascii()
    for char, pointer in _jis0208().items():
        table[char] = bytes((pointer // 94 + 0xA1, pointer % 94 + 0xA1))
    table["\u00a5"] = b"\\"
    table["\u203e"] = b"~"
    for offset in range(0x3F):
        table[chr(0xFF61 + offset)] = bytes((0x8E, 0xA1 + offset))
    table["\u2212"] = table["\uff0d"]
    return table


def _encode_euc_jp(text: str) -> bytes:
    return _with_table(_euc_jp_table(), text)


_ASCII, _ROMAN, _JIS0208 = range(3)
_ESCAPES = {_ASCII: b"\x1b(B", _ROMAN: b"\x1b(J", _JIS0208: b"\x1b$B"}


def _encode_iso_2022_jp(text: str) -> bytes:
    """The standard's ISO-2022-JP encoder: ASCII, Roman (for U+00A5 and U+203E) and JIS X 0208 states, back to ASCII
    before an error and at the end."""
    jis0208 = _jis0208()
    out = bytearray()
    state = _ASCII
    for char in text:
        code_point = ord(char)
        if code_point < 0x80:
            if state == _JIS0208 or (state == _ROMAN and code_point in (0x5C, 0x7E)):
                state = _ASCII
                out += _ESCAPES[_ASCII]
            # Shift Out, Shift In and Escape would change the state of a decoder: U+FFFD's reference instead.
            out += _error(0xFFFD) if code_point in (0x0E, 0x0F, 0x1B) else bytes((code_point,))
            continue
        if code_point in (0xA5, 0x203E):
            if state != _ROMAN:
                state = _ROMAN
                out += _ESCAPES[_ROMAN]
            out.append(0x5C if code_point == 0xA5 else 0x7E)
            continue
        if code_point == 0x2212:
            char = "\uff0d"
        elif 0xFF61 <= code_point <= 0xFF9F:
            char = _KATAKANA[code_point - 0xFF61]
        pointer = jis0208.get(char)
        if pointer is None:
            if state == _JIS0208:
                state = _ASCII
                out += _ESCAPES[_ASCII]
            out += _error(code_point)
            continue
        if state != _JIS0208:
            state = _JIS0208
            out += _ESCAPES[_JIS0208]
        out += bytes((pointer // 94 + 0x21, pointer % 94 + 0x21))
    if state != _ASCII:
        out += _ESCAPES[_ASCII]
    return bytes(out)


@functools.cache
def _big5_table() -> dict[str, bytes]:
    table = _ascii()
    for pointer in range(_BIG5_FIRST, _BIG5_POINTERS):
        lead, trail = divmod(pointer, 157)
        encoded = bytes((lead + 0x81, trail + (0x40 if trail < 0x3F else 0x62)))
        if pointer in _BIG5_DIFFERENCES:
            code_point = _BIG5_DIFFERENCES[pointer]
            if code_point is None:
                continue
            char = chr(code_point)
        else:
            try:
                char = encoded.decode("big5hkscs")
            except UnicodeDecodeError:
                continue
        if len(char) != 1:
            continue
        if ord(char) in _BIG5_LAST_POINTER:
            table[char] = encoded
        else:
            table.setdefault(char, encoded)
    return table


def _encode_big5(text: str) -> bytes:
    return _with_table(_big5_table(), text)


@functools.cache
def _gb18030_table() -> dict[str, bytes]:
    """index gb18030 as code point -> the two bytes of its first pointer; and ASCII."""
    table = _ascii()
    for pointer in range(_GB18030_POINTERS):
        lead, trail = divmod(pointer, 190)
        encoded = bytes((lead + 0x81, trail + (0x40 if trail < 0x3F else 0x41)))
        if pointer in _GB18030_DIFFERENCES:
            char = chr(_GB18030_DIFFERENCES[pointer])
            # The private use code point these bytes stood for before 2022 is still written as them (as Chromium
            # does), but for U+E5E5 (an error) and U+E7C7 (four bytes now).
            former = encoded.decode("gb18030")
            if former not in ("\ue5e5", "\ue7c7"):
                table[former] = encoded
        else:
            try:
                char = encoded.decode("gb18030")
            except UnicodeDecodeError:
                continue
        table.setdefault(char, encoded)
    return table


def _four_bytes(code_point: int) -> bytes:
    """The four bytes of a code point the two-byte index lacks (index gb18030 ranges)."""
    if code_point == 0xE7C7:
        pointer = 7457
    else:
        at = bisect.bisect_right(_RANGE_CODE_POINTS, code_point) - 1
        pointer = _RANGE_POINTERS[at] + code_point - _RANGE_CODE_POINTS[at]
    first, pointer = divmod(pointer, 10 * 126 * 10)
    second, pointer = divmod(pointer, 10 * 126)
    third, fourth = divmod(pointer, 10)
    return bytes((first + 0x81, second + 0x30, third + 0x81, fourth + 0x30))


def _encode_gb18030(text: str) -> bytes:
    table = _gb18030_table()
    out = []
    for char in text:
        encoded = table.get(char)
        if encoded is None:
            code_point = ord(char)
            encoded = _error(code_point) if code_point == 0xE5E5 else _four_bytes(code_point)
        out.append(encoded)
    return b"".join(out)


def _encode_gbk(text: str) -> bytes:
    table = _gb18030_table()
    out = []
    for char in text:
        encoded = b"\x80" if char == "\u20ac" else table.get(char)  # the euro sign is one byte in GBK
        if encoded is None:
            encoded = _error(ord(char))
        out.append(encoded)
    return b"".join(out)


_ENCODERS: dict[str, Encoder] = {
    "shift_jis": _encode_shift_jis,
    "euc-jp": _encode_euc_jp,
    "iso-2022-jp": _encode_iso_2022_jp,
    "big5": _encode_big5,
    "gb18030": _encode_gb18030,
    "gbk": _encode_gbk,
}


# --- Decoding -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecoderFixes:
    """How to make Python's decoder for a CJK encoding decode as the standard's: the error handler to decode with,
    and the characters to replace in what it gives, each with its replacement, and a pattern that finds them
    (``str.translate`` takes ten times as long as decoding)."""

    errors: str
    pattern: re.Pattern[str] | None = None
    replacements: dict[str, str] = field(default_factory=dict)

    def replace(self, match: re.Match[str]) -> str:
        return self.replacements[match.group()]


def decoder_fixes(name: str) -> DecoderFixes | None:
    """The fixes for a CJK encoding (its WHATWG name); None for other encodings."""
    return _DECODER_FIXES.get(name)


def _malformed(data: bytes, start: int) -> tuple[str, int]:
    """A lead byte whose pair has no code point: the standard's decoders give one U+FFFD for both bytes, or for the
    lead alone when the next byte is ASCII (read again) or there is none."""
    if start + 1 >= len(data) or data[start + 1] < 0x80:
        return "\ufffd", start + 1
    return "\ufffd", start + 2


def _shift_jis_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    lead = data[start]
    if 0x81 <= lead <= 0x9F or 0xE0 <= lead <= 0xFC:
        return _malformed(data, start)
    return "\ufffd", start + 1


def _euc_kr_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    if 0x81 <= data[start] <= 0xFE:
        return _malformed(data, start)
    return "\ufffd", start + 1


def _big5_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    lead = data[start]
    if not 0x81 <= lead <= 0xFE:
        return "\ufffd", start + 1
    if start + 1 < len(data):
        trail = data[start + 1]
        if 0x40 <= trail <= 0x7E or 0xA1 <= trail <= 0xFE:
            pointer = (lead - 0x81) * 157 + trail - (0x40 if trail < 0x7F else 0x62)
            code_point = _BIG5_BELOW_FIRST.get(pointer) or _BIG5_DIFFERENCES.get(pointer)
            if code_point is not None:
                return chr(code_point), start + 2
    return _malformed(data, start)


def _euc_jp_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    lead = data[start]
    end = len(data)
    if lead == 0x8E:  # half-width katakana, but for this next byte
        return _malformed(data, start)
    if lead == 0x8F:  # JIS X 0212: Python's decoder has every pair of index jis0212
        if start + 1 < end and 0xA1 <= data[start + 1] <= 0xFE:
            if start + 2 < end and 0xA1 <= data[start + 2] <= 0xFE:
                return "\ufffd", start + 3  # a pair index jis0212 has no code point for
            position = start + 2 if start + 2 >= end or data[start + 2] < 0x80 else start + 3
            return _jis0212_still(data, position)
        return _malformed(data, start)
    if 0xA1 <= lead <= 0xFE:
        if start + 1 < end and 0xA1 <= data[start + 1] <= 0xFE:
            pointer = (lead - 0xA1) * 94 + data[start + 1] - 0xA1
            char = _jis0208_by_pointer().get(pointer)
            if char is not None:
                return char, start + 2
        return _malformed(data, start)
    return "\ufffd", start + 1


def _gb18030_error(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    lead = data[start]
    end = len(data)
    if lead == 0x80:
        return "\u20ac", start + 1
    if not 0x81 <= lead <= 0xFE:
        return "\ufffd", start + 1
    if start + 1 >= end:
        return "\ufffd", end
    second = data[start + 1]
    if 0x30 <= second <= 0x39:  # four bytes
        if start + 3 >= end:
            return "\ufffd", end
        if 0x81 <= data[start + 2] <= 0xFE and 0x30 <= data[start + 3] <= 0x39:
            return "\ufffd", start + 4  # a sequence with no code point
        return "\ufffd", start + 1  # the three bytes after the lead are read again
    return _malformed(data, start)


_EUC_JP_TRANSLATION = {0x301C: 0xFF5E, 0x2016: 0x2225, 0x2212: 0xFF0D, 0xA2: 0xFFE0, 0xA3: 0xFFE1, 0xAC: 0xFFE2}
# The two-byte sequences GB 18030-2022 gave characters where Python's codec has private use ones; U+E7C7 and U+1E3F
# swap places (A8BC and 8135F437).
_GB18030_TRANSLATION = {
    ord(
        bytes((pointer // 190 + 0x81, pointer % 190 + (0x40 if pointer % 190 < 0x3F else 0x41))).decode("gb18030")
    ): code
    for pointer, code in _GB18030_DIFFERENCES.items()
} | {0x1E3F: 0xE7C7}
# The pairs big5hkscs decodes otherwise, but for two it decodes like their neighbours (``_BIG5_LOOKALIKES``).
_BIG5_TRANSLATION = {
    0x2022: 0x2027, 0xFF64: 0xFE51, 0x203E: 0xAF, 0x223C: 0xFF5E, 0x2641: 0x2295, 0x2609: 0x2299, 0xA5: 0xFFE5,
    0xA2: 0xFFE0, 0xA3: 0xFFE1,
}  # fmt: skip
# A241 and A242: U+2215 and U+FE68 in the standard, U+FF0F and U+FF3C (as A1FE and A240) in big5hkscs.
_BIG5_LOOKALIKES = {b"\xa2\x41": "\u2215", b"\xa2\x42": "\ufe68"}


def big5_lookalikes(data: bytes) -> list[tuple[int, str]]:
    """Where ``data`` (Big5) has a pair big5hkscs decodes like another one, in order, with its character: a pair
    found where a pair starts, not as the second byte of one and the first of the next.

    One pass for all of them: each is read from where the one before it was left (a place a character starts), or
    from the last byte before it that cannot end a pair (below 0x40), if that is nearer. Reading each from that byte
    alone went back over every pair since it, quadratic: 8 KB of A2 41 took 1.8 s of the event loop."""
    candidates = []
    for pair, char in _BIG5_LOOKALIKES.items():
        at = data.find(pair)
        while at >= 0:
            candidates.append((at, char))
            at = data.find(pair, at + 1)
    found = []
    position = 0  # where a character starts, at or before the next candidate (or past it: that one starts none)
    for at, char in sorted(candidates):
        if position < at:
            position = _pair_start_at_or_after(data, _last_start(data, at, position), at)
        if position == at:
            found.append((at, char))
    return found


def _last_start(data: bytes, at: int, floor: int) -> int:
    """The last place before ``at``, down to ``floor`` (a place a character starts), after a byte below 0x40: no
    pair ends with one, so a character starts after it."""
    position = at
    while position > floor and data[position - 1] >= 0x40:
        position -= 1
    return position


def _pair_start_at_or_after(data: bytes, position: int, at: int) -> int:
    """Read characters from ``position`` (where one starts) to the first that starts at ``at`` or after it."""
    while position < at:
        # A lead byte takes the next byte with it unless that is ASCII and no trail byte (then read again).
        if 0x81 <= data[position] <= 0xFE and position + 1 < len(data):
            after = data[position + 1]
            position += 2 if 0x40 <= after <= 0x7E or after >= 0x80 else 1
        else:
            position += 1
    return position


# cp932 reads 0xA0 and 0xFD-0xFF as private use characters, the standard as errors.
_SHIFT_JIS_TRANSLATION = dict.fromkeys(range(0xF8F0, 0xF8F4), 0xFFFD)

for _name, _handler in (
    ("shift_jis", _shift_jis_error),
    ("euc-kr", _euc_kr_error),
    ("big5", _big5_error),
    ("euc-jp", _euc_jp_error),
    ("gb18030", _gb18030_error),
):
    codecs.register_error(f"linkcast-{_name}", _handler)


def _fixes(errors: str, translation: dict[int, int]) -> DecoderFixes:
    if not translation:
        return DecoderFixes(errors)
    pattern = re.compile("[" + "".join(map(chr, sorted(translation))) + "]")
    return DecoderFixes(errors, pattern, {chr(source): chr(target) for source, target in translation.items()})


_DECODER_FIXES: dict[str, DecoderFixes] = {
    "shift_jis": _fixes("linkcast-shift_jis", _SHIFT_JIS_TRANSLATION),
    "euc-kr": _fixes("linkcast-euc-kr", {}),
    "big5": _fixes("linkcast-big5", _BIG5_TRANSLATION),
    "euc-jp": _fixes("linkcast-euc-jp", _EUC_JP_TRANSLATION),
    "gb18030": _fixes("linkcast-gb18030", _GB18030_TRANSLATION),
}
_DECODER_FIXES["gbk"] = _DECODER_FIXES["gb18030"]  # GBK decodes as gb18030


# --- ISO-2022-JP ----------------------------------------------------------------------------------------------------

_ESCAPES_TO = {b"(B": _ASCII, b"(J": _ROMAN, b"(I": 3, b"$@": _JIS0208, b"$B": _JIS0208}
_KATAKANA_STATE = 3
_ASCII_RUN = re.compile(rb"[\x00-\x0d\x10-\x1a\x1c-\x7f]+")
_KATAKANA_RUN = re.compile(rb"[\x21-\x5f]+")
_PAIRS_RUN = re.compile(rb"(?:[\x21-\x7e]{2})+")
_ROMAN_CHARACTERS = str.maketrans({"\\": "\u00a5", "~": "\u203e"})


def decode_iso_2022_jp(data: bytes) -> str:
    """The standard's ISO-2022-JP decoder (Python's differs: JIS X 0208 as the JIS mapping, not index jis0208, and
    other errors), a run of bytes at a time; as Chromium's, an error in the bytes read again after an escape sequence
    that is none gives no U+FFFD of its own (that of the escape stands for both), unless it is another escape."""
    jis0208 = _jis0208_by_pointer()
    out: list[str] = []
    state = output_state = _ASCII
    output = False  # whether an escape sequence was the last thing read (a second one in a row is an error)
    quiet_until = 0  # an error starting before this is one with the failed escape sequence's
    position, end = 0, len(data)
    while position < end:
        error = "\ufffd" if position >= quiet_until else ""
        if data[position] == 0x1B:
            escape = data[position + 1 : position + 3]
            if escape in _ESCAPES_TO:
                state = output_state = _ESCAPES_TO[escape]
                if output:
                    out.append("\ufffd")
                output = True
                position += 3
                continue
            out.append("\ufffd")  # the bytes after it are read again
            quiet_until = position + 1 + (len(escape) if escape[:1] in (b"(", b"$") else 0)
            output = False
            state = output_state
            position += 1
            continue
        output = False
        if state in (_ASCII, _ROMAN):
            run = _ASCII_RUN.match(data, position)
            if run is None:
                out.append(error)
                position += 1
                continue
            text = run.group().decode("ascii")
            out.append(text.translate(_ROMAN_CHARACTERS) if state == _ROMAN else text)
            position = run.end()
        elif state == _KATAKANA_STATE:
            run = _KATAKANA_RUN.match(data, position)
            if run is None:
                out.append(error)
                position += 1
                continue
            out.append("".join(chr(0xFF61 - 0x21 + byte) for byte in run.group()))
            position = run.end()
        else:  # JIS X 0208: pairs
            run = _PAIRS_RUN.match(data, position)
            if run is not None:
                pairs = run.group()
                chars = [
                    jis0208.get((pairs[at] - 0x21) * 94 + pairs[at + 1] - 0x21, "\ufffd")
                    for at in range(0, len(pairs), 2)
                ]
                if not error and chars[0] == "\ufffd":
                    chars[0] = ""
                out.extend(chars)
                position = run.end()
                continue
            out.append(error)
            if 0x21 <= data[position] <= 0x7E and position + 1 < end and data[position + 1] != 0x1B:
                position += 2  # a leading byte and a byte that cannot follow it: both taken
            else:
                position += 1
    return "".join(out)
