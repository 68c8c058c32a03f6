"""Which network addresses an image URL may reach: global ones, plus what ``IMAGE_FETCH_ALLOW`` opens.

In Azure, loopback is the Functions host itself and the private ranges are the VNet, so an
``image_url`` may only lead to global addresses. The check runs on the addresses a host
*resolves to*, once per connection, and the caller connects to exactly those addresses, so a
DNS answer that changes between the check and the connection (rebinding) cannot switch it.
Numeric spellings (``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``) are read the way
the C resolver reads them, and IPv4 addresses inside IPv6 ones (mapped, compatible, NAT64, 6to4)
are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import quote, urlsplit

from pipeline.errors import ConfigurationError, ImageFetchError
from pipeline.untrusted import one_line

__all__ = [
    "AddressPolicy",
    "Connector",
    "IPAddress",
    "PinnedResponse",
    "Resolver",
    "connect_tcp",
    "default_tls",
    "get_pinned",
    "parse_ipv4_literal",
    "refusal",
    "system_resolver",
]

_log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]
"""Host name → the addresses it resolves to, as text (``socket.getaddrinfo`` by default)."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# First match names the reason; anything else that is not global is refused by the last rule.
_REFUSED_V4: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/32"), "an unspecified address"),
    (_V4("0.0.0.0/8"), "a 'this network' address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared (CGNAT) address"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "a broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
    (_V4("192.0.0.0/24"), "a reserved address"),
    (_V4("192.88.99.0/24"), "a reserved address"),
    (_V4("198.18.0.0/15"), "a reserved (benchmarking) address"),
    (_V4("192.0.2.0/24"), "a reserved (documentation) address"),
    (_V4("198.51.100.0/24"), "a reserved (documentation) address"),
    (_V4("203.0.113.0/24"), "a reserved (documentation) address"),
)
_REFUSED_V6: tuple[tuple[_V6, str], ...] = (
    (_V6("::/128"), "an unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("fc00::/7"), "a private (unique local) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
    (_V6("64:ff9b:1::/48"), "a private (local NAT64) address"),
    (_V6("2001::/32"), "a Teredo tunnel address"),
    (_V6("2001:db8::/32"), "a reserved (documentation) address"),
    (_V6("100::/64"), "a reserved (discard) address"),
)
_MAPPED = _V6("::ffff:0:0/96")
_TRANSLATED = _V6("::ffff:0:0:0/96")
_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to, in the system's order, each once."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address ``inet_aton`` would read in ``host`` (``127.1``, ``0x7f000001``, ``017700000001``).

    None when ``host`` is a name; ``ImageFetchError`` when it is numeric but no address.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # "127.0.0.1." is the same address
    if not parts or not all(_NUMBER.fullmatch(p) for p in parts):
        return None
    try:
        values = [int(p, 16) if p[:2].lower() == "0x" else int(p, 8) if len(p) > 1 and p[0] == "0" else int(p)
                  for p in parts]
    except ValueError:  # "0x" alone, or an octal part with 8 or 9 in it
        values = []
    if values and len(values) <= 4:
        *high, last = values
        if all(v <= 0xFF for v in high) and last < 1 << (8 * (5 - len(values))):
            number = 0
            for v in high:
                number = number << 8 | v
            return ipaddress.IPv4Address(number << (8 * (5 - len(values))) | last)
    raise ImageFetchError(f"image_url host {one_line(host)} is numeric but not a valid IPv4 address; refused")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return parse_ipv4_literal(host) if ":" not in host else None


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, NAT64, 6to4)."""
    if address in _MAPPED or address in _TRANSLATED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address in _COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFF_FFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why an image may not be fetched from ``address`` ("a loopback address"), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # the zone (%eth0) does not matter
        inner = _embedded(address)
        if inner is not None:
            reason = refusal(inner)
            return None if reason is None else f"{reason} (IPv4 {inner} inside an IPv6 address)"
        for network6, reason in _REFUSED_V6:
            if address in network6:
                return reason
    else:
        for network4, reason in _REFUSED_V4:
            if address in network4:
                return reason
    return None if address.is_global else "not a global address"


@dataclass(frozen=True)
class _Allowed:
    names: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class AddressPolicy:
    """Resolves an image host once and returns the addresses to connect to, or refuses it.

    ``allow`` opens host names (exactly, as written in the URL), addresses and CIDR ranges that
    would otherwise be refused (``IMAGE_FETCH_ALLOW``, for local runs).
    """

    def __init__(self, *, allow: Iterable[str] = (), resolve: Resolver = system_resolver) -> None:
        names: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (_normal_host(e) for e in allow):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            try:
                literal = parse_ipv4_literal(entry) if _HOST_NAME.fullmatch(entry) else None
            except ImageFetchError:
                literal, names_ok = None, False
            else:
                names_ok = True
            if literal is not None:
                networks.append(ipaddress.ip_network(literal))
            elif names_ok and _HOST_NAME.fullmatch(entry):
                names.add(entry)
            else:
                raise ConfigurationError(
                    f"IMAGE_FETCH_ALLOW entry {entry!r} is neither a host name, an address nor a CIDR range")
        self._allowed = _Allowed(frozenset(names), tuple(networks))
        self._resolve = resolve

    def _is_allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded(address)) is not None:
            candidates.append(inner)
        return any(a in n for a in candidates for n in self._allowed.networks if a.version == n.version)

    def addresses(self, host: str) -> list[IPAddress]:
        """The addresses of ``host`` to connect to, every one of them checked; ``ImageFetchError`` if any is refused."""
        name = _normal_host(host)
        shown = one_line(host)
        literal = _literal(name)
        if literal is not None:
            found = [literal]
        else:
            try:
                answers = self._resolve(name)
            except (OSError, ValueError) as e:  # ValueError: a NUL in the name, UnicodeError: not IDNA
                raise ImageFetchError(f"image_url host {shown} cannot be resolved: {one_line(e)}") from None
            try:
                found = [ipaddress.ip_address(a.split("%")[0]) for a in answers]
            except ValueError as e:
                raise ImageFetchError(f"image_url host {shown} resolved to {one_line(e)}") from None
            if not found:
                raise ImageFetchError(f"image_url host {shown} resolves to no address")
        if name in self._allowed.names:
            return found
        for address in found:
            reason = refusal(address)
            if reason is None or self._is_allowed(address):
                continue
            if literal is None:
                what = f"resolves to {address}, {reason}"
            elif name != address.compressed:
                what = f"is {address}, {reason}"
            else:
                what = f"is {reason}"
            _log.warning("image_url host %s refused: %s", shown, what)
            raise ImageFetchError(f"image_url host {shown} {what}; refused (allow it with IMAGE_FETCH_ALLOW)")
        return found


# The connection: to the addresses that were checked, every wait ending by one deadline.

Connector = Callable[[IPAddress, int, float], socket.socket]
"""(address, port, seconds) → a connected TCP socket; injectable so tests see where a fetch would go."""


def connect_tcp(address: IPAddress, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((str(address), port), timeout=timeout)


class _Deadline:
    def __init__(self, at: float) -> None:
        self.at = at

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left


class _BoundedReader(io.RawIOBase):
    """Reads a socket, each wait limited to what is left before the deadline (a drip cannot outlast it)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)


class _BoundedSocket:
    """What ``http.client`` needs of a socket; closing is left to ``PinnedResponse``."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_BoundedReader(self._sock, self._deadline))

    def close(self) -> None:
        pass  # http.client closes early when the server says "Connection: close"; the body is still to read


class PinnedResponse:
    """One HTTP response; ``read`` and ``close`` as on a file. Use it in a ``with``."""

    def __init__(self, response: http.client.HTTPResponse, sock: socket.socket, address: IPAddress) -> None:
        self._response = response
        self._sock = sock
        self.address = address
        self.status = response.status
        self.reason = response.reason
        self.headers = response.headers

    def read(self, amount: int) -> bytes:
        return self._response.read(amount)

    def close(self) -> None:
        self._response.close()
        self._sock.close()

    def __enter__(self) -> PinnedResponse:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _target(path: str, query: str) -> str:
    """The request target, percent-encoded as a browser would (spaces, non-ASCII)."""
    safe = "/%:@!$&'()*+,;=-._~"
    target = quote(path or "/", safe=safe)
    return f"{target}?{quote(query, safe=safe + '?')}" if query else target


def get_pinned(url: str, addresses: Sequence[IPAddress], *, deadline: float, connect: Connector = connect_tcp,
               tls: ssl.SSLContext | None = None) -> PinnedResponse:
    """GET ``url`` from one of ``addresses`` (tried in order), with its own Host header and TLS name.

    Every step (connect, TLS handshake, request, headers, and later each read of the body) ends by
    ``deadline`` (``time.monotonic()``): ``TimeoutError`` after it.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme.lower() == "https"
    port = parts.port or (443 if secure else 80)
    bounded = _Deadline(deadline)
    sock: socket.socket | None = None
    failure: OSError = OSError(f"no address to connect to for {host}")
    for address in addresses:
        try:
            sock = connect(address, port, bounded.remaining())
            break
        except TimeoutError:
            raise
        except OSError as e:
            failure = e
    if sock is None:
        raise failure
    try:
        if secure:
            context = tls or default_tls()
            sock.settimeout(bounded.remaining())
            sock = context.wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port)
        connection.sock = _BoundedSocket(sock, bounded)  # http.client needs only sendall, makefile, close
        connection.putrequest("GET", _target(parts.path, parts.query), skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", parts.netloc.rpartition("@")[2])
        connection.putheader("Accept", "image/*")
        connection.putheader("Accept-Encoding", "identity")
        connection.putheader("User-Agent", "imaginem")
        connection.putheader("Connection", "close")
        connection.endheaders()
        return PinnedResponse(connection.getresponse(), sock, address)
    except BaseException:
        sock.close()
        raise


def default_tls() -> ssl.SSLContext:
    """Certificates and host names checked against the Mozilla roots that requests uses too (certifi)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
