"""One typed settings object, read from ``LINKCAST_*`` environment variables and overridden by CLI flags.

Each field documents itself: its help text and default appear in ``linkcast serve --help``. Values are parsed and
checked once, when the object is made: list settings are tuples (given as comma-separated text in the environment
and on the command line), and the entries that must parse (host rules, networks, the store URL) are parsed then, so
that a bad value is a ``ConfigurationError`` naming the flag before anything starts. Only the CLI turns that error
into an exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import ipaddress
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from linkcast import __version__
from linkcast.core.errors import ConfigurationError
from linkcast.core.policy import AddressPolicy, HostRule

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
STORE_SCHEMES = ("memory:", "sqlite:", "redis:", "rediss:", "unix:")
# What --log-level takes, as logging and uvicorn both name them (critical too, though the help says the four).
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# What an Origin header can be (RFC 6454 6.1): a scheme, "://", a host and maybe a port; a trailing "/" is forgiven.
_ORIGIN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#\s@]+/?").fullmatch
# The highest TCP port.
MAX_PORT = 65535
# Bounds that 0 would not switch off but make refuse everything (every fetch, parse, webhook attempt or client head
# timed out, every body too large, every WebSocket client too slow, every job handed out again at once, every crawl
# too large), while the service looked healthy: above 0. The settings whose 0 means "none" or "no bound" say so.
AT_LEAST_ONE = frozenset(
    {
        "fetch_timeout", "read_timeout", "max_body_bytes", "max_header_bytes", "parse_timeout", "max_crawl_pages",
        "websub_verify_timeout", "webhook_timeout", "client_queue_size", "client_queue_bytes", "max_request_bytes",
        "replay_memory_bytes", "answer_memory_bytes", "webhook_memory_bytes", "max_request_header_bytes",
        "header_timeout", "job_visibility_timeout", "send_stall_timeout", "websub_lease",
    }
)  # fmt: skip


def setting(default: Any, help: str, *, flag: bool = True) -> Any:
    """A settings field with its help text; ``flag=False`` keeps it out of the CLI (environment only)."""
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class Settings:
    host: str = setting("localhost", "address to bind")
    port: int = setting(8080, "port to bind")
    metrics_port: int = setting(
        0, "linkcast worker: port on which to serve /metrics and /healthz (0: none; serve uses --port)"
    )
    store: str = setting(
        "sqlite:///./linkcast.db",
        "where jobs and events are kept: sqlite:///PATH (relative; sqlite:////PATH for an absolute path), memory:// "
        "or redis://HOST:PORT/DB",
    )
    workers: int = setting(8, "concurrent fetches run by this process (0: API only, for a scaled-out deployment)")
    allow_private_networks: bool = setting(
        False, "allow fetching loopback, private and link-local addresses (trusted networks and tests only)"
    )
    allow_hosts: tuple[str, ...] = setting(
        (), "always allowed, even if private: comma-separated host, *.domain, host:port or CIDR entries"
    )
    deny_hosts: tuple[str, ...] = setting(
        (), "always refused (wins over allowed): comma-separated host, *.domain, host:port or CIDR entries"
    )
    token: str = setting("", "bearer token required on every HTTP call and WebSocket (empty: no auth)")
    allowed_origins: tuple[str, ...] = setting(
        (), "comma-separated Origins allowed to open the WebSocket and submit (empty: same host only; '*': any)"
    )
    server_names: tuple[str, ...] = setting(
        (),
        "names this server answers to in the Host header besides IP addresses and localhost: comma-separated host, "
        "*.domain or host:port entries, '*' for any (empty: any when --token is set, else none), so that a page "
        "that points its own name at this server (DNS rebinding) is refused",
    )
    fetch_timeout: float = setting(
        30.0,
        "total seconds allowed for one fetch, redirects included (not a crawl's wait for a host's Crawl-delay turn "
        "before a hop)",
    )
    read_timeout: float = setting(10.0, "seconds a fetch may wait for the next bytes of a response")
    max_body_bytes: int = setting(10 * 1024 * 1024, "largest response body read, after decompression")
    max_redirects: int = setting(10, "redirects followed before a fetch fails with 'too_many_redirects'")
    max_header_bytes: int = setting(32 * 1024, "largest response header line accepted (with at most 128 lines)")
    max_links: int = setting(100_000, "links kept per page; past it the result says links_truncated: true")
    max_result_bytes: int = setting(
        8 * 1024 * 1024,
        "largest list of links kept per page, in bytes of JSON: links are kept in document order up to it, and the "
        "result says links_truncated: true",
    )
    parse_timeout: float = setting(
        10.0, "seconds allowed to read one large page or feed (pathological markup); past it: 'too_complex'"
    )
    parse_processes: int = setting(0, "child processes reading large pages and feeds (0: one per CPU)")
    parse_memory_bytes: int = setting(
        512 * 1024 * 1024,
        "heap each of those children may have (a real page of 10 MB takes some 170 MB; 10 MB of empty elements "
        "would take 660 MB); past it the page or feed is 'too_complex' (0: no cap)",
    )
    per_host_concurrency: int = setting(4, "concurrent fetches to one host")
    per_host_delay: float = setting(0.0, "seconds between two fetches to one host")
    max_crawl_pages: int = setting(10_000, "the largest max_pages a crawl may ask for (more is refused with a 400)")
    max_crawl_delay: float = setting(
        10.0, "longest robots.txt Crawl-delay honoured, in seconds (a longer one is taken as this)"
    )
    feed_min_interval: float = setting(900.0, "shortest time between two polls of one feed, in seconds")
    feed_max_interval: float = setting(86400.0, "longest time between two polls of one feed, in seconds")
    feed_default_interval: float = setting(
        3600.0, "time between two polls of a feed that says nothing of how often it changes, in seconds"
    )
    public_url: str = setting(
        "",
        "the URL at which WebSub hubs reach this server (https://feeds.example.org, a path allowed): feeds that name "
        "a hub are subscribed to, and their hub's pushes arrive at <public-url>/websub/...; empty: feeds are polled",
    )
    websub_lease: int = setting(
        10 * 86400, "lease asked of WebSub hubs, in seconds (a hub grants what it will; it is renewed before it ends)"
    )
    websub_verify_timeout: float = setting(
        600.0, "seconds a hub has to verify a subscription it accepted before the request counts as failed"
    )
    websub_memory_bytes: int = setting(
        256 * 1024 * 1024,
        "bytes of WebSub deliveries larger than --max-request-bytes this process reads at once, each counted at the "
        "size it announces (--max-body-bytes if none), whatever the number of hubs pushing; a delivery that finds "
        "them taken is a 503 (the hub delivers it again later)",
    )
    webhook_timeout: float = setting(
        10.0, "seconds a webhook endpoint has to answer a delivery with a 2xx; past it the attempt failed"
    )
    webhook_retry_hours: float = setting(
        24.0,
        "hours a webhook delivery is retried (exponential back-off with jitter); an endpoint failing for all of it "
        "is disabled",
    )
    webhook_retry_base: float = setting(
        5.0, "seconds before a failed webhook delivery's first retry; each next waits twice as long, up to an hour"
    )
    webhook_concurrency: int = setting(
        64, "webhook deliveries in flight at once in this process (each endpoint has one at a time, in order)"
    )
    webhook_memory_bytes: int = setting(
        256 * 1024 * 1024,
        "bytes of large webhook payloads (over 1 MiB: a result's links) this process holds for sending at once, "
        "whatever the number of endpoints; a delivery waits for its share",
    )
    max_webhooks: int = setting(
        100,
        "webhook endpoints made with PUT /webhooks kept at once; past it a new one is refused (409): each takes the "
        "events of every request it asks for, so one submission can become this many POSTs. A request's own webhook "
        "is not counted (0: no bound)",
    )
    max_feeds: int = setting(
        100_000,
        "feeds kept at once; past it a new one is refused (409), by PUT /feeds and by each outline of an OPML import: "
        "a feed is polled for as long as it is kept, unlike a request or a crawl, which end and are pruned "
        "(0: no bound)",
    )
    max_entries_per_poll: int = setting(1000, "entries read from one poll of a feed; past it the rest wait")
    retries: int = setting(2, "retries for connection failures, 429 and 503, with exponential back-off")
    client_queue_size: int = setting(1024, "events buffered per WebSocket client before it is dropped as too slow")
    client_queue_bytes: int = setting(
        64 * 1024 * 1024,
        "bytes of events (their JSON) buffered per WebSocket client before it is dropped as too slow; one event is "
        "always taken, however large (a result may hold --max-result-bytes of links)",
    )
    replay_memory_bytes: int = setting(
        256 * 1024 * 1024,
        "bytes of WebSocket replays (?since=) this process holds at once, whatever the number of clients replaying; "
        "a replay that waits 30 s for its share is closed with 1013 (try again later)",
    )
    answer_memory_bytes: int = setting(
        256 * 1024 * 1024,
        "bytes of large HTTP answers (over 1 MiB: a result's links, a page of a listing) this process sends at once, "
        "whatever the number of clients asking; an answer that finds them taken is a 503 busy (retry shortly)",
    )
    websocket_compression: bool = setting(
        False,
        "deflate WebSocket frames for clients that offer it: less bandwidth on slow links, but each frame is "
        "compressed once per client, which halves fan-out capacity",
    )
    retain_days: float = setting(
        7.0,
        "events, finished requests, ended crawls, feed entries and ended webhook deliveries older than this are pruned",
    )
    retain_events: int = setting(1_000_000, "events beyond this count are pruned, oldest first")
    max_request_bytes: int = setting(
        1024 * 1024, "largest PUT/POST body accepted (a batch of 1,000 URLs of about 1 KB fits the default)"
    )
    rate_limit: float = setting(
        100.0, "submissions (URLs) per second allowed per client address (IPv6: one /64), on average (0: unlimited)"
    )
    rate_burst: int = setting(1000, "submissions (URLs) a client may make at once before the rate limit applies")
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "reverse proxies (comma-separated addresses or networks; '*': any) whose X-Forwarded-For names the client, "
        "so that the rate limit counts each client rather than the proxy (empty: the connection's own address)",
    )
    max_request_header_bytes: int = setting(
        64 * 1024,
        "largest request line plus header block accepted from a client (WebSocket handshakes included); past it: 431",
    )
    header_timeout: float = setting(
        10.0,
        "seconds a client has to send a request's whole header block, from the connection opening or from the end "
        "of the previous response; past it the connection is closed (408 if part of a request came)",
    )
    send_stall_timeout: float = setting(
        60.0,
        "seconds a client (an HTTP answer, a WebSocket) may take none of what it was sent (the socket's buffer full) "
        "before its connection is reset",
    )
    max_connections_per_client: int = setting(
        256,
        "open connections allowed from one client address (IPv6: one /64); --trusted-proxies are not capped "
        "(0: no cap)",
    )
    max_connections: int = setting(
        0, "open connections allowed in all (0: the open-file limit, raised to its maximum, less a reserve)"
    )
    http_parser: str = setting("auto", "HTTP/1.1 parser: auto (httptools if installed), httptools or h11", flag=False)
    redis_prefix: str = setting("linkcast", "key prefix in Redis, so that several deployments can share one")
    job_visibility_timeout: float = setting(
        60.0, "seconds before a job held by a silent worker is handed to another (its lease, on every store)"
    )
    user_agent: str = setting(
        f"linkcast/{__version__}",
        "User-Agent sent with every fetch; its product token (the part before the first '/') names linkcast's "
        "group in robots.txt",
    )
    robots_cache_ttl: float = setting(
        86400.0,
        "seconds a site's robots.txt (or the allow-all that a 4xx answer means) is used before it is fetched again "
        "(RFC 9309 2.4: at most 24 h)",
    )
    robots_unreachable_ttl: float = setting(
        300.0,
        "seconds a site whose robots.txt could not be had (5xx, 429, timeout, refused connection, DNS failure) "
        "counts as disallowing everything before robots.txt is tried again (a longer Retry-After is honoured, up to "
        "--robots-cache-ttl)",
    )
    max_sitemaps: int = setting(
        100, "sitemap files fetched for one site, indexes included, following robots.txt's Sitemap lines"
    )
    max_sitemap_urls: int = setting(
        50_000, "page URLs taken from one site's sitemaps in all (one sitemap holds at most 50,000)"
    )
    log_level: str = setting("info", "log level: debug, info, warning, error")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if isinstance(f.default, tuple) and isinstance(getattr(self, f.name), str):  # "a, b" -> ("a", "b")
                object.__setattr__(self, f.name, _csv(getattr(self, f.name)))
        for f in dataclasses.fields(self):
            _check_number(f.name, getattr(self, f.name))
        if self.feed_min_interval > self.feed_max_interval:
            raise ConfigurationError(
                f"--feed-min-interval {self.feed_min_interval:g} is longer than --feed-max-interval "
                f"{self.feed_max_interval:g}: the shortest time between two polls of a feed cannot pass the longest",
                code="invalid_setting",
            )
        if not self.host.strip():
            # uvicorn took "" as every interface (LINKCAST_HOST= left empty exposed a server meant for localhost).
            raise ConfigurationError(
                "--host '': give the address to bind, such as localhost (0.0.0.0 or :: for every interface)",
                code="invalid_setting",
            )
        if self.log_level.strip().lower() not in LOG_LEVELS:
            # Else logging.basicConfig failed on it once the store was open: "internal: ValueError: Unknown level".
            raise ConfigurationError(
                f"--log-level {self.log_level!r}: use debug, info, warning or error", code="invalid_setting"
            )
        object.__setattr__(self, "log_level", self.log_level.strip().lower())
        if not self.store.startswith(STORE_SCHEMES):
            raise ConfigurationError(
                f"--store {self.store!r}: use sqlite:///PATH, memory:// or redis://HOST:PORT/DB", code="invalid_store"
            )
        if self.public_url:
            object.__setattr__(self, "public_url", _public_url(self.public_url))
        for origin in self.allowed_origins:  # an entry no browser's Origin can be would allow nothing
            if origin not in ("*", "null") and not _ORIGIN(origin):
                raise ConfigurationError(
                    f"--allowed-origins {origin!r}: an Origin is scheme://host[:port], such as https://app.example, "
                    "with no path (or '*' for any)",
                    code="invalid_setting",
                )
        # Parsed now, so that a bad entry stops the process before it starts (and each is parsed once).
        _ = self.address_policy, self.server_name_rules, self.trusted_proxy_networks

    @functools.cached_property
    def address_policy(self) -> AddressPolicy:
        """What may be fetched: ``--allow-private-networks``, ``--allow-hosts`` and ``--deny-hosts``."""
        try:
            return AddressPolicy.from_lists(self.allow_private_networks, self.allow_hosts, self.deny_hosts)
        except ValueError as error:
            raise ConfigurationError(f"--allow-hosts/--deny-hosts: {error}") from None

    @functools.cached_property
    def server_name_rules(self) -> tuple[HostRule, ...] | None:
        """The names of ``--server-names`` (None: any name)."""
        if "*" in self.server_names or (not self.server_names and self.token):
            return None
        public = urlsplit(self.public_url).netloc.rpartition("@")[2] if self.public_url else None
        try:
            # Hubs call back at --public-url: its name is this server's too.
            return tuple(HostRule.parse(name) for name in (*self.server_names, *((public,) if public else ())))
        except ValueError as error:
            raise ConfigurationError(f"--server-names: {error}") from None

    @functools.cached_property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...] | None:
        """The networks of ``--trusted-proxies`` (None: any address, for ``*``)."""
        if "*" in self.trusted_proxies:
            return None
        try:
            # A network with host bits set (10.1.2.3/8) is taken as the network it is in, as most tools do.
            return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)
        except ValueError as error:
            raise ConfigurationError(f"--trusted-proxies: {error}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``LINKCAST_<NAME>`` variables, then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"LINKCAST_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _check_number(name: str, value: Any) -> None:
    """Every number a setting holds is a count, a size, a time or a port: finite and not negative (a port at most
    65535). A negative or NaN one would not stop the process, only make it behave in ways nobody asked for."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    # Named both ways it may have been given: a bad LINKCAST_WORKERS reported as --workers alone sent users looking
    # for a flag they never passed.
    given = f"--{name.replace('_', '-')} {value!r} (LINKCAST_{name.upper()})"
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{given}: give a number of 0 or more", code="invalid_setting")
    if value == 0 and name in AT_LEAST_ONE:
        raise ConfigurationError(f"{given}: give a number above 0", code="invalid_setting")
    if name.endswith("port") and value > MAX_PORT:
        raise ConfigurationError(f"{given}: a port is 0 to {MAX_PORT}", code="invalid_setting")


def _public_url(value: str) -> str:
    """``--public-url`` checked: an absolute http(s) URL with no query or fragment, kept without its last slash."""
    parsed = urlsplit(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise ConfigurationError(
            f"--public-url {value!r}: give the http(s) URL at which hubs reach this server, such as "
            "https://feeds.example.org",
            code="invalid_public_url",
        )
    return value.strip().rstrip("/")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def _convert(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = type(f.default)
    if kind is bool:
        word = raw.strip().lower()
        # Anything else was once read as false: LINKCAST_ALLOW_PRIVATE_NETWORKS=y silently refused loopback.
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigurationError(
                f"LINKCAST_{f.name.upper()}={raw!r} is not a boolean: use 1, true, yes, on or 0, false, no, off"
            )
        return word in TRUE_WORDS
    if kind is tuple:
        return _csv(raw)
    try:
        return kind(raw)
    except ValueError:
        raise ConfigurationError(f"LINKCAST_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from None


def add_settings_arguments(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    """Add a ``--flag`` for every setting (or those named in ``only``), its help showing the env var and default."""
    for f in dataclasses.fields(Settings):
        if (only is not None and f.name not in only) or not f.metadata["flag"]:
            continue
        option = "--" + f.name.replace("_", "-")
        env = f"LINKCAST_{f.name.upper()}"
        default = (",".join(f.default) or "none") if isinstance(f.default, tuple) else repr(f.default)
        help_text = f"{f.metadata['help']} [env {env}; default: {default}]"
        if isinstance(f.default, bool):
            parser.add_argument(
                option, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif isinstance(f.default, tuple):
            parser.add_argument(option, dest=f.name, type=_csv, default=None, help=help_text)
        else:
            parser.add_argument(option, dest=f.name, type=type(f.default), default=None, help=help_text)


def settings_from_args(args: argparse.Namespace) -> Settings:
    names = {f.name for f in dataclasses.fields(Settings)}
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in names})
