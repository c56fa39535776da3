"""A crawl's scope: which discovered links it may follow, judged against its seeds.

- ``same-host``: the exact host of any seed, any scheme and port (``www.example.com`` is not ``example.com``).
- ``same-origin``: the scheme, host and port of any seed (``http:`` and ``https:`` are two origins).
- ``same-site``: the registrable domain of any seed's host (eTLD+1 by the Public Suffix List, its private section
  included, as browsers define a site: ``alice.github.io`` and ``bob.github.io`` are two sites). Any scheme and port.
  An IP address is its own site; a host with no registrable domain (``github.io``, ``localhost``) is its own site.
- ``any``: every http(s) URL.

Hosts are compared as the URL standard serialises them (lower case, IDNA, IPv4 and IPv6 normalised), so a seed written
``https://Bücher.example/`` covers links to ``https://xn--bcher-kva.example/``. Only http(s) URLs are ever in scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import ada_url
from publicsuffixlist import PublicSuffixList

from linkcast.core.addresses import parse_address
from linkcast.core.policy import DEFAULT_PORTS
from linkcast.crawl.urls import host_and_origin_of_key


class ScopeKind(StrEnum):
    """The scopes a crawl can have, by their names in the API."""

    SAME_HOST = "same-host"
    SAME_ORIGIN = "same-origin"
    SAME_SITE = "same-site"
    ANY = "any"


SCOPE_KINDS: tuple[str, ...] = tuple(kind.value for kind in ScopeKind)


@cache
def _public_suffix_list() -> PublicSuffixList:
    """The list bundled with the package (no download), parsed once, on first use (about 30 ms)."""
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The site of a host as the URL standard serialises it: its eTLD+1 (``www.example.co.uk`` ->
    ``example.co.uk``), an IP address itself, and a host that has none (a public suffix, ``localhost``) itself.

    A trailing dot is dropped first: ``example.com.`` is the name ``example.com`` in the DNS, so the same site."""
    host = host.rstrip(".")
    if parse_address(host) is not None:
        return host
    domain: str | None = _public_suffix_list().privatesuffix(host)
    return domain if domain is not None else host


def _key(kind: ScopeKind, parsed: ada_url.URL) -> str:
    """What two URLs must share to be in the same scope of this kind."""
    if kind is ScopeKind.SAME_HOST:
        return parsed.hostname
    if kind is ScopeKind.SAME_ORIGIN:
        return parsed.origin  # scheme://host[:port], the default port omitted
    return registrable_domain(parsed.hostname)


@dataclass(frozen=True, slots=True)
class Scope:
    """The links a crawl may follow: those that share this kind's key with one of its seeds."""

    kind: ScopeKind
    keys: frozenset[str]

    @classmethod
    def for_seeds(cls, kind: str, seeds: Iterable[str]) -> Scope:
        """The scope of ``kind`` (a ``ScopeKind`` or its name) around ``seeds`` (absolute http(s) URLs).

        ``ValueError`` for an unknown kind or a seed that is not an http(s) URL: the spec has checked both."""
        scope_kind = ScopeKind(kind)
        keys: set[str] = set()
        for seed in seeds:
            parsed = _parse_http(seed)
            if parsed is None:
                raise ValueError(f"not an http(s) URL: {seed!r}")
            if scope_kind is not ScopeKind.ANY:
                keys.add(_key(scope_kind, parsed))
        return cls(scope_kind, frozenset(keys))

    def contains(self, url: str) -> bool:
        """Whether the crawl may follow ``url``; False for anything that is not an absolute http(s) URL."""
        parsed = _parse_http(url)
        if parsed is None:
            return False
        return self.kind is ScopeKind.ANY or _key(self.kind, parsed) in self.keys

    def contains_serialised(self, url: str) -> bool:
        """``contains`` for a URL already WHATWG-serialised (a crawl key), read from its text without parsing it:
        a crawl judges every link of every page, and the parse was most of that cost."""
        parts = host_and_origin_of_key(url)
        if parts is None:
            return False
        if self.kind is ScopeKind.ANY:
            return True
        hostname, origin = parts
        if self.kind is ScopeKind.SAME_HOST:
            return hostname in self.keys
        if self.kind is ScopeKind.SAME_ORIGIN:
            return origin in self.keys
        return registrable_domain(hostname) in self.keys


def _parse_http(url: str) -> ada_url.URL | None:
    """The parsed URL, or None if it does not parse or is not http(s)."""
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    return parsed if parsed.protocol in DEFAULT_PORTS else None
