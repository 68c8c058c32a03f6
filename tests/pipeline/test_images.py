"""Image fetching and decoding against a loopback HTTP server and a real Azurite."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import PIL.Image
import pytest

from pipeline.errors import ImageFetchError, ImageTooLargeError, NotAnImageError
from pipeline.images import ImageFetcher, decode_image
from pipeline.services import Services
from pipeline.step import blob_image_reader


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


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
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
        status, body, headers = routes.get(self.path, (200, png(), {}))
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.path != "/declared-huge.png":
            self.wfile.write(body)

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


def fetcher(**overrides: object) -> ImageFetcher:
    options: dict[str, object] = {"max_bytes": 1_000_000, "max_pixels": 10_000_000, "timeout": 1.0}
    options.update(overrides)
    return ImageFetcher(**options)  # type: ignore[arg-type]


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
        ("/redirect-loop", ImageFetchError, "redirected too many times"),
    ],
)
def test_bad_images_give_clear_errors(server: str, path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        fetcher().fetch(f"{server}{path}")


def test_unreachable_hosts_and_other_schemes_are_refused() -> None:
    with pytest.raises(ImageFetchError, match="failed: ConnectionError"):
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


@pytest.mark.azurite
def test_private_blobs_of_our_account_are_read_with_its_credentials(services: Services, unique: str) -> None:
    url = services.storage.upload_blob(f"private{unique}", "x/a.png", png(), content_type="image/png")
    import requests

    assert requests.get(url, timeout=5).status_code in (403, 404)  # anonymous access is refused
    reader = fetcher(blob_reader=blob_image_reader(services.storage))
    assert reader.fetch(url).width == 40
    with pytest.raises(ImageFetchError, match="does not exist"):
        reader.fetch(url.replace("a.png", "b.png"))
    with pytest.raises(ImageTooLargeError):
        fetcher(max_bytes=10, blob_reader=blob_image_reader(services.storage)).fetch(url)
