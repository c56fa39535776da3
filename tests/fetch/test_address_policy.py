"""The address policy (core/policy.py): every non-public range refused, for every spelling of an address."""

from __future__ import annotations

import gc
import ipaddress
import tracemalloc

import ada_url
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.core.addresses import refused_range
from linkcast.core.errors import Blocked
from linkcast.core.policy import AddressPolicy, HostRule

DEFAULT = AddressPolicy()

ipv4s = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6s = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def carriers(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """Every IPv6 form that carries ``v4``."""
    n = int(v4)
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | n),  # ::ffff:a.b.c.d (mapped)
        ipaddress.IPv6Address((0xFFFF << 48) | n),  # ::ffff:0:a.b.c.d (translated)
        ipaddress.IPv6Address((0x64FF9B << 96) | n),  # 64:ff9b::a.b.c.d (NAT64)
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1),  # 2002:a.b.c.d::1 (6to4)
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://017700000001/", "loopback"),
        ("http://127.1:8080/", "loopback"),
        ("http://0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::127.0.0.1]/", "loopback"),
        ("http://[64:ff9b::10.0.0.1]/", "private"),
        ("http://[2002:a9fe:a9fe::1]/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fd00:ec2::254]/", "unique local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.1.2.3/", "private"),
        ("http://172.31.255.255/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "reserved"),
        ("http://198.18.0.1/", "benchmarking"),
        ("https://[2001:db8::1]/", "documentation"),
        ("http://[64:ff9b:1::7f00:1]/", "NAT64 local-use"),
        ("http://[2002:7f00:1::]/", "loopback"),
        ("http://[2001::7f00:1]/", "IETF protocol assignment"),  # Teredo
        ("http://[::ffff:0:7f00:1]/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11/", "loopback"),  # full-width, ideographic dots
        ("http://\U0001d7cf\U0001d7d0\U0001d7d5.0.0.1/", "loopback"),  # IDNA maps mathematical digits to digits
        ("http://%31%32%37.0.0.1/", "loopback"),
        ("http://evil.example@127.0.0.1/", "loopback"),
        ("http://127.0.0.1\\@evil.example/", "loopback"),  # a backslash ends the authority of an http URL
        ("http://127.0.0.1./", "loopback"),
        ("http://100.127.255.255/", "carrier-grade NAT"),
        ("http://[fc00::1]/", "unique local"),
    ],
)
def test_refused_literals_are_blocked_in_every_spelling(url: str, reason: str) -> None:
    with pytest.raises(Blocked, match=reason) as raised:
        DEFAULT.check_url(url)
    assert raised.value.code == "blocked"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://localhost.:8080/",
        "http://LocalHost/",
        "http://app.localhost/",
        "http://a.b.localhost./",
        "http://\uff2c\uff2f\uff23\uff21\uff2c\uff28\uff2f\uff33\uff34/",  # full-width, as IDNA maps it
        "http://lo%63alhost/",
    ],
)
def test_localhost_names_are_loopback_without_resolving(url: str) -> None:
    with pytest.raises(Blocked, match="loopback") as raised:
        DEFAULT.check_url(url)
    assert "--allow-private-networks" in raised.value.message


def test_localhost_names_pass_where_loopback_is_allowed_and_lookalikes_are_left_to_resolution() -> None:
    AddressPolicy.from_lists(True).check_url("http://localhost/")
    AddressPolicy.from_lists(False, ["localhost:8080"]).check_url("http://localhost:8080/")
    AddressPolicy.from_lists(False, ["127.0.0.0/8"]).check_url("http://localhost/")  # resolution decides for ::1
    for lookalike in ("http://localhost.example/", "http://notlocalhost/", "http://localhost-1/"):
        DEFAULT.check_url(lookalike)
    with pytest.raises(Blocked, match="deny list"):
        AddressPolicy.from_lists(True, [], ["localhost"]).check_url("http://localhost/")


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://[2606:4700::1111]/", "http://example.com/"])
def test_public_literals_and_names_pass_the_url_check(url: str) -> None:
    DEFAULT.check_url(url)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:6379/"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(Blocked):
        DEFAULT.check_url(url)


@given(ipv4s)
def test_every_ipv4_the_standard_library_calls_non_global_is_refused(address: ipaddress.IPv4Address) -> None:
    if not address.is_global or address.is_multicast:
        assert refused_range(address) is not None
    if refused_range(address) is None:
        assert address.is_global and not address.is_multicast


@given(ipv6s)
def test_every_ipv6_outside_public_unicast_is_refused(address: ipaddress.IPv6Address) -> None:
    carried = address.ipv4_mapped or address.sixtofour
    if carried is None and (not address.is_global or address.is_multicast):
        assert refused_range(address) is not None


@given(ipv4s)
def test_ipv6_forms_are_judged_by_the_ipv4_they_carry(address: ipaddress.IPv4Address) -> None:
    expected = refused_range(address) is None
    for carrier in carriers(address):
        assert (refused_range(carrier) is None) == expected, carrier


@given(st.integers(0, 2**32 - 1))
def test_numeric_ipv4_spellings_are_judged_as_the_address(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    for spelling in (str(number), hex(number), f"0{number:o}"):
        url = f"http://{spelling}/"
        assert ada_url.URL(url).hostname == str(address)
        if refused_range(address) is None:
            DEFAULT.check_url(url)
        else:
            with pytest.raises(Blocked):
                DEFAULT.check_url(url)


def test_allow_private_networks_lifts_the_default_refusal() -> None:
    trusting = AddressPolicy.from_lists(True)
    trusting.check_url("http://127.0.0.1:8080/")
    trusting.check_addresses("intranet", 80, [ipaddress.ip_address("10.0.0.1")])


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]:8080/", "http://10.1.2.3/", "http://0x7f.1/"])
def test_a_refused_range_names_the_setting_that_lifts_it(url: str) -> None:
    with pytest.raises(Blocked) as refused:
        DEFAULT.check_url(url)
    assert "--allow-private-networks" in refused.value.message
    assert "LINKCAST_ALLOW_PRIVATE_NETWORKS=1" in refused.value.message


@pytest.mark.parametrize(
    ("address", "deny", "port"),
    [("10.20.3.4", [], 80), ("fd12:3456::7", [], 80), ("192.0.0.8", [], 80), ("10.20.3.4", ["10.20.3.4:22"], 22),
     ("169.254.169.254", ["169.254.169.254"], 80), ("::ffff:10.20.3.4", [], 80)],
)  # fmt: skip
def test_a_name_s_address_is_not_told_to_whoever_asked_for_it(address: str, deny: list[str], port: int) -> None:
    """The refusal reaches the client and webhooks: with the address in it, anyone could map this server's internal
    names to their addresses, a request each (db.internal resolves to 10.20.3.4). A literal address is shown, as
    written."""
    policy = AddressPolicy.from_lists(bool(deny), [], deny)
    parsed = ipaddress.ip_address(address)
    with pytest.raises(Blocked) as refused:
        policy.check_addresses("db.internal", port, [parsed])
    message = refused.value.message
    assert message.startswith("db.internal resolves to a") and "address" in message
    assert str(parsed) not in message and "10.20.3.4" not in message and "169.254" not in message, message
    assert " a unspecified" not in message and " a IETF" not in message


def test_a_name_resolving_to_a_refused_range_names_the_setting_too() -> None:
    with pytest.raises(Blocked) as refused:
        DEFAULT.check_addresses("localhost", 80, [ipaddress.ip_address("127.0.0.1")])
    assert refused.value.message.startswith(
        "localhost resolves to a loopback address, refused unless linkcast runs with --allow-private-networks"
    )


def test_a_denied_network_names_no_setting_since_none_lifts_it() -> None:
    policy = AddressPolicy.from_lists(True, [], ["10.0.0.0/8"])
    with pytest.raises(Blocked) as refused:
        policy.check_url("http://10.1.2.3/")
    assert refused.value.message == "10.1.2.3 is in the denied network 10.0.0.0/8"


def test_allowed_host_and_port_is_allowed_and_nothing_else() -> None:
    policy = AddressPolicy.from_lists(False, ["127.0.0.1:8080", "intranet.example"])
    policy.check_url("http://127.0.0.1:8080/page")
    policy.check_addresses("intranet.example", 443, [ipaddress.ip_address("10.0.0.1")])
    with pytest.raises(Blocked):
        policy.check_url("http://127.0.0.1:8081/")
    with pytest.raises(Blocked):
        policy.check_addresses("other.example", 80, [ipaddress.ip_address("10.0.0.1")])


def test_allowed_network_admits_its_addresses() -> None:
    policy = AddressPolicy.from_lists(False, ["10.20.0.0/16"])
    policy.check_addresses("a.internal", 80, [ipaddress.ip_address("10.20.3.4")])
    with pytest.raises(Blocked):
        policy.check_addresses("b.internal", 80, [ipaddress.ip_address("10.21.3.4")])


def test_deny_list_wins_over_everything() -> None:
    policy = AddressPolicy.from_lists(True, ["evil.example"], ["*.evil.example", "evil.example", "203.0.114.0/24"])
    for url in ("http://evil.example/", "http://www.evil.example/", "http://203.0.114.9/"):
        with pytest.raises(Blocked, match=r"deny|denied"):
            policy.check_url(url)
    with pytest.raises(Blocked, match=r"resolves to an address on the deny list$"):
        policy.check_addresses("innocent.example", 80, [ipaddress.ip_address("::ffff:203.0.114.9")])


def test_a_denied_address_and_port_is_refused_however_it_is_named() -> None:
    # Matched as a host name, 127.0.0.1:6379 was refused only as written: [::ffff:127.0.0.1]:6379, localhost:6379 or
    # any name resolving to 127.0.0.1 reached the port the operator denied.
    policy = AddressPolicy.from_lists(True, [], ["127.0.0.1:6379", "[fd00::5]:8080"])
    for url in ("http://127.0.0.1:6379/", "http://[::ffff:127.0.0.1]:6379/", "http://[::ffff:7f00:1]:6379/"):
        with pytest.raises(Blocked, match="deny list on port 6379") as refused:
            policy.check_url(url)
        assert "--allow-private-networks" not in refused.value.message  # no setting lifts it
    with pytest.raises(Blocked, match=r"localhost resolves to an address on the deny list$"):
        policy.check_addresses("localhost", 6379, [ipaddress.ip_address("127.0.0.1")])
    with pytest.raises(Blocked, match=r"resolves to an address on the deny list$"):
        policy.check_addresses("db.internal", 8080, [ipaddress.ip_address("fd00::5")])
    # Other ports of the address, and other addresses on the port, are left to the rest of the policy.
    policy.check_url("http://127.0.0.1:6380/")
    policy.check_addresses("localhost", 80, [ipaddress.ip_address("127.0.0.1")])
    policy.check_addresses("other.internal", 6379, [ipaddress.ip_address("127.0.0.2")])
    assert policy.denies_addresses and not AddressPolicy.from_lists(True, [], ["example.com:80"]).denies_addresses


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/8:6379", "example.com/admin", "user@example.com", "*:25", "[::1]abc", "[::1]:x", "a b"]
)
def test_an_entry_that_is_more_than_a_host_is_refused_not_cut_to_another_rule(entry: str) -> None:
    # Read as a URL, what follows a host was dropped in silence: "--deny-hosts 10.0.0.0/8:6379" denied 10.0.0.0 alone
    # (every other address of the network reachable on 6379), "*:25" a host named '*', "example.com/admin" all of it.
    with pytest.raises(ValueError, match="not a host"):
        AddressPolicy.from_lists(False, [], [entry])
    with pytest.raises(ValueError, match="not a host"):
        AddressPolicy.from_lists(False, [entry])


def test_a_host_with_one_refused_address_among_public_ones_is_refused() -> None:
    addresses = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(Blocked, match=r"rebind\.example resolves to a loopback address"):
        DEFAULT.check_addresses("rebind.example", 80, addresses)


def test_list_entries_are_spelled_as_parsed_urls_spell_hosts() -> None:
    policy = AddressPolicy.from_lists(True, [], ["Bücher.Example", "*.ÉVIL.example", "0x7f.1:8080"])
    for url in ("http://xn--bcher-kva.example/", "http://a.évil.example/", "http://127.0.0.1:8080/"):
        with pytest.raises(Blocked, match="deny list"):
            policy.check_url(url)
    policy.check_url("http://127.0.0.1:8081/")


@pytest.mark.parametrize("entry", ["host:0", "host:99999", ":80", "a:b", "exa mple.com"])
def test_bad_list_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError):
        HostRule.parse(entry)


@pytest.mark.parametrize("entry", ["169.254.169.254.", "2852039166", "0251.0376.0251.0376", "0xa9.0xfe.43518"])
@pytest.mark.parametrize("listed", ["deny", "allow"])
def test_an_address_listed_in_another_spelling_is_the_address_not_a_name(entry: str, listed: str) -> None:
    # Only a dotted address was read as one. 169.254.169.254. (a trailing dot), 2852039166 or octal were host rules,
    # matched as names: --deny-hosts refused a URL spelling the address so, while http://[::ffff:a9fe:a9fe]/ and any
    # name resolving to 169.254.169.254 reached it.
    policy = AddressPolicy.from_lists(listed == "deny", *([[], [entry]] if listed == "deny" else [[entry]]))
    metadata = ipaddress.ip_address("169.254.169.254")
    if listed == "deny":
        for url in ("http://169.254.169.254/", "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]:8080/"):
            with pytest.raises(Blocked, match=r"in the denied network 169\.254\.169\.254/32"):
                policy.check_url(url)
        with pytest.raises(Blocked, match=r"metadata\.example resolves to an address on the deny list$"):
            policy.check_addresses("metadata.example", 80, [metadata])
    else:
        # Allowed, it is allowed as 127.0.0.1 would be: however it is reached, and nothing else is.
        policy.check_url("http://[::ffff:a9fe:a9fe]/")
        policy.check_addresses("metadata.example", 80, [metadata])
        with pytest.raises(Blocked):
            policy.check_url("http://169.254.169.253/")


@pytest.mark.parametrize(
    "entry", ["::ffff:169.254.169.254", "[::ffff:a9fe:a9fe]", "64:ff9b::a9fe:a9fe", "::ffff:169.254.0.0/112"]
)
def test_a_denied_ipv6_form_of_an_ipv4_address_denies_the_address(entry: str) -> None:
    # A network holds the IPv6 forms that carry its IPv4 addresses (contains), but an entry written as such a form
    # was an IPv6 network, which holds no IPv4 address: --deny-hosts ::ffff:169.254.169.254 let 169.254.169.254 through,
    # as written or through a name, and every other IPv6 form of it.
    policy = AddressPolicy.from_lists(True, [], [entry])
    for url in ("http://169.254.169.254/", "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/"):
        with pytest.raises(Blocked, match=r"in the denied network 169\.254\."):
            policy.check_url(url)
    with pytest.raises(Blocked, match=r"resolves to an address on the deny list$"):
        policy.check_addresses("metadata.example", 80, [ipaddress.ip_address("169.254.169.254")])
    policy.check_url("http://169.253.169.254/")


def test_a_denied_ipv6_form_of_an_ipv4_address_and_port_denies_the_address_on_the_port() -> None:
    policy = AddressPolicy.from_lists(True, [], ["[::ffff:127.0.0.1]:6379"])
    for url in ("http://127.0.0.1:6379/", "http://[::ffff:7f00:1]:6379/"):
        with pytest.raises(Blocked, match="deny list on port 6379"):
            policy.check_url(url)
    with pytest.raises(Blocked, match=r"resolves to an address on the deny list$"):
        policy.check_addresses("localhost", 6379, [ipaddress.ip_address("127.0.0.1")])
    policy.check_url("http://127.0.0.1:6380/")


def test_a_denied_ipv6_translation_prefix_stays_the_translation() -> None:
    # 64:ff9b::/96 denies NAT64 (each IPv4 address through it), not every IPv4 address.
    policy = AddressPolicy.from_lists(True, [], ["64:ff9b::/96", "::ffff:0:0/96"])
    with pytest.raises(Blocked, match=r"denied network 64:ff9b::/96"):
        policy.check_url("http://[64:ff9b::808:808]/")
    policy.check_url("http://8.8.8.8/")


def test_the_urls_check_url_remembers_are_bounded_in_bytes() -> None:
    # The last 4,096 URLs checked were kept whatever their length: a hostile site's redirects to 32 KiB URLs (a
    # Location line may be that long) or a crawl's 8 KiB links made every policy hold 126 MiB of them for good.
    policy = AddressPolicy()
    gc.collect()
    tracemalloc.start()
    try:
        for n in range(5000):
            policy.check_url(f"https://example.com/{n}/" + "a" * 32_000)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 16 * 2**20, f"{held / 2**20:.0f} MiB held"
