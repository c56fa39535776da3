"""Google's robots.txt conformance suite, every case of ``robots_test.cc`` (github.com/google/robotstxt, Apache-2.0).

Each case is Google's robots.txt, product token, URL and answer, as data. Where Google's parser deliberately departs
from RFC 9309 (its tests say "Google-specific", or leave the URL's percent-encoding to the caller), the case keeps
Google's input and expects what the RFC says; ``google`` records Google's own answer and ``why`` the difference.
Cases on Google's parse-callback counters (line numbers, valid and unknown directives) are ported to what those
counts stand for here: the rules that result and ``RobotsRules.ignored_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from linkcast.crawl.robots import (
    canonical_octets,
    is_valid_product_token,
    parse_robots,
    path_and_query,
)


def is_user_agent_allowed(robotstxt: str | bytes, agent: str, url: str) -> bool:
    body = robotstxt.encode() if isinstance(robotstxt, str) else robotstxt
    return parse_robots(body).allows(path_and_query(url) if url else "", agent)


@dataclass(frozen=True)
class Case:
    test: str  # Google's TEST name
    robotstxt: str | bytes
    agent: str
    url: str
    allowed: bool
    google: bool | None = None  # Google's answer, where the RFC says otherwise
    why: str = ""

    def __str__(self) -> str:
        return f"{self.test}:{self.agent}:{self.url[:60]}"


FOOBOT_DISALLOW_ALL = "user-agent: FooBot\ndisallow: /\n"

GROUPS = (
    "allow: /foo/bar/\n"
    "\n"
    "user-agent: FooBot\n"
    "disallow: /\n"
    "allow: /x/\n"
    "user-agent: BarBot\n"
    "disallow: /\n"
    "allow: /y/\n"
    "\n"
    "\n"
    "allow: /w/\n"
    "user-agent: BazBot\n"
    "\n"
    "user-agent: FooBot\n"
    "allow: /z/\n"
    "disallow: /\n"
)
OTHER_RULES_SITEMAP = "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n"
OTHER_RULES_UNKNOWN = "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n"
NAMES_UPPER = "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n"
NAMES_LOWER = "user-agent: FooBot\nallow: /x/\ndisallow: /\n"
NAMES_CAMEL = "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n"
AGENT_UPPER = "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n"
AGENT_LOWER = "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n"
AGENT_CAMEL = "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n"
UP_TO_FIRST_SPACE = "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n"
GLOBAL = "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n"
ONLY_SPECIFIC = "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\nuser-agent: BazBot\ndisallow: /\n"
PAGE = "http://foo.bar/x/page.html"


def _long_line_cases() -> list[Case]:
    """GoogleOnly_LineTooLong: Google cuts every line at 8 * 2083 bytes; RFC 9309 has no line limit (only 2.5's
    limit on the whole file), so the full pattern is used and the URLs that only match the cut pattern are not
    matched."""
    max_line = 2083 * 8
    why = "RFC 9309 cuts no line; Google cuts lines at 16,664 bytes"
    disallow_len = max_line - len("/x/") - len("disallow: ") + 1
    long_a = "/x/" + "a" * (disallow_len - 3)
    first = f"user-agent: FooBot\ndisallow: {long_a}/qux\n"
    allow_len = max_line - len("/x/") - len("allow: ") + 1
    long_a2, long_b2 = "/x/" + "a" * (allow_len - 3), "/x/" + "b" * (allow_len - 3)
    second = f"user-agent: FooBot\ndisallow: /\nallow: {long_a2}/qux\nallow: {long_b2}/qux\n"
    return [
        Case("GoogleOnly_LineTooLong", first, "FooBot", "http://foo.bar/fux", True),
        Case("GoogleOnly_LineTooLong", first, "FooBot", f"http://foo.bar{long_a}/fux", True, google=False, why=why),
        Case("GoogleOnly_LineTooLong", second, "FooBot", "http://foo.bar/", False),
        Case("GoogleOnly_LineTooLong", second, "FooBot", f"http://foo.bar{long_a2}/qux", True),
        Case("GoogleOnly_LineTooLong", second, "FooBot", f"http://foo.bar{long_b2}/fux", False, google=True, why=why),
    ]


def _documentation_cases() -> list[Case]:
    """GoogleOnly_DocumentationChecks: the examples of Google's robots.txt documentation (all agree with the RFC)."""
    t = "GoogleOnly_DocumentationChecks"
    fish = "user-agent: FooBot\ndisallow: /\nallow: /fish\n"
    fish_star = "user-agent: FooBot\ndisallow: /\nallow: /fish*\n"
    fish_slash = "user-agent: FooBot\ndisallow: /\nallow: /fish/\n"
    php = "user-agent: FooBot\ndisallow: /\nallow: /*.php\n"
    php_end = "user-agent: FooBot\ndisallow: /\nallow: /*.php$\n"
    fish_php = "user-agent: FooBot\ndisallow: /\nallow: /fish*.php\n"
    cases: list[Case] = []
    for robots in (fish, fish_star):
        cases += [Case(t, robots, "FooBot", f"http://foo.bar{p}", False) for p in ("/bar",)]
        cases += [
            Case(t, robots, "FooBot", f"http://foo.bar{p}", True)
            for p in (
                "/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fishheads/yummy.html",
                "/fish.html?id=anything",
            )
        ]  # fmt: skip
        other = "/Fish.asp" if robots is fish else "/Fish.bar"
        cases += [Case(t, robots, "FooBot", f"http://foo.bar{p}", False) for p in (other, "/catfish", "/?id=fish")]
    cases += [Case(t, fish_slash, "FooBot", "http://foo.bar/bar", False)]
    cases += [
        Case(t, fish_slash, "FooBot", f"http://foo.bar{p}", True)
        for p in ("/fish/", "/fish/salmon", "/fish/?salmon", "/fish/salmon.html", "/fish/?id=anything")
    ]
    cases += [
        Case(t, fish_slash, "FooBot", f"http://foo.bar{p}", False) for p in ("/fish", "/fish.html", "/Fish/Salmon.html")
    ]
    cases += [Case(t, php, "FooBot", "http://foo.bar/bar", False)]
    cases += [
        Case(t, php, "FooBot", f"http://foo.bar{p}", True)
        for p in (
            "/filename.php", "/folder/filename.php", "/folder/filename.php?parameters", "//folder/any.php.file.html",
            "/filename.php/", "/index?f=filename.php/",
        )
    ]  # fmt: skip
    cases += [Case(t, php, "FooBot", f"http://foo.bar{p}", False) for p in ("/php/", "/index?php", "/windows.PHP")]
    cases += [Case(t, php_end, "FooBot", "http://foo.bar/bar", False)]
    cases += [Case(t, php_end, "FooBot", f"http://foo.bar{p}", True) for p in ("/filename.php", "/folder/filename.php")]
    cases += [
        Case(t, php_end, "FooBot", f"http://foo.bar{p}", False)
        for p in (
            "/filename.php?parameters", "/filename.php/", "/filename.php5", "/php/", "/filename?php", "/aaaphpaaa",
            "//windows.PHP",
        )
    ]  # fmt: skip
    cases += [Case(t, fish_php, "FooBot", "http://foo.bar/bar", False)]
    cases += [
        Case(t, fish_php, "FooBot", f"http://foo.bar{p}", True)
        for p in ("/fish.php", "/fishheads/catfish.php?parameters")
    ]
    cases += [Case(t, fish_php, "FooBot", "http://foo.bar/Fish.PHP", False)]
    # Section "Order of precedence for group-member records".
    cases += [
        Case(t, FOOBOT + "allow: /p\ndisallow: /\n", "FooBot", "http://example.com/page", True),
        Case(t, FOOBOT + "allow: /folder\ndisallow: /folder\n", "FooBot", "http://example.com/folder/page", True),
        Case(t, FOOBOT + "allow: /page\ndisallow: /*.htm\n", "FooBot", "http://example.com/page.htm", False),
        Case(t, FOOBOT + "allow: /$\ndisallow: /\n", "FooBot", "http://example.com/", True),
        Case(t, FOOBOT + "allow: /$\ndisallow: /\n", "FooBot", "http://example.com/page.html", False),
    ]
    return cases


ENCODING_QUERY = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n"
ENCODING_UTF8 = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/ツ\n"
ENCODING_ESCAPED = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n"
ENCODING_UNRESERVED = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n"
URI_ENCODED_TOO = "RFC 9309 2.2.2: the URI's non-ASCII octets are percent-encoded too (Google leaves it to the caller)"
STAR = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n"
DOLLAR = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n"
HASH = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n"
INDEX_HTML = "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n"
FOOBOT = "user-agent: FooBot\n"
STAR_X_FOOBOT_Y = "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n"
F = "http://foo.bar"


def _longest_match_cases() -> list[Case]:
    t = "ID_LongestMatch"
    return [
        Case(t, FOOBOT + "disallow: /x/page.html\nallow: /x/\n", "FooBot", PAGE, False),
        Case(t, FOOBOT + "allow: /x/page.html\ndisallow: /x/\n", "FooBot", PAGE, True),
        Case(t, FOOBOT + "allow: /x/page.html\ndisallow: /x/\n", "FooBot", F + "/x/", False),
        Case(t, FOOBOT + "disallow: \nallow: \n", "FooBot", PAGE, True),
        Case(t, FOOBOT + "disallow: /\nallow: /\n", "FooBot", PAGE, True),
        Case(t, FOOBOT + "disallow: /x\nallow: /x/\n", "FooBot", F + "/x", False),
        Case(t, FOOBOT + "disallow: /x\nallow: /x/\n", "FooBot", F + "/x/", True),
        Case(t, FOOBOT + "disallow: /x/page.html\nallow: /x/page.html\n", "FooBot", PAGE, True),
        Case(t, FOOBOT + "allow: /page\ndisallow: /*.html\n", "FooBot", F + "/page.html", False),
        Case(t, FOOBOT + "allow: /page\ndisallow: /*.html\n", "FooBot", F + "/page", True),
        Case(t, FOOBOT + "allow: /x/page.\ndisallow: /*.html\n", "FooBot", PAGE, True),
        Case(t, FOOBOT + "allow: /x/page.\ndisallow: /*.html\n", "FooBot", F + "/x/y.html", False),
        Case(t, STAR_X_FOOBOT_Y, "FooBot", F + "/x/page", True),
        Case(t, STAR_X_FOOBOT_Y, "FooBot", F + "/y/page", False),
    ]


def _encoding_and_special_character_cases() -> list[Case]:
    e, s = "ID_Encoding", "ID_SpecialCharacters"
    return [
        Case(e, ENCODING_QUERY, "FooBot", F + "/foo/bar?qux=taz&baz=http://foo.bar?tar&par", True),
        Case(e, ENCODING_UTF8, "FooBot", F + "/foo/bar/%E3%83%84", True),
        Case(e, ENCODING_UTF8, "FooBot", F + "/foo/bar/ツ", True, google=False, why=URI_ENCODED_TOO),
        Case(e, ENCODING_ESCAPED, "FooBot", F + "/foo/bar/%E3%83%84", True),
        Case(e, ENCODING_ESCAPED, "FooBot", F + "/foo/bar/ツ", True, google=False, why=URI_ENCODED_TOO),
        Case(
            e,
            ENCODING_UNRESERVED,
            "FooBot",
            F + "/foo/bar/baz",
            True,
            google=False,
            why="RFC 9309 2.2.2 (and its table: /foo/bar/%62%61%7A is matched as /foo/bar/baz): percent-encoded "
            "unreserved octets are decoded before comparison",
        ),
        Case(e, ENCODING_UNRESERVED, "FooBot", F + "/foo/bar/%62%61%7A", True),
        *(
            Case(s, STAR, "FooBot", F + path, allowed)
            for path, allowed in (
                ("/foo/bar/quz", False),
                ("/foo/quz", True),
                ("/foo//quz", True),
                ("/foo/bax/quz", True),
            )
        ),
        *(
            Case(s, DOLLAR, "FooBot", F + path, allowed)
            for path, allowed in (
                ("/foo/bar", False),
                ("/foo/bar/qux", True),
                ("/foo/bar/", True),
                ("/foo/bar/baz", True),
            )
        ),
        *(Case(s, HASH, "FooBot", F + path, allowed) for path, allowed in (("/foo/bar", True), ("/foo/quz", False))),
    ]


def _index_html_cases() -> list[Case]:
    t = "GoogleOnly_IndexHTMLisDirectory"
    why = "RFC 9309 matches the pattern's octets; Google alone takes a trailing index.html for its directory"
    return [
        Case(t, INDEX_HTML, "foobot", "http://foo.com/allowed-slash/", False, google=True, why=why),
        Case(t, INDEX_HTML, "foobot", "http://foo.com/allowed-slash/index.htm", False),
        Case(t, INDEX_HTML, "foobot", "http://foo.com/allowed-slash/index.html", True),
        Case(t, INDEX_HTML, "foobot", "http://foo.com/anyother-url", False),
    ]


CASES: list[Case] = [
    # GoogleOnly_SystemTest
    Case("GoogleOnly_SystemTest", "", "FooBot", "", True),
    Case("GoogleOnly_SystemTest", FOOBOT_DISALLOW_ALL, "", "", True),
    Case("GoogleOnly_SystemTest", FOOBOT_DISALLOW_ALL, "FooBot", "", False),  # an empty URL is the path "/"
    Case("GoogleOnly_SystemTest", "", "", "", True),
    # ID_LineSyntax_Line
    Case("ID_LineSyntax_Line", FOOBOT_DISALLOW_ALL, "FooBot", F + "/x/y", False),
    Case("ID_LineSyntax_Line", "foo: FooBot\nbar: /\n", "FooBot", F + "/x/y", True),
    Case("ID_LineSyntax_Line", "user-agent FooBot\ndisallow /\n", "FooBot", F + "/x/y", False),
    # ID_LineSyntax_Groups
    *(
        Case("ID_LineSyntax_Groups", GROUPS, agent, F + path, allowed)
        for agent, path, allowed in (
            ("FooBot", "/x/b", True),
            ("FooBot", "/z/d", True),
            ("FooBot", "/y/c", False),
            ("BarBot", "/y/c", True),
            ("BarBot", "/w/a", True),
            ("BarBot", "/z/d", False),
            ("BazBot", "/z/d", True),
            # Rules outside any group are ignored.
            ("FooBot", "/foo/bar/", False),
            ("BarBot", "/foo/bar/", False),
            ("BazBot", "/foo/bar/", False),
        )
    ),
    # ID_LineSyntax_Groups_OtherRules
    *(
        Case("ID_LineSyntax_Groups_OtherRules", robots, agent, F + "/", False)
        for robots in (OTHER_RULES_SITEMAP, OTHER_RULES_UNKNOWN)
        for agent in ("FooBot", "BarBot")
    ),
    # ID_REPLineNamesCaseInsensitive
    *(
        Case("ID_REPLineNamesCaseInsensitive", robots, "FooBot", F + path, allowed)
        for robots in (NAMES_UPPER, NAMES_LOWER, NAMES_CAMEL)
        for path, allowed in (("/x/y", True), ("/a/b", False))
    ),
    # ID_UserAgentValueCaseInsensitive ("FOO BAR" is matched by its product token "FOO", as Google does too)
    *(
        Case("ID_UserAgentValueCaseInsensitive", robots, agent, F + path, allowed)
        for agent in ("Foo", "foo")
        for robots in (AGENT_UPPER, AGENT_LOWER, AGENT_CAMEL)
        for path, allowed in (("/x/y", True), ("/a/b", False))
    ),
    # GoogleOnly_AcceptUserAgentUpToFirstSpace: the RFC's rule too as we read it (a user-agent value is matched by
    # its product token), and "Foo Bar" is no product token, so that crawler finds only the "*" group.
    Case("GoogleOnly_AcceptUserAgentUpToFirstSpace", UP_TO_FIRST_SPACE, "Foo", F + "/x/y", True),
    Case("GoogleOnly_AcceptUserAgentUpToFirstSpace", UP_TO_FIRST_SPACE, "Foo Bar", F + "/x/y", False),
    # ID_GlobalGroups_Secondary
    Case("ID_GlobalGroups_Secondary", "", "FooBot", F + "/x/y", True),
    Case("ID_GlobalGroups_Secondary", GLOBAL, "FooBot", F + "/x/y", False),
    Case("ID_GlobalGroups_Secondary", GLOBAL, "BarBot", F + "/x/y", True),
    Case("ID_GlobalGroups_Secondary", ONLY_SPECIFIC, "QuxBot", F + "/x/y", True),
    # ID_AllowDisallow_Value_CaseSensitive
    Case("ID_AllowDisallow_Value_CaseSensitive", FOOBOT + "disallow: /x/\n", "FooBot", F + "/x/y", False),
    Case("ID_AllowDisallow_Value_CaseSensitive", FOOBOT + "disallow: /X/\n", "FooBot", F + "/x/y", True),
    *_longest_match_cases(),
    *_encoding_and_special_character_cases(),
    *_index_html_cases(),
    *_long_line_cases(),
    *_documentation_cases(),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_google_conformance_case(case: Case) -> None:
    assert is_user_agent_allowed(case.robotstxt, case.agent, case.url) is case.allowed, case.why


def test_every_departure_from_google_is_explained() -> None:
    departures = [case for case in CASES if case.google is not None]
    assert all(case.google is not case.allowed and case.why for case in departures)
    assert len(departures) == 6


# ID_VerifyValidUserAgentsToObey
@pytest.mark.parametrize(
    ("token", "valid"),
    [
        ("Foobot", True),
        ("Foobot-Bar", True),
        ("Foo_Bar", True),
        ("", False),
        ("ツ", False),
        ("Foobot*", False),
        (" Foobot ", False),
        ("Foobot/2.1", False),
        ("Foobot Bar", False),
    ],
)
def test_google_valid_user_agents_to_obey(token: str, valid: bool) -> None:
    assert is_valid_product_token(token) is valid


# ID_LinesNumbersAreCountedCorrectly: every line ending (LF, CRLF, CR, none at the end, mixed) gives the same records.
@pytest.mark.parametrize(
    "robotstxt",
    [
        b"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n",
        b"User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
        b"User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r",
        b"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
        b"User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
    ],
    ids=["unix", "dos", "mac", "no-final-newline", "mixed"],
)
def test_google_line_endings_are_all_supported(robotstxt: bytes) -> None:
    rules = parse_robots(robotstxt)
    assert rules.ignored_lines == 0
    assert rules.allows("/some/path", "foo") and rules.allows("/other", "foo")
    assert not rules.allows("/some/path", "bar")  # bar's group starts at line 3 and ends with line 6's rule


# ID_UTF8ByteOrderMarkIsSkipped
@pytest.mark.parametrize(
    ("robotstxt", "rules_read", "ignored"),
    [
        (b"\xef\xbb\xbfUser-Agent: foo\nAllow: /AnyValue\n", True, 0),
        (b"\xef\xbbUser-Agent: foo\nAllow: /AnyValue\n", True, 0),  # a partial BOM is skipped as well
        (b"\xefUser-Agent: foo\nAllow: /AnyValue\n", True, 0),
        (b"\xef\x11\xbfUser-Agent: foo\nAllow: /AnyValue\n", False, 1),  # not a BOM: the first line is junk
        (b"User-Agent: foo\n\xef\xbb\xbfAllow: /AnyValue\n", False, 1),  # a BOM only counts at the very start
    ],
    ids=["full", "partial-2", "partial-1", "broken", "mid-file"],
)
def test_google_utf8_byte_order_mark_is_skipped(robotstxt: bytes, rules_read: bool, ignored: int) -> None:
    rules = parse_robots(robotstxt + b"User-Agent: foo\nDisallow: /\n")  # same group name: merged when the group read
    assert rules.ignored_lines == ignored
    assert rules.allows("/AnyValue", "foo") is rules_read


# ID_NonStandardLineExample_Sitemap: a Sitemap line is read wherever it is, and ends no group.
@pytest.mark.parametrize("before", [False, True], ids=["after-groups", "before-groups"])
def test_google_sitemap_line_is_read_anywhere(before: bool) -> None:
    groups = "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n"
    sitemap = "Sitemap: http://foo.bar/sitemap.xml\n"
    rules = parse_robots((sitemap + groups if before else groups + sitemap).encode())
    assert rules.sitemaps == ("http://foo.bar/sitemap.xml",)


# TestGetPathParamsQuery: what is matched of a URL. Google's function also takes scheme-less strings ("example.com/a",
# "a/b", "//a/b/c") and guesses their host; ours takes absolute URLs only and refuses the rest.
@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://www.example.com", "/"),
        ("http://www.example.com/", "/"),
        ("http://www.example.com/a", "/a"),
        ("http://www.example.com/a/", "/a/"),
        ("http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"),
        ("http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
    ],
)
def test_google_path_params_query(url: str, path: str) -> None:
    assert path_and_query(url) == path


@pytest.mark.parametrize(
    "not_absolute",
    [
        "",
        "example.com",
        "example.com/",
        "example.com/a",
        "example.com/a/",
        "example.com/a/b?c=d&e=f#fragment",
        "a",
        "a/",
        "/a",
        "a/b",
        "example.com?a",
        "example.com/a;b#c",
        "//a/b/c",
    ],
)
def test_google_path_params_query_of_a_string_that_is_no_absolute_url_is_refused(not_absolute: str) -> None:
    with pytest.raises(ValueError):
        path_and_query(not_absolute)


# TestMaybeEscapePattern
@pytest.mark.parametrize(
    ("pattern", "escaped"),
    [("http://www.example.com", "http://www.example.com"), ("/a/b/c", "/a/b/c"), ("á", "%C3%A1"), ("%aa", "%AA")],
)
def test_google_escape_pattern(pattern: str, escaped: str) -> None:
    assert canonical_octets(pattern) == escaped
