"""Which hosts and addresses may be fetched: the SSRF guard, as pure decisions on names and IP addresses.

The fetcher asks twice: once per URL (``check_url``: the scheme, names on the deny or allow lists, and IP literals,
which need no resolution), and once per resolved address (``check_addresses``), right before it connects to exactly
those addresses, so there is no window between the check and the connection (DNS rebinding).

By default every address that is not globally routable unicast is refused (``addresses.refused_range``): loopback,
private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, documentation, benchmarking,
reserved and unspecified ranges, for IPv4 and IPv6. IPv6 forms that carry an IPv4 address (IPv4-mapped,
IPv4-compatible, IPv4-translated, NAT64 and 6to4) are judged by the IPv4 address they carry, since that is where a
dual-stack socket or a translator would really connect. Numeric spellings of IPv4 (``2130706433``, ``0x7f.1``,
``0``) are handled by parsing URLs with the WHATWG URL parser (ada), which normalises them to dotted form, exactly
as a browser would. ``localhost`` and the names under it are loopback by definition (RFC 6761 6.3), so they are
judged as loopback without resolving: refused at submission like ``127.0.0.1``, not only once a resolver has said
so.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import ada_url

from linkcast.core.addresses import IPAddress, IPNetwork, carried_network, contains, parse_address, refused_range
from linkcast.core.errors import Blocked

DEFAULT_PORTS = {"http:": 80, "https:": 443}
# The parts of a URL that say which server it is fetched from, read from ada in one call.
URL_SERVER = ("protocol", "hostname", "port")
# RFC 6761 6.3: what a localhost name resolves to, whatever a resolver would answer.
LOCALHOST_ADDRESSES: tuple[IPAddress, ...] = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
# check_url's memory: the last REMEMBERED_URLS URLs of at most REMEMBERED_URL_CHARS characters (8 MiB at most).
REMEMBERED_URLS = 4096
REMEMBERED_URL_CHARS = 2048
ALLOW_PRIVATE_HINT = ", refused unless linkcast runs with --allow-private-networks (LINKCAST_ALLOW_PRIVATE_NETWORKS=1)"


def normalise_host(host: str) -> str:
    """Lower-case, without the brackets of an IPv6 literal or the trailing dot of a fully qualified name."""
    return _host_and_address(host)[0]


def is_localhost_name(name: str) -> bool:
    """Whether a normalised host name is ``localhost`` or a name under it (RFC 6761 6.3: always loopback)."""
    return name == "localhost" or name.endswith(".localhost")


def _host_and_address(host: str) -> tuple[str, IPAddress | None]:
    """The host normalised, and the IP address it names literally (None for a domain name), parsed once."""
    host = host.strip().lower().rstrip(".")
    address = parse_address(host)
    return (str(address), address) if address is not None else (host, None)


# What the host of a list entry may not hold: the parts of a URL around a host (path, query, userinfo) and '*' but as
# a leading '*.'. Parsed as a URL they were cut off without a word, and the entry became another rule: a deny entry
# "10.0.0.0/8:6379" refused 10.0.0.0 alone, "*:25" a host named '*'.
_NOT_IN_HOST = re.compile(r"[/?#@\\\s*\[\]]")


def _url_host(text: str, entry: str) -> str:
    """A list entry's host as it appears in parsed URLs: IDNA (punycode), IPv4 dotted, IPv6 compressed."""
    try:
        host: str = ada_url.URL(f"http://[{text}]/" if ":" in text else f"http://{text}/").hostname
    except ValueError:
        raise ValueError(f"not a host, host:port or CIDR: {entry!r}") from None
    return normalise_host(host)


@dataclass(frozen=True, slots=True)
class HostRule:
    """A host name on an allow or deny list: ``example.com``, ``*.example.com`` (subdomains) or ``host:port``."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        text = entry.strip().lower()
        port_text: str | None = None
        if text.startswith("["):  # [v6] or [v6]:port
            text, _, rest = text[1:].partition("]")
            if rest:
                port_text = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            text, port_text = text.split(":")
        wildcard = text.startswith("*.")
        bare = text[2:] if wildcard else text
        port = int(port_text) if port_text is not None and port_text.isascii() and port_text.isdigit() else None
        if not bare or _NOT_IN_HOST.search(bare) or (port_text is not None and not (port and 0 < port < 65536)):
            raise ValueError(f"not a host, host:port or CIDR: {entry!r}")
        return cls(("*." if wildcard else "") + _url_host(bare, entry), port)

    def address_port(self) -> AddressPortRule | None:
        """This rule as an ``AddressPortRule`` if it names an IP address and a port, else None."""
        address = parse_address(self.host) if self.port is not None else None
        if address is None or self.port is None:
            return None
        return AddressPortRule(carried_network(ipaddress.ip_network(address)), self.port)

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


@dataclass(frozen=True, slots=True)
class AddressPortRule:
    """A denied IP address on one port (``--deny-hosts 10.0.0.5:6379``): matched on the address connected to, so
    that neither another spelling (``[::ffff:10.0.0.5]``) nor a name that resolves to it reaches that port. A host
    rule matches names as written, and an address is no name: matched so, it was refused only when spelled as
    written."""

    network: IPNetwork
    port: int

    def matches(self, address: IPAddress, port: int) -> bool:
        return port == self.port and contains(self.network, address)


@dataclass(frozen=True)
class AddressPolicy:
    """What may be fetched. Deny entries win over allow entries; allow entries win over the default refusal.

    ``allow_private``: trust every address (trusted networks, tests). ``allow``/``deny``: host rules (by the URL's
    host name, optionally its port) and networks (by the resolved address); a denied ``address:port`` is matched by
    the resolved address and port (``AddressPortRule``).
    """

    allow_private: bool = False
    allow_hosts: tuple[HostRule, ...] = ()
    allow_networks: tuple[IPNetwork, ...] = ()
    deny_hosts: tuple[HostRule, ...] = ()
    deny_networks: tuple[IPNetwork, ...] = field(default=())
    deny_ports: tuple[AddressPortRule, ...] = ()

    @classmethod
    def from_lists(cls, allow_private: bool, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> AddressPolicy:
        """Build from ``host``, ``*.domain``, ``host:port`` and CIDR entries; ``ValueError`` names a bad entry."""
        allow_hosts, allow_networks = _split_entries(allow)
        deny_rules, deny_networks = _split_entries(deny)
        deny_hosts = tuple(rule for rule in deny_rules if rule.address_port() is None)
        deny_ports = tuple(found for rule in deny_rules if (found := rule.address_port()) is not None)
        return cls(allow_private, allow_hosts, allow_networks, deny_hosts, deny_networks, deny_ports)

    @property
    def denies_addresses(self) -> bool:
        """Whether some address is refused whatever ``allow_private`` says (a denied network or address:port)."""
        return bool(self.deny_networks or self.deny_ports)

    def __post_init__(self) -> None:
        # Every fetch hop checks its URL, and a watched feed's URL comes back at every poll: the answer is a function
        # of the URL alone under this (immutable) policy, so the last few thousand are kept. Refusals are not. Nor are
        # long URLs, which whoever submits or redirects chooses (a Location may be 32 KiB): kept, 4,096 of them held
        # 126 MiB for good; a URL worth remembering (a feed's) is short.
        remembered = functools.lru_cache(maxsize=REMEMBERED_URLS)(self._check_url)

        def check_url(url: str) -> tuple[str, int]:
            return remembered(url) if len(url) <= REMEMBERED_URL_CHARS else self._check_url(url)

        object.__setattr__(self, "check_url", check_url)

    def check_url(self, url: str) -> tuple[str, int]:
        """Refuse (``Blocked``) what can be judged before resolving: the scheme, listed names, IP literals.

        Returns the URL's host and port (the default port of its scheme when it names none)."""
        return self._check_url(url)  # replaced by its cached self in __post_init__

    def _check_url(self, url: str) -> tuple[str, int]:
        try:
            parsed = ada_url.parse_url(url, attributes=URL_SERVER)
        except ValueError:
            raise Blocked(f"not a valid URL: {url!r}", code="invalid_url") from None
        protocol, host = parsed["protocol"], parsed["hostname"]
        if protocol not in DEFAULT_PORTS:
            raise Blocked(f"only http and https may be fetched, not {protocol}")
        port = int(parsed["port"] or DEFAULT_PORTS[protocol])
        self.check_host(host, port)
        return host, port

    def check_host(self, host: str, port: int) -> None:
        """Refuse a host denied by name, or an IP literal or localhost name that ``check_addresses`` would refuse."""
        name, address = _host_and_address(host)
        for rule in self.deny_hosts:
            if rule.matches(name, port):
                raise Blocked(f"{name} is on the deny list")
        if address is not None:
            self._check_addresses(name, port, [address])
        elif is_localhost_name(name):
            self._check_localhost(name, port)

    def _check_localhost(self, name: str, port: int) -> None:
        """Refuse a localhost name if every loopback address is refused; if one is allowed (``--allow-hosts ::1``),
        the addresses it really resolves to are checked when it is fetched, as for any name."""
        refusals: list[Blocked] = []
        for address in LOCALHOST_ADDRESSES:
            try:
                self._check_addresses(name, port, [address])
            except Blocked as refused:
                refusals.append(refused)
        if len(refusals) == len(LOCALHOST_ADDRESSES):
            raise refusals[0]

    def check_addresses(self, host: str, port: int, addresses: Iterable[IPAddress]) -> None:
        """Refuse the host if any of its addresses is refused: it could be connected to any of them."""
        self._check_addresses(normalise_host(host), port, addresses)

    def _check_addresses(self, name: str, port: int, addresses: Iterable[IPAddress]) -> None:
        """``check_addresses`` for a host name already normalised."""
        allowed_by_name = any(rule.matches(name, port) for rule in self.allow_hosts)
        for address in addresses:
            port_denied = self._denied_port(address, port)
            reason = port_denied or self.refusal(address, allowed_by_name)
            if reason is None:
                continue
            # A denied network or port is the operator's choice; a refused range is only the default, so say what
            # lifts it: whoever tries a local site first meets this message.
            denied = port_denied is not None or self._denied_network(address) is not None
            lift = "" if denied else ALLOW_PRIVATE_HINT
            if name == str(address):
                raise Blocked(f"{name} is {reason}{lift}")
            # A name's address is not told, nor the deny rule that holds it: the message reaches the client (and
            # webhooks), and either would let anyone map the internal names this server resolves to their
            # addresses, a request each.
            raise Blocked(f"{name} resolves to {'an address on the deny list' if denied else reason}{lift}")

    def refusal(self, address: IPAddress, allowed_by_name: bool = False) -> str | None:
        """Why this address may not be connected to, or None."""
        denied = self._denied_network(address)
        if denied is not None:
            return f"in the denied network {denied}"
        if allowed_by_name or self.allow_private:
            return None
        if any(contains(network, address) for network in self.allow_networks):
            return None
        reason = refused_range(address)
        if reason is None:
            return None
        return f"{'an' if reason.startswith(('IETF', 'unspecified')) else 'a'} {reason} address"

    def _denied_port(self, address: IPAddress, port: int) -> str | None:
        rule = next((rule for rule in self.deny_ports if rule.matches(address, port)), None)
        return None if rule is None else f"on the deny list on port {port} ({rule.network.network_address}:{port})"

    def _denied_network(self, address: IPAddress) -> IPNetwork | None:
        return next((network for network in self.deny_networks if contains(network, address)), None)


def _split_entries(entries: Iterable[str]) -> tuple[tuple[HostRule, ...], tuple[IPNetwork, ...]]:
    hosts: list[HostRule] = []
    networks: list[IPNetwork] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(carried_network(ipaddress.ip_network(text.strip("[]"), strict=False)))
            continue
        except ValueError:
            rule = HostRule.parse(text)
        # An address spelled otherwise than dotted (169.254.169.254., 2852039166, octal) is the address still: as a
        # host rule it was matched as a name, so a deny entry refused that spelling alone and let the address be
        # reached as [::ffff:a9fe:a9fe] or through any name resolving to it.
        address = parse_address(rule.host) if rule.port is None else None
        if address is not None:
            networks.append(carried_network(ipaddress.ip_network(address)))
        else:
            hosts.append(rule)
    return tuple(hosts), tuple(networks)
