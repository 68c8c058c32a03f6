"""Is this file an image the pipeline takes? The one check of the dashboard's upload and `imaginem submit`.

Both refuse a file before anything is stored: one that is not an image (by its first bytes and a
full decode of its header), or over ``IMAGE_MAX_BYTES`` or ``IMAGE_MAX_PIXELS``.
"""

from __future__ import annotations

import io
import warnings

import PIL.Image

from pipeline.errors import InputImageError

__all__ = ["FORMATS", "check_image", "image_type"]

FORMATS = "JPEG, PNG, GIF, BMP, TIFF or WebP"

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def image_type(data: bytes) -> str | None:
    """The MIME type of an image the pipeline reads, from its first bytes; None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for signature, kind in _SIGNATURES if data.startswith(signature)), None)


def check_image(name: str, data: bytes, *, max_bytes: int, max_pixels: int) -> str:
    """The MIME type of an acceptable image, else InputImageError naming the file."""
    if len(data) > max_bytes:
        raise InputImageError(f"{name}: {len(data)} bytes is more than the limit of {max_bytes} (IMAGE_MAX_BYTES)",
                              too_large=True)
    kind = image_type(data)
    if kind is None:
        raise InputImageError(f"{name}: not an image ({FORMATS})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                image.verify()
    except Exception as e:  # any decoder complaint means we cannot take it
        raise InputImageError(f"{name}: not a readable image ({type(e).__name__})") from None
    if width * height > max_pixels:
        raise InputImageError(f"{name}: {width}x{height} pixels is more than the limit of {max_pixels} "
                              "(IMAGE_MAX_PIXELS)", too_large=True)
    return kind
