"""Fetch a job's image safely and decode it once per step.

Sources: http(s) URLs; blob URLs of the configured storage account, read with its
credentials (containers stay private); local paths only when the settings allow them.
Limits: bytes on the wire, decoded pixels (decompression bombs), and a timeout.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np
import PIL.Image
import PIL.ImageOps
import requests

from pipeline.errors import ImageFetchError, ImageTooLargeError, NotAnImageError

__all__ = ["Image", "ImageFetcher", "decode_image"]

_log = logging.getLogger(__name__)

_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5


def _refuse_link_local(url: str) -> None:
    """Cloud metadata endpoints (169.254.169.254 and the like) are never an image source."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return  # requests reports the unknown host itself
    for address in addresses:
        if ipaddress.ip_address(address.split("%")[0]).is_link_local:
            raise ImageFetchError(f"image_url {url!r} points at a link-local address ({address}): refused")

BlobReader = Callable[[str, int], bytes | None]
"""Reads a blob URL of our own account (at most n bytes), or returns None for other URLs."""


class Image:
    """A decoded image: the original bytes, its format and size, and an RGB array on demand."""

    def __init__(self, *, url: str, data: bytes, pil: PIL.Image.Image, format: str) -> None:
        self.url = url
        self.data = data
        self.pil = pil
        self.format = format

    @property
    def width(self) -> int:
        return self.pil.width

    @property
    def height(self) -> int:
        return self.pil.height

    @cached_property
    def rgb(self) -> np.ndarray:
        """H×W×3 uint8 array."""
        return np.asarray(self.pil, dtype=np.uint8)

    def __repr__(self) -> str:
        return f"Image({self.url!r}, {self.format} {self.width}x{self.height}, {len(self.data)} bytes)"


def decode_image(data: bytes, *, url: str = "", max_pixels: int = 50_000_000) -> Image:
    """Decode bytes into an RGB ``Image``; the pixel limit is checked before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            pil = PIL.Image.open(io.BytesIO(data), formats=_FORMATS)
            fmt = pil.format or "unknown"
            width, height = pil.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"image is {width}x{height} = {width * height} pixels; the limit is "
                    f"{max_pixels} (IMAGE_MAX_PIXELS)"
                )
            pil.load()
            upright: PIL.Image.Image = PIL.ImageOps.exif_transpose(pil) or pil
            rgb = upright.convert("RGB")
    except ImageTooLargeError:
        raise
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as e:
        raise ImageTooLargeError(f"image refused as a decompression bomb: {e}") from None
    except PIL.UnidentifiedImageError:
        raise NotAnImageError(
            f"{url or 'the data'} is not an image ({len(data)} bytes; supported: {', '.join(_FORMATS)})"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise NotAnImageError(f"{url or 'the image'} is corrupt or truncated: {e}") from None
    return Image(url=url, data=data, pil=rgb, format=fmt)


class ImageFetcher:
    """Reads image URLs within limits. Give it a ``blob_reader`` for the pipeline's own account."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_pixels: int,
        timeout: float,
        allow_local_paths: bool = False,
        blob_reader: BlobReader | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels
        self._timeout = timeout
        self._allow_local = allow_local_paths
        self._blob_reader = blob_reader
        self._session = session or requests.Session()

    def fetch(self, url: str) -> Image:
        return decode_image(self.read(url), url=url, max_pixels=self._max_pixels)

    def read(self, url: str) -> bytes:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            if self._blob_reader is not None:
                data = self._blob_reader(url, self._max_bytes)
                if data is not None:
                    return data
            return self._read_http(url)
        if scheme == "file" or scheme == "" or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
            return self._read_local(unquote(urlsplit(url).path) if scheme == "file" else url)
        raise ImageFetchError(f"image_url {url!r}: scheme {scheme!r} is not supported (use http or https)")

    def _body(self, url: str, response: requests.Response) -> bytes:
        if response.status_code != 200:
            raise ImageFetchError(f"GET {url} answered {response.status_code} {response.reason}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise ImageTooLargeError(f"{url} is {declared} bytes; the limit is {self._max_bytes} (IMAGE_MAX_BYTES)")
        buffer = bytearray()
        for chunk in response.iter_content(_CHUNK):
            buffer += chunk
            if len(buffer) > self._max_bytes:
                raise ImageTooLargeError(f"{url} sent more than {self._max_bytes} bytes (IMAGE_MAX_BYTES)")
        return bytes(buffer)

    def _read_local(self, path: str) -> bytes:
        if not self._allow_local:
            raise ImageFetchError(
                f"image_url {path!r} is a local path; local paths are read only when "
                "IMAGE_ALLOW_LOCAL_PATHS=true (use `imaginem submit`, which uploads them)"
            )
        file = Path(path)
        try:
            size = file.stat().st_size
            if size > self._max_bytes:
                raise ImageTooLargeError(f"{path} is {size} bytes; the limit is {self._max_bytes} (IMAGE_MAX_BYTES)")
            return file.read_bytes()
        except OSError as e:
            raise ImageFetchError(f"cannot read {path}: {e.strerror or e}") from None

    def _read_http(self, url: str) -> bytes:
        requested = url
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                _refuse_link_local(url)
                with self._session.get(url, stream=True, timeout=self._timeout, allow_redirects=False) as response:
                    if response.is_redirect:  # followed by hand, so every hop is checked
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return self._body(url, response)
            raise ImageFetchError(f"GET {requested} redirected too many times")
        except requests.Timeout:
            raise ImageFetchError(f"GET {url} timed out after {self._timeout:g} s") from None
        except requests.RequestException as e:
            raise ImageFetchError(f"GET {url} failed: {type(e).__name__}: {e}") from None
