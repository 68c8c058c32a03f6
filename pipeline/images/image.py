"""Fetch a job's image safely; check that it decodes and decode its pixels when first used.

Sources: http(s) URLs that lead only to addresses ``pipeline.images.netguard`` allows (checked at every
redirect, connected to as checked); blobs of the configured storage account, read with its
credentials and only from the input containers (``INPUT_CONTAINERS``); local paths only when the
settings allow them. Limits: bytes on the wire, decoded pixels (decompression bombs), and one
timeout for the whole download.
"""

from __future__ import annotations

import http.client
import io
import logging
import ssl
import threading
import time
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np
import PIL.Image
from azure.core.exceptions import ResourceNotFoundError
from PIL import ExifTags

from pipeline.errors import ImageFetchError, ImageTooLargeError, NotAnImageError
from pipeline.images.netguard import AddressPolicy, Connector, PinnedResponse, connect_tcp, default_tls, get_pinned
from pipeline.untrusted import one_line

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = ["Image", "ImageFetcher", "OwnBlobs", "decode_image"]

_log = logging.getLogger(__name__)

_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
_JPEG = frozenset({"JPEG", "MPO"})
"""Formats PIL can decode at a reduced DCT scale (``draft``)."""
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class OwnBlobs(Protocol):
    """The pipeline's storage account, as the fetcher sees it (``pipeline.storage.Storage`` is one)."""

    def owns(self, url: str) -> bool: ...

    def blob_path(self, url: str) -> tuple[str, str] | None: ...

    def read_blob_url(self, url: str, max_bytes: int) -> bytes | None: ...


def _show(url: str) -> str:
    """A URL as shown in errors and logs: on one line, a SAS signature hidden."""
    head, found, tail = url.partition("sig=")
    if found:
        _, amp, rest = tail.partition("&")
        url = f"{head}sig=…{amp}{rest}"
    return one_line(url)


_TRANSPOSE = {
    2: PIL.Image.Transpose.FLIP_LEFT_RIGHT,
    3: PIL.Image.Transpose.ROTATE_180,
    4: PIL.Image.Transpose.FLIP_TOP_BOTTOM,
    5: PIL.Image.Transpose.TRANSPOSE,
    6: PIL.Image.Transpose.ROTATE_270,
    7: PIL.Image.Transpose.TRANSVERSE,
    8: PIL.Image.Transpose.ROTATE_90,
}
"""EXIF orientation → the transpose that makes the image upright, as ``PIL.ImageOps.exif_transpose`` does."""
_SWAPS_SIDES = frozenset({5, 6, 7, 8})


@contextmanager
def _decoding(url: str, size: int) -> Iterator[None]:
    """PIL's errors while opening or decoding, as the pipeline's image errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            yield
    except ImageTooLargeError:
        raise
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as e:
        raise ImageTooLargeError(f"image refused as a decompression bomb: {e}") from None
    except PIL.UnidentifiedImageError:
        raise NotAnImageError(
            f"{url or 'the data'} is not an image ({size} bytes; supported: {', '.join(_FORMATS)})"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise NotAnImageError(f"{url or 'the image'} is corrupt or truncated: {e}") from None


def _upright_rgb(raw: PIL.Image.Image, orientation: int) -> PIL.Image.Image:
    """The decoded frame turned upright and in RGB, copying only when something changes."""
    method = _TRANSPOSE.get(orientation)
    upright = raw.transpose(method) if method is not None else raw
    return upright if upright.mode == "RGB" else upright.convert("RGB")


def _draft_factor(size: tuple[int, int], wanted: tuple[int, int]) -> int:
    """The DCT scale PIL's JPEG ``draft`` picks: the largest of 8, 4, 2, 1 that keeps ``wanted`` covered."""
    most = min(size[0] // wanted[0], size[1] // wanted[1])
    return next(factor for factor in (8, 4, 2, 1) if most >= factor or factor == 1)


def _pixel_bytes(image: PIL.Image.Image | None) -> int:
    """About what a decoded PIL image holds in memory (multi-band modes take 4 bytes a pixel)."""
    if image is None:
        return 0
    return image.width * image.height * (4 if len(image.getbands()) > 1 else 1)


class Image:
    """A job's image: the original bytes, its format and upright size; its pixels decoded on first use.

    ``decode_image`` has already checked that the bytes decode completely. ``pil``/``rgb`` decode the
    full resolution once; ``scaled`` makes smaller copies, from the full image when that is decoded and
    otherwise straight from the JPEG at a reduced DCT scale (much cheaper than a full decode). Width,
    height and every scale are those of the upright original. Safe to share between threads: each
    decode runs once, under the image's lock.
    """

    def __init__(self, *, url: str, data: bytes, format: str, size: tuple[int, int], orientation: int = 1,
                 decoded: PIL.Image.Image | None = None) -> None:
        """``decoded``: what the validating decode left (the full frame, or a reduced JPEG draft), not upright."""
        self.url = url
        self.data = data
        self.format = format
        self._size = size
        self._orientation = orientation
        self._decoded = decoded
        self._pil: PIL.Image.Image | None = None
        self._rgb: np.ndarray | None = None
        self._copies: dict[int, tuple[PIL.Image.Image, float]] = {}
        self._drafts: dict[int, PIL.Image.Image] = {}
        """Reduced JPEG decodes by DCT scale (not upright), beyond the validating one."""
        self._lock = threading.RLock()
        self.decode_ms = 0.0
        """Wall-clock ms spent so far decoding pixels on first use (full resolution and scaled copies)."""

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]

    @property
    def pil(self) -> PIL.Image.Image:
        """The upright RGB image at full resolution (decoded on first use)."""
        with self._lock:
            if self._pil is None:
                with self._timed():
                    raw = self._decoded
                    if raw is None or raw.size != self._raw_size():
                        raw = self._open()
                        with _decoding(self.url, len(self.data)):
                            raw.load()
                    self._pil = _upright_rgb(raw, self._orientation)
                self._drafts.clear()  # copies come from the full image now
                if self._decoded is not None and self._decoded.size == self._raw_size():
                    self._decoded = None  # the upright copy replaces the full frame
            return self._pil

    @property
    def rgb(self) -> np.ndarray:
        """H×W×3 uint8 array of ``pil``."""
        if self._rgb is None:
            pil = self.pil
            with self._lock:
                if self._rgb is None:
                    self._rgb = np.asarray(pil, dtype=np.uint8)
        return self._rgb

    def scaled(self, max_side: int) -> tuple[PIL.Image.Image, float]:
        """A copy whose long side is at most ``max_side`` and its scale (copy pixels per image pixel).

        The image itself (scale 1.0) when it is that small already. Copies are kept: the models (and,
        through the step runner's cache, the steps) that ask for the same size share one. A JPEG not
        yet decoded in full is decoded at the smallest DCT scale (1/8, 1/4, 1/2) at least that large;
        a full image is box-reduced by that same factor; either is then resized bilinearly.
        Boxes found in a copy are divided by the scale to give the image's own coordinates.
        """
        if max_side <= 0:
            raise ValueError(f"max_side must be positive, not {max_side}")
        scale = min(1.0, max_side / max(self.width, self.height))
        if scale >= 1.0:
            return self.pil, 1.0
        found = self._copies.get(max_side)
        if found is not None:
            return found
        with self._lock:
            if max_side not in self._copies:
                size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
                source = self._pil if self._pil is not None else self._draft(size)
                with self._timed():
                    if source is self._pil:
                        # Reduced by the factor a JPEG draft would use, then bilinear: a copy is the same
                        # whichever way it was made, and 12 MP to 960 px takes a third of reducing_gap=2.
                        factor = _draft_factor(source.size, size)
                        source = source.reduce(factor) if factor > 1 else source
                    copy = source.resize(size, PIL.Image.Resampling.BILINEAR)
                self._copies[max_side] = (copy, scale)
            return self._copies[max_side]

    @property
    def decoded_bytes(self) -> int:
        """About how much memory the image holds: its bytes and every decoded copy of its pixels."""
        arrays = self._rgb.nbytes if self._rgb is not None else 0
        return (len(self.data) + arrays + _pixel_bytes(self._decoded) + _pixel_bytes(self._pil)
                + sum(_pixel_bytes(draft) for draft in list(self._drafts.values()))
                + sum(_pixel_bytes(copy) for copy, _ in list(self._copies.values())))

    def _raw_size(self) -> tuple[int, int]:
        """The stored frame's size (the upright size with its sides swapped back when EXIF turns it)."""
        w, h = self._size
        return (h, w) if self._orientation in _SWAPS_SIDES else (w, h)

    def _open(self) -> PIL.Image.Image:
        with _decoding(self.url, len(self.data)):
            return PIL.Image.open(io.BytesIO(self.data), formats=_FORMATS)

    def _draft(self, size: tuple[int, int]) -> PIL.Image.Image:
        """An upright RGB image at least ``size`` large: a JPEG decoded at a reduced DCT scale, else ``pil``."""
        if self.format not in _JPEG:
            return self.pil
        w, h = size
        wanted = (h, w) if self._orientation in _SWAPS_SIDES else (w, h)
        factor = _draft_factor(self._raw_size(), wanted)
        kept = self._decoded
        if kept is None or kept.width < wanted[0] or kept.height < wanted[1]:
            kept = self._drafts.get(factor)
        with self._timed():
            if kept is None:
                kept = self._open()
                with _decoding(self.url, len(self.data)):
                    kept.draft(None, wanted)
                    kept.load()
                if factor > 1:  # kept for the next copy at this scale: 512 and 480 px of a 3 MP photo share one
                    self._drafts[factor] = kept
            return _upright_rgb(kept, self._orientation)

    @contextmanager
    def _timed(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.decode_ms += (time.perf_counter() - start) * 1000

    def __repr__(self) -> str:
        return f"Image({self.url!r}, {self.format} {self.width}x{self.height}, {len(self.data)} bytes)"


def decode_image(data: bytes, *, url: str = "", max_pixels: int = 50_000_000) -> Image:
    """Check bytes as an image and return it, its pixels to be decoded on first use.

    The format and the pixel limit are checked before any decoding; then the whole image is decoded
    once to prove it complete (a JPEG at 1/8 scale: every coefficient is still read, far fewer pixels
    are made), so a truncated or corrupt image raises ``NotAnImageError`` here, not in a classifier.
    """
    with _decoding(url, len(data)):
        raw = PIL.Image.open(io.BytesIO(data), formats=_FORMATS)
        fmt = raw.format or "unknown"
        width, height = raw.size
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"image is {width}x{height} = {width * height} pixels; the limit is "
                f"{max_pixels} (IMAGE_MAX_PIXELS)"
            )
        if fmt in _JPEG:
            raw.draft(None, (max(1, width // 8), max(1, height // 8)))
        raw.load()
        orientation = raw.getexif().get(ExifTags.Base.Orientation, 1)
    if not isinstance(orientation, int):
        orientation = 1
    size = (height, width) if orientation in _SWAPS_SIDES and orientation in _TRANSPOSE else (width, height)
    return Image(url=url, data=data, format=fmt, size=size, orientation=orientation, decoded=raw)


class ImageFetcher:
    """Reads image URLs within limits. Give it ``blobs`` (the storage account) to read its blobs."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_pixels: int,
        timeout: float,
        allow_local_paths: bool = False,
        blobs: OwnBlobs | None = None,
        input_containers: Collection[str] = ("inputimages",),
        addresses: AddressPolicy | None = None,
        connect: Connector = connect_tcp,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels
        self._timeout = timeout
        self._allow_local = allow_local_paths
        self._blobs = blobs
        self._input_containers = tuple(input_containers)
        self._addresses = addresses or AddressPolicy()
        self._connect = connect
        self._tls = tls

    @classmethod
    def from_settings(cls, settings: Settings, blobs: OwnBlobs) -> ImageFetcher:
        return cls(
            max_bytes=settings.image_max_bytes,
            max_pixels=settings.image_max_pixels,
            timeout=settings.image_fetch_timeout,
            allow_local_paths=settings.allow_local_paths,
            blobs=blobs,
            input_containers=settings.input_containers,
            addresses=AddressPolicy(allow=settings.image_fetch_allow),
        )

    def fetch(self, url: str, *, batch_id: str | None = None) -> Image:
        """The checked image; with ``batch_id``, a blob in a batch folder must be in that batch's."""
        return self.decode(self.read(url, batch_id=batch_id), url=url)

    def decode(self, data: bytes, *, url: str) -> Image:
        """``decode_image`` within this fetcher's pixel limit."""
        return decode_image(data, url=url, max_pixels=self._max_pixels)

    def is_outside(self, url: str) -> bool:
        """Whether ``url`` would be fetched over HTTP(S) from outside the pipeline's storage account."""
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            return False
        return self._blobs is None or not (self._blobs.owns(url) or self._blobs.blob_path(url) is not None)

    def read(self, url: str, *, batch_id: str | None = None) -> bytes:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            if self._blobs is not None:
                path = self._blobs.blob_path(url)
                if path is not None:
                    return self._read_blob(url, *path, batch_id=batch_id)
                if self._blobs.owns(url):
                    raise ImageFetchError(
                        f"image_url {_show(url)} is on the pipeline's storage account but is no blob of it; refused")
            return self._read_http(url)
        if scheme == "file" or scheme == "" or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
            return self._read_local(unquote(urlsplit(url).path) if scheme == "file" else url)
        raise ImageFetchError(
            f"image_url {_show(url)}: scheme {one_line(scheme)!r} is not supported (use http or https)")

    def _read_blob(self, url: str, container: str, name: str, *, batch_id: str | None) -> bytes:
        assert self._blobs is not None
        shown = _show(url)
        if container not in self._input_containers:
            raise ImageFetchError(
                f"image_url {shown} is a blob of container {one_line(container)!r}; images are read only from "
                f"{', '.join(self._input_containers)} (INPUT_CONTAINERS)")
        folders = name.split("/")
        if "\\" in name or any(part in ("", ".", "..") for part in folders):
            raise ImageFetchError(f"image_url {shown}: blob name {one_line(name)!r} has empty, . or .. parts; refused")
        if batch_id is not None and len(folders) > 1 and folders[0] != batch_id:
            raise ImageFetchError(
                f"image_url {shown} is in the folder of batch {one_line(folders[0])!r}, not of this job's batch "
                f"{one_line(batch_id)!r}: a job reads {container}/<its batch>/… or blobs outside any folder")
        try:
            data = self._blobs.read_blob_url(url, self._max_bytes)
        except ResourceNotFoundError:
            raise ImageFetchError(f"blob {shown} does not exist") from None
        except ValueError as e:
            raise ImageTooLargeError(f"{e} (IMAGE_MAX_BYTES)") from None
        if data is None:  # blob_path found it, so the reader must too
            raise ImageFetchError(f"blob {shown} could not be read")
        return data

    def _body(self, url: str, response: PinnedResponse) -> bytes:
        if response.status != 200:
            raise ImageFetchError(f"GET {_show(url)} answered {response.status} {one_line(response.reason, 80)}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise ImageTooLargeError(
                f"{_show(url)} is {declared} bytes; the limit is {self._max_bytes} (IMAGE_MAX_BYTES)")
        buffer = bytearray()
        while chunk := response.read(_CHUNK):
            buffer += chunk
            if len(buffer) > self._max_bytes:
                raise ImageTooLargeError(f"{_show(url)} sent more than {self._max_bytes} bytes (IMAGE_MAX_BYTES)")
        return bytes(buffer)

    def _read_local(self, path: str) -> bytes:
        if not self._allow_local:
            raise ImageFetchError(
                f"image_url {one_line(path)!r} is a local path; local paths are read only when "
                "IMAGE_ALLOW_LOCAL_PATHS=true (use `imaginem submit`, which uploads them)"
            )
        file = Path(path)
        try:
            size = file.stat().st_size
            if size > self._max_bytes:
                raise ImageTooLargeError(
                    f"{one_line(path)} is {size} bytes; the limit is {self._max_bytes} (IMAGE_MAX_BYTES)")
            return file.read_bytes()
        except OSError as e:
            raise ImageFetchError(f"cannot read {one_line(path)}: {e.strerror or e}") from None

    def _read_http(self, url: str) -> bytes:
        """GET with redirects followed by hand: each hop checked, resolved once and connected to as checked."""
        deadline = time.monotonic() + self._timeout  # one budget for the whole download, redirects included
        current = url
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                with self._get(url, current, deadline) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        following = urljoin(current, location)
                        _log.debug("GET %s redirected to %s", _show(current), _show(following))
                        current = following
                        continue
                    return self._body(current, response)
            raise ImageFetchError(f"GET {_show(url)} redirected too many times")
        except TimeoutError:
            raise ImageFetchError(f"GET {_show(current)} timed out after {self._timeout:g} s") from None
        except (OSError, http.client.HTTPException) as e:
            raise ImageFetchError(f"GET {_show(current)} failed: {type(e).__name__}: {one_line(e)}") from None

    def _get(self, url: str, current: str, deadline: float) -> PinnedResponse:
        parts = urlsplit(current)
        hop = "" if current == url else f" (redirected from {_show(url)})"
        if parts.scheme.lower() not in ("http", "https"):
            raise ImageFetchError(f"GET {_show(current)}{hop}: scheme {one_line(parts.scheme)!r} is not supported")
        if self._blobs is not None and self._blobs.owns(current):
            raise ImageFetchError(f"GET {_show(current)}{hop}: the pipeline's storage account is read only through "
                                  "its storage client, never over HTTP; refused")
        try:
            _ = parts.port
        except ValueError:
            raise ImageFetchError(f"image_url {_show(current)}{hop} has a bad port") from None
        if not parts.hostname:
            raise ImageFetchError(f"image_url {_show(current)}{hop} has no host")
        try:
            addresses = self._addresses.addresses(parts.hostname)
        except ImageFetchError as e:
            raise ImageFetchError(f"{e}{hop}") from None
        if parts.scheme.lower() == "https" and self._tls is None:
            self._tls = default_tls()
        _log.debug("GET %s from %s", _show(current), ", ".join(map(str, addresses)))
        return get_pinned(current, addresses, deadline=deadline, connect=self._connect, tls=self._tls)
