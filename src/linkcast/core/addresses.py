"""Which IP addresses are public, pure: IANA's special-purpose registries for IPv4 and IPv6, the IPv6 forms that carry
an IPv4 address (judged by it, since that is where a dual-stack socket or a translator connects), and the one name of
a server however its host is spelled (``server_host``). ``policy`` decides with these what may be fetched.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in pairs)


# IANA's IPv4 special-purpose registry, less the few globally reachable entries inside 192.0.0.0/24 (refused
# anyway: nothing a page fetcher needs lives there).
REFUSED_V4 = _networks(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)

# IPv6: only global unicast (2000::/3) is ever routable; inside it, these are not. Outside it, the labels below say
# what a refused address is, and anything else is "reserved".
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
REFUSED_V6 = _networks(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "NAT64 local-use"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignment"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for, and the form that carries it, or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64_WELL_KNOWN:
        return low32, "NAT64"
    if address in IPV4_TRANSLATED:
        return low32, "IPv4-translated"
    if address in IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves, not 0.0.0.0 and 0.0.0.1
        return low32, "IPv4-compatible"
    return None


def refused_range(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (e.g. ``"loopback"``), or None if it is one."""
    if isinstance(address, ipaddress.IPv4Address):
        for network, label in REFUSED_V4:
            if address in network:
                return label
        return None
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner, form = embedded
        reason = refused_range(inner)
        return f"{reason} ({form})" if reason else None
    for network6, label in REFUSED_V6:
        if address in network6:
            return label
    if address not in GLOBAL_UNICAST_V6:
        return "reserved"
    return None


def parse_address(host: str) -> IPAddress | None:
    """The IP address a URL host names literally (``127.0.0.1``, ``[::1]``), or None for a domain name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def server_host(host: str) -> str:
    """The server a URL's (WHATWG-serialised) host names, for per-host politeness: without the trailing dot of a fully
    qualified name (``example.com.`` is ``example.com``), and an IPv6 literal that carries an IPv4 address
    (``[::ffff:7f00:1]``, NAT64, 6to4) as that IPv4 address, where a dual-stack socket or a translator connects. Each
    spelling of one server would otherwise get a concurrency and spacing of its own, and a client that spells it
    several ways would multiply the load politeness allows."""
    if host.startswith("["):
        address = parse_address(host)
        embedded = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        return str(embedded[0]) if embedded is not None else host
    return host.rstrip(".")


def carried_network(network: IPNetwork) -> IPNetwork:
    """An IPv6 network of forms that carry IPv4 addresses in their last 32 bits (``::ffff:169.254.0.0/112``, NAT64,
    IPv4-translated or -compatible) as the IPv4 network they carry (``169.254.0.0/16``), which ``contains`` that
    IPv4 address and every IPv6 form of it; any other network as it is. A listed IPv6 form held no IPv4 address.
    A whole form's /96 (``64:ff9b::/96``) stays as it is: it names the translation, not every IPv4 address."""
    if not isinstance(network, ipaddress.IPv6Network) or network.prefixlen <= 96:
        return network
    embedded = embedded_ipv4(network.network_address)
    if embedded is None or embedded[1] == "6to4":  # 6to4 carries it in bits 16-48: no /96 to map
        return network
    return ipaddress.IPv4Network((embedded[0], network.prefixlen - 96))


def contains(network: IPNetwork, address: IPAddress) -> bool:
    """Membership across families: an IPv4 network also holds the IPv6 forms that carry its addresses."""
    if isinstance(address, ipaddress.IPv6Address) and isinstance(network, ipaddress.IPv4Network):
        embedded = embedded_ipv4(address)
        return embedded is not None and embedded[0] in network
    return address in network
