"""URL identity in a crawl: which URLs are one page (fetched once), and which server a URL is fetched from.

"URLs are compared after WHATWG parsing with the fragment dropped": the fragment never reaches the server, so ``/a#x``
and ``/a`` are one page. Nothing is normalised beyond what the URL standard does (scheme and host lower-cased, IDNA,
IPv4 spellings, default ports dropped, dot segments resolved, the characters it percent-encodes): a server may answer
``/a%2Fb`` and ``/a/b``, or ``/%7E`` and ``/~``, differently, so they are different pages here, as in a browser.
"""

from __future__ import annotations

import ada_url

from linkcast.core.inputs import host_key
from linkcast.core.policy import DEFAULT_PORTS

__all__ = ["crawl_key", "crawl_key_of_href", "host_and_origin_of_key", "host_key", "path_and_query", "site_of_key"]


def crawl_key(url: str) -> str:
    """``url`` as a crawl identifies it: WHATWG-serialised, without its fragment (an empty ``#`` included).

    ``ValueError`` if ``url`` is not an absolute URL."""
    parsed = ada_url.URL(url)
    parsed.hash = ""  # the standard's "set fragment to null": no '#' is left, even from an empty fragment
    key: str = parsed.href
    return key


def crawl_key_of_href(href: str) -> str:
    """``crawl_key`` of a URL already WHATWG-serialised (a link as ``extract_links`` gives it), without parsing it.

    In a serialised URL the first ``#`` starts the fragment: the path, query and user info percent-encode ``#``, and
    no host holds one. A crawl judges every link of every page, so the parse this saves is most of a link's cost."""
    return href.partition("#")[0]


def path_and_query(key: str) -> str:
    """The path and query of a crawl key (``/a/b?x=1``), cut from the serialised text without parsing it again.

    In the serialisation of an http(s) URL the first ``/`` after ``scheme://`` starts the path: no host contains one,
    and the user info percent-encodes it. The fragment is already gone from a crawl key."""
    start = key.find("/", key.find("://") + 3)
    return key[start:] if start >= 0 else "/"


def host_and_origin_of_key(key: str) -> tuple[str, str] | None:
    """The hostname and origin of a WHATWG-serialised http(s) URL, cut from its text; None for another scheme.

    Serialised, an http(s) URL is ``scheme://[userinfo@]host[:port]/path...``: the user info percent-encodes ``@``
    and ``/``, an IPv6 host is bracketed, and a default port is already gone."""
    scheme, separator, rest = key.partition("://")
    if not separator or scheme + ":" not in DEFAULT_PORTS:
        return None
    host_and_port = rest.partition("/")[0].rpartition("@")[2]
    if host_and_port.startswith("["):
        hostname = host_and_port[: host_and_port.find("]") + 1]
    else:
        hostname = host_and_port.partition(":")[0]
    return hostname, f"{scheme}://{host_and_port}"


def site_of_key(key: str) -> str:
    """``https://h:8443/a?b`` -> ``https://h:8443``: the site (origin) a robots.txt speaks for, of a crawl key or any
    serialised http(s) URL, cut from its text (the URL parsed only if it is not http(s))."""
    parts = host_and_origin_of_key(key)
    return parts[1] if parts is not None else str(ada_url.URL(key).origin)
