"""A face as a sharp, square JPEG for the People page, cut from the job's own image at the size asked.

facecrop's PNGs are the detector's tight boxes at the photo's pixel size (often 40-80 px, blurry when
shown at 200 px); a crop from the original with some margin, scaled once with Lanczos, looks like a
portrait. Only images in our own storage are read (the same rule as ``dashboard.images``); a face's
pixels never change, so crops are kept in a small in-memory cache and may be cached by the browser. The
route asks the index for the face before every answer, so a forgotten face is never served from the cache.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import PIL.Image

from classifiers.backends.face_index import IndexedFace
from pipeline.images import decode_image
from pipeline.storage import Storage

__all__ = ["CROP_SIZES", "FaceCrops"]

CROP_SIZES = (96, 160, 256, 384)
_MARGIN = 0.45  # of the face's side, on each side: forehead, chin and some hair, as photo apps show faces
_CACHE = 512


class FaceCrops:
    """Square face crops by face and size. Thread-safe."""

    def __init__(self, *, storage: Storage, max_bytes: int, max_pixels: int = 50_000_000) -> None:
        self._storage = storage
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def crop(self, face: IndexedFace, size: int) -> bytes | None:
        """The face as a JPEG of ``size`` px square (or smaller for a tiny image); None when its image is not
        in our storage. Raises ``ResourceNotFoundError`` for a deleted image, ``ValueError`` for a bad one."""
        key = (face.face_id, size)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = self._storage.read_blob_url(face.image_url, self._max_bytes)
        if data is None:
            return None
        picture = _square(decode_image(data, url=face.image_url, max_pixels=self._max_pixels).pil,
                          face.face_rectangle, size)
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=88, optimize=True)
        jpeg = buffer.getvalue()
        with self._lock:
            self._cache[key] = jpeg
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return jpeg


def _square(image: PIL.Image.Image, rectangle: tuple[int, int, int, int], size: int) -> PIL.Image.Image:
    left, top, width, height = rectangle
    side = max(width, height) * (1 + 2 * _MARGIN)
    centre_x, centre_y = left + width / 2, top + height / 2
    side = min(side, image.width, image.height) or 1
    x = min(max(0.0, centre_x - side / 2), image.width - side)
    y = min(max(0.0, centre_y - side / 2), image.height - side)
    box = (round(x), round(y), round(x + side), round(y + side))
    return image.crop(box).convert("RGB").resize((size, size), PIL.Image.Resampling.LANCZOS)
