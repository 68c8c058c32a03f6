"""Image fetching and decoding against loopback HTTP(S) servers and a real Azurite.

Only loopback is ever connected to: other addresses come from an injected resolver, and a
recording connector stands in for the connection wherever a test needs to see where a fetch
would have gone.
"""

from __future__ import annotations

import datetime
import io
import logging
import re
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import PIL.Image
import pytest

from pipeline.errors import ImageFetchError, ImageTooLargeError, NotAnImageError
from pipeline.images import ImageFetcher, decode_image
from pipeline.images.netguard import AddressPolicy, IPAddress, connect_tcp
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.storage import Storage
from tests.pipeline.images.test_netguard import resolver


def png(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny file that claims ten billion pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


HOSTS: list[str] = []  # the Host header of every request the server saw


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        HOSTS.append(self.headers.get("Host", ""))
        if self._special():
            return
        routes = {
            "/ok.png": (200, png(), {}),
            "/missing.png": (404, b"not here", {}),
            "/page.html": (200, b"<html>hello</html>", {}),
            "/truncated.jpg": (200, png()[:60], {}),
            "/bomb.png": (200, bomb_png(), {}),
            "/declared-huge.png": (200, b"", {"Content-Length": str(10**9)}),
        }
        if self.path == "/slow.png":
            time.sleep(2)
        if self.path == "/endless.png":
            self.send_response(200)
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"\0" * 4096)
            return
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path == "/redirect-loop":
            self.send_response(302)
            self.send_header("Location", "/redirect-loop")
            self.end_headers()
            return
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.removeprefix("/redirect?to=")))
            self.end_headers()
            return
        status, body, headers = routes.get(self.path.split("?", 1)[0], (200, png(), {}))
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.path != "/declared-huge.png":
            self.wfile.write(body)

    def _special(self) -> bool:
        """Slow servers: each wait is short, the whole answer long (about 5 s)."""
        if self.path == "/drip.png":  # one byte every 50 ms
            body = png()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body[: 100]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(body[100:])
            return True
        if self.path == "/drip-headers.png":  # the status line and headers, one byte every 50 ms
            for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 100 + b"\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
            return True
        if self.path.startswith("/slow-hop/"):  # 0.4 s per hop, then the next hop
            time.sleep(0.4)
            left = int(self.path.removeprefix("/slow-hop/"))
            self.send_response(302)
            self.send_header("Location", f"/slow-hop/{left - 1}" if left > 1 else "/ok.png")
            self.end_headers()
            return True
        return False

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the client hanging up on /endless.png is the point of that test

    httpd = Server(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


LOOPBACK = AddressPolicy(allow=["127.0.0.1"])  # what a local run sets in IMAGE_FETCH_ALLOW


def fetcher(**overrides: object) -> ImageFetcher:
    """A fetcher that may reach the loopback test servers (the default refuses them)."""
    options: dict[str, object] = {"max_bytes": 1_000_000, "max_pixels": 10_000_000, "timeout": 1.0,
                                  "addresses": LOOPBACK}
    options.update(overrides)
    return ImageFetcher(**options)  # type: ignore[arg-type]




class Connections:
    """A connector that records every address a fetch connects to, and connects to loopback only."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def __call__(self, address: IPAddress, port: int, timeout: float) -> socket.socket:
        self.seen.append((str(address), port))
        if not address.is_loopback:
            raise ConnectionRefusedError(111, "the test connects to loopback only")
        return connect_tcp(address, port, timeout)


def test_an_http_image_is_fetched_and_decoded(server: str) -> None:
    image = fetcher().fetch(f"{server}/ok.png")
    assert (image.width, image.height, image.format) == (40, 30, "PNG")
    assert image.rgb.shape == (30, 40, 3) and tuple(image.rgb[0, 0]) == (200, 10, 10)


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("/missing.png", ImageFetchError, "answered 404"),
        ("/page.html", NotAnImageError, "is not an image"),
        ("/truncated.jpg", NotAnImageError, "corrupt or truncated"),
        ("/bomb.png", ImageTooLargeError, "10000000000 pixels"),
        ("/declared-huge.png", ImageTooLargeError, "1000000000 bytes"),
        ("/endless.png", ImageTooLargeError, "sent more than 1000000 bytes"),
        ("/slow.png", ImageFetchError, "timed out after 1 s"),
        ("/drip.png", ImageFetchError, r"GET http://127\.0\.0\.1:\d+/drip\.png timed out after 1 s"),
        ("/drip-headers.png", ImageFetchError, "timed out after 1 s"),
        ("/slow-hop/3", ImageFetchError, r"/slow-hop/\d timed out after 1 s"),
        ("/redirect-loop", ImageFetchError, "redirected too many times"),
    ],
)
def test_bad_images_give_clear_errors(server: str, path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        fetcher().fetch(f"{server}{path}")


def test_unreachable_hosts_and_other_schemes_are_refused() -> None:
    with pytest.raises(ImageFetchError, match="failed: ConnectionRefusedError"):
        fetcher().fetch("http://127.0.0.1:9/nothing.png")
    with pytest.raises(ImageFetchError, match="scheme 'ftp' is not supported"):
        fetcher().fetch("ftp://example.com/a.png")


def test_cloud_metadata_addresses_are_refused_even_behind_a_redirect(server: str) -> None:
    with pytest.raises(ImageFetchError, match="link-local address"):
        fetcher().fetch("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(ImageFetchError, match=r"169\.254\.169\.254.*link-local"):
        fetcher().fetch(f"{server}/to-metadata")


def test_local_paths_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png())
    with pytest.raises(ImageFetchError, match="IMAGE_ALLOW_LOCAL_PATHS"):
        fetcher().fetch(str(path))
    assert fetcher(allow_local_paths=True).fetch(str(path)).width == 40
    assert fetcher(allow_local_paths=True).fetch(path.as_uri()).width == 40
    with pytest.raises(ImageFetchError, match="cannot read"):
        fetcher(allow_local_paths=True).fetch(str(tmp_path / "nope.png"))


def test_pixel_limit_applies_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="IMAGE_MAX_PIXELS"):
        decode_image(png(200, 200), max_pixels=10_000)




# Internal addresses (issue 9 item 1)

def test_loopback_is_refused_by_default_with_the_setting_that_opens_it(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ImageFetchError) as raised:
        fetcher(addresses=None).fetch(f"{server}/ok.png")
    assert str(raised.value) == ("image_url host 127.0.0.1 is a loopback address; refused "
                                 "(allow it with IMAGE_FETCH_ALLOW)")
    allowed = ImageFetcher.from_settings(Settings.from_env({"IMAGE_FETCH_ALLOW": "127.0.0.1"}), blobs=None)
    assert allowed.fetch(f"http://127.0.0.1:{port}/ok.png").width == 40


@pytest.mark.parametrize("host", [
    "localhost", "127.0.0.1", "[::1]", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "0.0.0.0", "[::]", "10.0.0.1",
    "172.16.0.1", "192.168.0.1", "[fc00::1]", "[fe80::1]", "100.64.0.1", "169.254.169.254", "0xa9fea9fe",
    "224.0.0.1", "[ff02::1]", "240.0.0.1", "[::ffff:10.0.0.1]", "127.0.0.1.", "LOCALHOST",
])
def test_image_urls_on_internal_addresses_never_connect(host: str) -> None:
    connections = Connections()
    with pytest.raises(ImageFetchError, match=r"; refused \(allow it with IMAGE_FETCH_ALLOW\)"):
        fetcher(addresses=None, connect=connections).fetch(f"http://{host}:8080/a.png")
    assert connections.seen == []


def test_a_redirect_from_an_allowed_host_to_an_internal_address_is_refused(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    # images.test stands for a public host; only that name is allowed, not the loopback address behind it.
    names = AddressPolicy(allow=["images.test"], resolve=resolver({
        "images.test": ["127.0.0.1"], "intranet.test": ["192.168.0.10"], "metadata.test": ["169.254.169.254"]}))
    connections = Connections()
    fetch = fetcher(addresses=names, connect=connections).fetch
    origin = f"http://images.test:{port}"
    assert fetch(f"{origin}/ok.png").width == 40
    for target, reason in [
        (f"http://127.0.0.1:{port}/ok.png", "host 127.0.0.1 is a loopback address"),
        (f"http://localhost:{port}/ok.png", "host localhost cannot be resolved"),  # the injected resolver only
        (f"http://[::ffff:127.0.0.1]:{port}/ok.png", "loopback address (IPv4 127.0.0.1 inside an IPv6 address)"),
        (f"http://2130706433:{port}/ok.png", "is 127.0.0.1, a loopback address"),
        ("http://10.0.0.5/x.png", "host 10.0.0.5 is a private address"),
        (f"http://intranet.test:{port}/x.png", "resolves to 192.168.0.10, a private address"),
        ("http://metadata.test/latest/meta-data/", "resolves to 169.254.169.254, a link-local address"),
    ]:
        with pytest.raises(ImageFetchError, match=rf"{re.escape(reason)}.*\(redirected from {origin}/redirect"):
            fetch(f"{origin}/redirect?to={target}")
    assert {address for address, _ in connections.seen} == {"127.0.0.1"}  # the allowed origin, nothing else


def test_the_request_goes_to_the_checked_address_with_the_url_host_header(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    names = AddressPolicy(allow=["images.test"], resolve=resolver({"images.test": ["127.0.0.1"]}))
    HOSTS.clear()
    assert fetcher(addresses=names).fetch(f"http://images.test:{port}/ok.png").width == 40
    assert HOSTS == [f"images.test:{port}"]
    with pytest.raises(ImageFetchError, match="images.test resolves to 127.0.0.1, a loopback address"):
        fetcher(addresses=AddressPolicy(resolve=resolver({"images.test": ["127.0.0.1"]}))).fetch(
            f"http://images.test:{port}/ok.png")


def test_dns_rebinding_cannot_switch_the_checked_address(server: str) -> None:
    """The resolver answers a public address, then loopback: the fetch connects only where it checked."""
    port = int(server.rsplit(":", 1)[1])
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    asked: list[str] = []

    def rebinding(host: str) -> Sequence[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    connections = Connections()  # refuses the public address without connecting to it
    with pytest.raises(ImageFetchError, match="failed: ConnectionRefusedError"):
        fetcher(addresses=AddressPolicy(resolve=rebinding), connect=connections).fetch(
            f"http://rebind.test:{port}/ok.png")
    assert asked == ["rebind.test"]  # resolved once ...
    assert connections.seen == [("93.184.216.34", port)]  # ... and connected to exactly that answer

    # A later fetch resolves again, sees loopback, and refuses it before connecting.
    with pytest.raises(ImageFetchError, match="rebind.test resolves to 127.0.0.1, a loopback address"):
        fetcher(addresses=AddressPolicy(resolve=rebinding), connect=connections).fetch(
            f"http://rebind.test:{port}/ok.png")
    assert connections.seen == [("93.184.216.34", port)]


# HTTPS with the connection pinned: TLS still checks the URL's host name, not the address.

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "images.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("images.test")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(folder / "cert.pem", folder / "key.pem")

    class Server(ThreadingHTTPServer):
        def get_request(self) -> tuple[socket.socket, object]:
            sock, address = super().get_request()
            return serving.wrap_socket(sock, server_side=True), address

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the handshake the client refuses is the point of a test

    httpd = Server(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    trusting = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    yield str(httpd.server_port), trusting
    httpd.shutdown()
    httpd.server_close()


def test_https_is_pinned_to_the_checked_address_and_verified_for_the_url_host(
    tls_server: tuple[str, ssl.SSLContext],
) -> None:
    port, trusting = tls_server
    names = AddressPolicy(allow=["images.test", "127.0.0.1"], resolve=resolver({"images.test": ["127.0.0.1"]}))
    assert fetcher(addresses=names, tls=trusting, timeout=5.0).fetch(f"https://images.test:{port}/ok.png").width == 40
    with pytest.raises(ImageFetchError, match="failed: SSLCertVerificationError.*127.0.0.1"):
        fetcher(addresses=names, tls=trusting, timeout=5.0).fetch(f"https://127.0.0.1:{port}/ok.png")
    with pytest.raises(ImageFetchError, match="failed: SSLCertVerificationError"):  # the public roots
        fetcher(addresses=names, timeout=5.0).fetch(f"https://images.test:{port}/ok.png")


# Log lines and errors with untrusted values stay on one line (issue 13 item 4).

def test_a_url_with_a_line_break_cannot_forge_a_log_line(server: str, caplog: pytest.LogCaptureFixture) -> None:
    forged = "\r\nCRITICAL pipeline.step: forged"
    with caplog.at_level(logging.DEBUG, logger="pipeline"), pytest.raises(ImageFetchError) as raised:
        fetcher().fetch(f"{server}/missing.png?q={forged}")
    assert "\n" not in str(raised.value) and "answered 404" in str(raised.value)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline")]
    assert messages and all("\n" not in m and "\r" not in m for m in messages)
    assert any("\\x0d\\x0aCRITICAL" in m for m in messages)  # shown, escaped
    with pytest.raises(ImageFetchError) as raised:
        fetcher().fetch(f"ftp://x/{forged}")
    assert "\n" not in str(raised.value)


def test_a_sas_signature_is_not_shown(server: str) -> None:
    with pytest.raises(ImageFetchError) as raised:
        fetcher().fetch(f"{server}/missing.png?sv=2024&sig=SECRET%3D&se=1")
    assert "SECRET" not in str(raised.value) and "sig=…&se=1" in str(raised.value)


# Blobs of the pipeline's own account (issue 9 item 2)

def own(storage: Storage, **overrides: object) -> ImageFetcher:
    return fetcher(blobs=storage, **overrides)


@pytest.mark.azurite
def test_private_blobs_of_our_account_are_read_with_its_credentials(services: Services, unique: str) -> None:
    url = services.storage.upload_blob("inputimages", f"b{unique}/a.png", png(), content_type="image/png")
    import requests

    assert requests.get(url, timeout=5).status_code in (403, 404)  # anonymous access is refused
    reader = fetcher(blobs=services.storage, addresses=None)  # Azurite is on loopback: not over HTTP
    assert reader.fetch(url).width == 40
    assert reader.fetch(url, batch_id=f"b{unique}").width == 40
    with pytest.raises(ImageFetchError, match="does not exist"):
        reader.fetch(url.replace("a.png", "b.png"))
    with pytest.raises(ImageTooLargeError, match="IMAGE_MAX_BYTES"):
        fetcher(max_bytes=10, blobs=services.storage).fetch(url)


@pytest.mark.azurite
def test_blobs_outside_the_input_containers_are_refused(services: Services, unique: str) -> None:
    storage = services.storage
    for container in (f"faces{unique}", f"largemessages{unique}", f"private{unique}"):
        url = storage.upload_blob(container, f"b{unique}/a.png", png(), content_type="image/png")
        with pytest.raises(ImageFetchError, match=rf"is a blob of container '{container}'; images are read only "
                                                  r"from inputimages \(INPUT_CONTAINERS\)"):
            own(storage).fetch(url)
    # INPUT_CONTAINERS opens others.
    url = storage.upload_blob(f"uploads{unique}", "a.png", png(), content_type="image/png")
    settings = replace(Settings.from_env({"INPUT_CONTAINERS": f"inputimages,uploads{unique}"}),
                       storage_connection_string=services.settings.storage_connection_string)
    assert ImageFetcher.from_settings(settings, storage).fetch(url).width == 40


@pytest.mark.azurite
def test_our_account_is_never_read_over_http(services: Services, server: str, unique: str) -> None:
    storage = services.storage
    url = storage.upload_blob(f"faces{unique}", "a.png", png(), content_type="image/png")
    account = url.split(f"/faces{unique}/")[0]
    queue = storage.queue(f"q{unique}").url
    reader = own(storage)  # loopback allowed, as in a local run: Azurite must still not be fetched over HTTP
    for target in (account, f"{account}/", queue, f"{queue}/messages"):
        with pytest.raises(ImageFetchError, match="storage account"):
            reader.fetch(target)
    with pytest.raises(ImageFetchError, match=r"\(redirected from .*\): the pipeline's storage account is read only "
                                              r"through its storage client, never over HTTP; refused"):
        reader.fetch(f"{server}/redirect?to={url}")


@pytest.mark.azurite
def test_a_job_reads_only_its_own_batch_folder(services: Services, unique: str) -> None:
    storage = services.storage
    mine = storage.upload_blob("inputimages", f"mine{unique}/0000-a.png", png(), content_type="image/png")
    theirs = storage.upload_blob("inputimages", f"theirs{unique}/0000-a.png", png(), content_type="image/png")
    loose = storage.upload_blob("inputimages", f"loose{unique}.png", png(), content_type="image/png")
    reader = own(storage)
    assert reader.fetch(mine, batch_id=f"mine{unique}").width == 40
    assert reader.fetch(loose, batch_id=f"mine{unique}").width == 40
    with pytest.raises(ImageFetchError, match=rf"in the folder of batch 'theirs{unique}', not of this job's batch "
                                              rf"'mine{unique}'"):
        reader.fetch(theirs, batch_id=f"mine{unique}")
    for sneaky in (mine.replace(f"mine{unique}/", f"mine{unique}/../theirs{unique}/"),
                   mine.replace(f"mine{unique}/", f"mine{unique}//")):
        with pytest.raises(ImageFetchError, match="has empty, . or .. parts"):
            reader.fetch(sneaky, batch_id=f"mine{unique}")


def test_own_account_urls_are_recognised_in_every_spelling() -> None:
    key = "a2V5" * 11
    storage = Storage(f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};"
                      "EndpointSuffix=core.windows.net")
    for url in ("https://acct.blob.core.windows.net/inputimages/b/a.png",
                "HTTP://ACCT.Blob.Core.Windows.Net./inputimages/b/a.png",
                "https://acct.blob.core.windows.net:443/inputimages/b/a.png"):
        assert storage.blob_path(url) == ("inputimages", "b/a.png"), url
    assert storage.blob_path("https://acct.blob.core.windows.net/%69nputimages/a%20b.png") == ("inputimages", "a b.png")
    for url in ("https://acct.blob.core.windows.net/", "https://acct.dfs.core.windows.net/faces/a.png",
                "https://acct-secondary.blob.core.windows.net/faces/a.png", "https://acct.queue.core.windows.net/q",
                "http://acct.blob.core.windows.net:443/faces/a.png"):
        assert storage.owns(url), url
    for url in ("https://other.blob.core.windows.net/inputimages/a.png",
                "https://acct.blob.core.windows.net.evil.example/inputimages/a.png",
                "https://images.example.com/acct.blob.core.windows.net/a.png"):
        assert not storage.owns(url) and storage.blob_path(url) is None, url


def test_scaled_copies_are_shared_and_small_images_are_their_own_copy() -> None:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (2000, 1000), (10, 200, 30)).save(buffer, format="PNG")
    image = decode_image(buffer.getvalue(), url="big.png")
    copy, scale = image.scaled(500)
    assert copy.size == (500, 250) and scale == 0.25
    assert image.scaled(500)[0] is copy  # one resize per size, shared by the models of a step
    assert image.scaled(4000) == (image.pil, 1.0)
    with pytest.raises(ValueError):
        image.scaled(0)
