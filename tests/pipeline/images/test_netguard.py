"""The address policy, offline: no test here opens a connection; names resolve through an injected resolver."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence

import pytest

from pipeline.errors import ConfigurationError, ImageFetchError
from pipeline.images.netguard import AddressPolicy, parse_ipv4_literal, refusal
from pipeline.settings import Settings


def resolver(table: dict[str, Sequence[str]]) -> Callable[[str], Sequence[str]]:
    def resolve(host: str) -> Sequence[str]:
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return table[host]

    return resolve


def no_dns(host: str) -> Sequence[str]:
    raise AssertionError(f"{host} is an address literal: it must not be looked up")


# Every spelling of an internal address that a URL host can carry, with the reason it is refused.
INTERNAL = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("2130706433", "loopback"),  # decimal
    ("0x7f000001", "loopback"),  # hex
    ("0X7F000001", "loopback"),
    ("017700000001", "loopback"),  # octal
    ("0177.0.0.1", "loopback"),
    ("127.1", "loopback"),  # short forms
    ("127.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("127.0.0.1.", "loopback"),  # trailing dot
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:7f00:1", "loopback"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated
    ("64:ff9b::127.0.0.1", "loopback"),  # NAT64
    ("2002:7f00:1::1", "loopback"),  # 6to4
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "this network"),
    ("10.1.2.3", "private"),
    ("012.1.2.3", "private"),  # octal 10
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:192.168.0.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("64:ff9b:1::1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("2852039166", "link-local"),
    ("0xa9fea9fe", "link-local"),
    ("169.254.43518", "link-local"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:a9fe:a9fe::", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("::ffff:224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.0.8", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "Teredo"),
    ("100::1", "discard"),
]


@pytest.mark.parametrize("host, reason", INTERNAL)
def test_internal_addresses_in_every_spelling_are_refused(host: str, reason: str) -> None:
    with pytest.raises(ImageFetchError, match=rf"{reason}.*; refused \(allow it with IMAGE_FETCH_ALLOW\)"):
        AddressPolicy(resolve=no_dns).addresses(host)


def test_the_message_names_the_host_and_what_it_is() -> None:
    policy = AddressPolicy(resolve=resolver({"localhost": ["127.0.0.1", "::1"], "intranet.test": ["10.0.0.7"]}))
    with pytest.raises(ImageFetchError) as raised:
        policy.addresses("127.0.0.1")
    assert str(raised.value) == ("image_url host 127.0.0.1 is a loopback address; "
                                 "refused (allow it with IMAGE_FETCH_ALLOW)")
    with pytest.raises(ImageFetchError, match=r"^image_url host 2130706433 is 127\.0\.0\.1, a loopback address; "):
        policy.addresses("2130706433")
    with pytest.raises(ImageFetchError, match=r"host localhost resolves to 127\.0\.0\.1, a loopback address"):
        policy.addresses("localhost")
    with pytest.raises(ImageFetchError, match=r"host intranet\.test resolves to 10\.0\.0\.7, a private address"):
        policy.addresses("intranet.test")
    with pytest.raises(ImageFetchError, match=r"\(IPv4 127\.0\.0\.1 inside an IPv6 address\)"):
        policy.addresses("::ffff:127.0.0.1")


def test_global_addresses_pass_and_are_what_the_caller_connects_to() -> None:
    policy = AddressPolicy(resolve=resolver({"images.example.com": ["93.184.216.34", "2606:2800:220:1::248"]}))
    assert policy.addresses("images.example.com") == [ipaddress.ip_address("93.184.216.34"),
                                                      ipaddress.ip_address("2606:2800:220:1::248")]
    for host in ("8.8.8.8", "::ffff:8.8.8.8", "2002:808:808::1", "134744072", "2606:4700::1111"):
        assert len(AddressPolicy(resolve=no_dns).addresses(host)) == 1, host


def test_a_name_with_one_internal_answer_among_public_ones_is_refused() -> None:
    policy = AddressPolicy(resolve=resolver({"mixed.test": ["93.184.216.34", "127.0.0.1"]}))
    with pytest.raises(ImageFetchError, match=r"mixed\.test resolves to 127\.0\.0\.1, a loopback"):
        policy.addresses("mixed.test")


def test_names_that_do_not_resolve_and_numbers_that_are_no_address() -> None:
    policy = AddressPolicy(resolve=resolver({}))
    with pytest.raises(ImageFetchError, match=r"host nowhere\.test cannot be resolved: .*not known"):
        policy.addresses("nowhere.test")
    with pytest.raises(ImageFetchError, match="cannot be resolved"):
        AddressPolicy().addresses("nul\x00.invalid")  # the system resolver refuses it without asking DNS
    for host in ("256.256.256.256", "1.2.3.4.5", "0x", "08.1.1.1", "4294967296"):
        with pytest.raises(ImageFetchError, match="numeric but not a valid IPv4 address"):
            policy.addresses(host)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("10.258", "10.0.1.2"), ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"), ("1.2.3", "1.2.0.3"), ("4294967295", "255.255.255.255"),
    ("1e100.net", None), ("deadbeef", None), ("example.com", None), ("0x7f.example", None),
])
def test_ipv4_literals_read_as_the_c_resolver_reads_them(text: str, expected: str | None) -> None:
    parsed = parse_ipv4_literal(text)
    assert (str(parsed) if parsed else None) == expected


def test_the_allow_list_opens_names_addresses_and_ranges() -> None:
    resolve = resolver({"localhost": ["127.0.0.1", "::1"], "intranet.test": ["10.0.0.7"], "other.test": ["10.9.9.9"]})
    loopback = AddressPolicy(allow=["127.0.0.1"], resolve=resolve)
    for host in ("127.0.0.1", "2130706433", "127.1", "::ffff:127.0.0.1"):
        assert [str(a) for a in loopback.addresses(host)] in (["127.0.0.1"], ["::ffff:7f00:1"]), host
    with pytest.raises(ImageFetchError, match="::1"):
        loopback.addresses("localhost")  # its IPv6 answer is not on the list
    assert len(AddressPolicy(allow=["localhost"], resolve=resolve).addresses("localhost")) == 2
    assert len(AddressPolicy(allow=["LocalHost."], resolve=resolve).addresses("localhost")) == 2

    ranges = AddressPolicy(allow=[" 10.0.0.0/8 ", "", "[::1]", "fd00::/8"], resolve=resolve)
    assert ranges.addresses("other.test") == [ipaddress.ip_address("10.9.9.9")]
    assert ranges.addresses("::1") == [ipaddress.ip_address("::1")]
    assert ranges.addresses("fd00::5") == [ipaddress.ip_address("fd00::5")]
    with pytest.raises(ImageFetchError, match="private"):
        ranges.addresses("192.168.0.1")

    by_name = AddressPolicy(allow=["intranet.test"], resolve=resolve)
    assert by_name.addresses("intranet.test") == [ipaddress.ip_address("10.0.0.7")]
    with pytest.raises(ImageFetchError, match="10.9.9.9"):
        by_name.addresses("other.test")  # a name opens that name only, not its addresses for other names
    with pytest.raises(ImageFetchError, match="10.0.0.7"):
        by_name.addresses("10.0.0.7")


@pytest.mark.parametrize("entry", ["http://localhost", "10.0.0.0/33", "999.1.1.1", "a b", "*"])
def test_a_bad_allow_list_entry_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="IMAGE_FETCH_ALLOW entry"):
        AddressPolicy(allow=[entry])


def test_the_settings_read_the_allow_list_and_the_input_containers() -> None:
    default = Settings.from_env({})
    assert (default.image_fetch_allow, default.input_containers) == ((), ("inputimages",))
    changed = Settings.from_env({"IMAGE_FETCH_ALLOW": "127.0.0.1, localhost,10.0.0.0/8",
                                 "INPUT_CONTAINERS": "inputimages,uploads"})
    assert changed.image_fetch_allow == ("127.0.0.1", "localhost", "10.0.0.0/8")
    assert changed.input_containers == ("inputimages", "uploads")


def test_every_refusal_has_a_reason_and_every_global_address_none() -> None:
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("::ffff:93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("198.19.0.1")) == "a reserved (benchmarking) address"


def test_a_refusal_is_logged_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    host = "evil\r\nCRITICAL forged.test"
    policy = AddressPolicy(resolve=resolver({host.lower(): ["127.0.0.1"]}))
    with caplog.at_level(logging.WARNING, logger="pipeline.images.netguard"), pytest.raises(ImageFetchError) as raised:
        policy.addresses(host)
    assert "\n" not in str(raised.value) and "\r" not in str(raised.value)
    [record] = caplog.records
    assert "\n" not in record.getMessage() and "evil\\x0d\\x0aCRITICAL" in record.getMessage()
