"""A crawl's options as ``PUT /crawls/<crawl_id>`` takes them, validated, with one canonical JSON form.

The body names its seeds, ``{"url": "https://…"}`` or ``{"urls": [...]}`` (1 to ``MAX_SEEDS``), and may set:

=================  =============  ===========================================================================
option             default        meaning and bounds
=================  =============  ===========================================================================
``max_depth``      1              links followed from a seed, 0 to ``MAX_DEPTH`` (0: the seeds only)
``max_pages``      100            pages fetched in all, seeds included, 1 to the server's ``--max-crawl-pages``
``scope``          ``same-host``  ``same-host``, ``same-origin``, ``same-site`` or ``any`` (``crawl.scope``)
``include``        ``[]``         URL patterns (``crawl.patterns``); if any, a link must match one
``exclude``        ``[]``         URL patterns; a link that matches one is not followed
``respect_robots`` ``true``       obey robots.txt
``sitemaps``       ``false``      also crawl the URLs that the seeds' sitemaps list
=================  =============  ===========================================================================

At most ``MAX_PATTERNS`` patterns in all (the cost of judging a link grows with their number), each at most
``patterns.MAX_PATTERN_CHARS`` characters, and at most ``MAX_WILDCARDS`` ``*`` in all (and with each of them).
Seeds are checked as the API checks URLs (``core.inputs.validate_url``); addresses the policy refuses are the
service's to check.

Anything the API cannot honour exactly is an ``InvalidInput`` (400) with a stable code, never silently adjusted: an
unknown option (a typo like ``max_page`` would otherwise crawl with the default), a wrong type (``true`` is not a
number, ``5.0`` is not an integer, ``null`` is not a default), a value out of bounds. ``max_pages`` above the server's
cap is refused too (``max_pages_too_large``, saying the cap), not clamped: a clamped crawl would stop early while its
client believes it asked for more. An omitted ``max_pages`` is 100, or the cap if that is lower: a default is never
an error.

``to_json`` is the canonical form: every option present, the seeds as ``urls`` in crawl form (``urls.crawl_key``: no
fragment), duplicates dropped, in their order (the crawl starts with them in that order); the patterns without
duplicates, sorted (their order means nothing). Two PUTs of one crawl id are the same crawl exactly when their
canonical forms are equal: a repeat (200), else a conflict (409).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import orjson

from linkcast.core.errors import InvalidInput
from linkcast.core.inputs import MAX_URL_BYTES, validate_url
from linkcast.crawl.patterns import PatternFilter
from linkcast.crawl.scope import SCOPE_KINDS, ScopeKind
from linkcast.crawl.urls import crawl_key

MAX_SEEDS = 1000
MAX_DEPTH = 100
MAX_PATTERNS = 100
# Each '*' is one more substring search for every link judged: up to --max-links links a page against every pattern.
# Without a bound, 100 patterns of 500 '*' each made one page of links minutes of work.
MAX_WILDCARDS = 200
DEFAULT_MAX_DEPTH = 1
DEFAULT_MAX_PAGES = 100
DEFAULT_MAX_PAGES_CAP = 10_000  # the default of --max-crawl-pages
OPTIONS = ("max_depth", "max_pages", "scope", "include", "exclude", "respect_robots", "sitemaps")
FIELDS = ("url", "urls", *OPTIONS)


@dataclass(frozen=True, slots=True)
class CrawlSpec:
    """What one crawl does. Build it with ``from_json`` (validated); its fields are the canonical values."""

    seeds: tuple[str, ...]
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES
    scope: ScopeKind = ScopeKind.SAME_HOST
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    respect_robots: bool = True
    sitemaps: bool = False

    @classmethod
    def from_json(cls, payload: dict[str, Any], *, max_pages_cap: int) -> CrawlSpec:
        """The crawl a request body asks for, or ``InvalidInput`` saying what is wrong with it.

        ``max_pages_cap`` is the server's ``--max-crawl-pages`` (default ``DEFAULT_MAX_PAGES_CAP``), required so that
        no caller forgets it; ``ValueError`` below 1 (a server setting, not the client's fault)."""
        if max_pages_cap < 1:
            raise ValueError(f"max_pages_cap must be at least 1, not {max_pages_cap}")
        if not isinstance(payload, dict):
            raise InvalidInput('the body must be a JSON object: {"url": "https://..."}', code="invalid_body")
        _refuse_unknown(payload)
        include, exclude = _patterns(payload, "include"), _patterns(payload, "exclude")
        if len(include) + len(exclude) > MAX_PATTERNS:
            raise InvalidInput(
                f"'include' and 'exclude' have {len(include) + len(exclude)} patterns; at most {MAX_PATTERNS} in all",
                code="invalid_option",
            )
        parsed = PatternFilter.parse(include, exclude)  # an invalid pattern is an invalid_pattern error naming it
        wildcards = sum(len(pattern.pieces) - 1 for pattern in (*parsed.include, *parsed.exclude))
        if wildcards > MAX_WILDCARDS:
            raise InvalidInput(
                f"'include' and 'exclude' have {wildcards} wildcards ('*'); at most {MAX_WILDCARDS} in all",
                code="invalid_option",
            )
        return cls(
            seeds=_seeds(payload),
            max_depth=_integer(payload, "max_depth", DEFAULT_MAX_DEPTH, 0, MAX_DEPTH),
            max_pages=_max_pages(payload, max_pages_cap),
            scope=ScopeKind(_choice(payload, "scope", ScopeKind.SAME_HOST.value, SCOPE_KINDS)),
            include=tuple(sorted(set(include))),
            exclude=tuple(sorted(set(exclude))),
            respect_robots=_boolean(payload, "respect_robots", True),
            sitemaps=_boolean(payload, "sitemaps", False),
        )

    def to_json(self) -> dict[str, Any]:
        """The canonical form: every option, seeds as ``urls``; ``from_json`` of it gives this spec back."""
        return {
            "urls": list(self.seeds),
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "scope": self.scope.value,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "respect_robots": self.respect_robots,
            "sitemaps": self.sitemaps,
        }

    def patterns(self) -> PatternFilter:
        """The include and exclude patterns, parsed (valid: ``from_json`` checked them)."""
        return PatternFilter.parse(self.include, self.exclude)


def _shown(value: object) -> str:
    """A value as the client sent it (JSON), cut short for an error message."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _refuse_unknown(payload: dict[str, Any]) -> None:
    for name in payload:
        if name not in FIELDS:
            close = difflib.get_close_matches(str(name), FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidInput(
                f"unknown option {_shown(name)}{hint}; a crawl takes 'url' or 'urls' and {', '.join(OPTIONS)} "
                "(and 'webhook', which the API takes off the body before)",
                code="unknown_option",
            )


def _seed(value: object) -> str:
    """A seed in crawl form. Its length is checked again once normalised (percent-encoding can lengthen it), so
    that the canonical form is itself accepted."""
    key = crawl_key(validate_url(value))
    if len(key.encode()) > MAX_URL_BYTES:
        raise InvalidInput(f"'url' is longer than {MAX_URL_BYTES} bytes once normalised", code="url_too_long")
    return key


def _seeds(payload: dict[str, Any]) -> tuple[str, ...]:
    """The seeds in crawl form, first occurrence kept, in order."""
    if "url" in payload and "urls" in payload:
        raise InvalidInput("give 'url' (one seed) or 'urls' (a list), not both", code="invalid_urls")
    if "url" in payload:
        return (_seed(payload["url"]),)
    if "urls" not in payload:
        raise InvalidInput("the body has neither 'url' nor 'urls'", code="missing_url")
    urls = payload["urls"]
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_SEEDS:
        raise InvalidInput(f"'urls' must be a list of 1 to {MAX_SEEDS} URLs", code="invalid_urls")
    seeds: dict[str, None] = {}
    for index, url in enumerate(urls):
        try:
            seeds[_seed(url)] = None
        except InvalidInput as refused:
            raise InvalidInput(f"urls[{index}]: {refused.message}", code=refused.code) from None
    return tuple(seeds)


def _integer(payload: dict[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InvalidInput(f"'{name}' must be an integer {bounds}, not {_shown(value)}", code="invalid_option")
    return value


def _max_pages(payload: dict[str, Any], cap: int) -> int:
    value = _integer(payload, "max_pages", min(DEFAULT_MAX_PAGES, cap), 1, None)
    if value > cap:
        raise InvalidInput(
            f"'max_pages' is {value}, more than this server allows: at most {cap} pages per crawl",
            code="max_pages_too_large",
        )
    return value


def _boolean(payload: dict[str, Any], name: str, default: bool) -> bool:
    value = payload.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be true or false, not {_shown(value)}", code="invalid_option")
    return value


def _choice(payload: dict[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = payload.get(name, default)
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(f"'{name}' must be one of {', '.join(choices)}, not {_shown(value)}", code="invalid_option")
    return value


def _patterns(payload: dict[str, Any], name: str) -> list[str]:
    value = payload.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"'{name}' must be a list of patterns (strings), not {_shown(value)}", code="invalid_option")
    return value
