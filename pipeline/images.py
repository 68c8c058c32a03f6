"""Fetch a job's image safely and decode it once per step.

Sources: http(s) URLs that lead only to addresses ``pipeline.netguard`` allows (checked at every
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
import time
import warnings
from collections.abc import Collection
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np
import PIL.Image
import PIL.ImageOps
from azure.core.exceptions import ResourceNotFoundError

from pipeline.errors import ImageFetchError, ImageTooLargeError, NotAnImageError
from pipeline.netguard import AddressPolicy, Connector, PinnedResponse, connect_tcp, default_tls, get_pinned
from pipeline.untrusted import one_line

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = ["Image", "ImageFetcher", "OwnBlobs", "decode_image"]

_log = logging.getLogger(__name__)

_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
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


class Image:
    """A decoded image: the original bytes, its format and size, an RGB array and smaller copies on demand."""

    def __init__(self, *, url: str, data: bytes, pil: PIL.Image.Image, format: str) -> None:
        self.url = url
        self.data = data
        self.pil = pil
        self.format = format
        self._copies: dict[int, tuple[PIL.Image.Image, float]] = {}

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

    def scaled(self, max_side: int) -> tuple[PIL.Image.Image, float]:
        """A copy whose long side is at most ``max_side`` and its scale (copy pixels per image pixel).

        The image itself (scale 1.0) when it is that small already. Copies are kept: the models of
        one step that ask for the same size share one resize. Boxes found in a copy are divided by
        the scale to give the image's own coordinates.
        """
        if max_side <= 0:
            raise ValueError(f"max_side must be positive, not {max_side}")
        scale = min(1.0, max_side / max(self.width, self.height))
        if scale >= 1.0:
            return self.pil, 1.0
        if max_side not in self._copies:
            size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
            self._copies[max_side] = (self.pil.resize(size, PIL.Image.Resampling.BILINEAR, reducing_gap=2.0), scale)
        return self._copies[max_side]

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
        """The decoded image; with ``batch_id``, a blob in a batch folder must be in that batch's."""
        return decode_image(self.read(url, batch_id=batch_id), url=url, max_pixels=self._max_pixels)

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
