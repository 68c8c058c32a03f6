"""The decoded images of this worker process's recent jobs, so consecutive steps of a job decode once.

Keyed by (batch id, job id, image_url); bounded by the memory the images hold (their bytes, full
decodes and scaled copies, measured again each time a step hands one back): the least recently used
go first. An image larger than the whole bound is not kept. Safe for the host's threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from pipeline.images.image import Image

__all__ = ["DecodedImages", "ImageKey"]

ImageKey = tuple[str, str, str]
"""(batch id, job id, image_url)."""


class DecodedImages:
    """A bounded, least-recently-used map of decoded ``Image``s; ``max_bytes`` 0 keeps none."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[ImageKey, Image] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ImageKey) -> Image | None:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put(self, key: ImageKey, image: Image) -> None:
        """Keep ``image`` (or keep it again, now perhaps larger), dropping the oldest past the bound."""
        with self._lock:
            self._images[key] = image
            self._images.move_to_end(key)
            sizes = {k: v.decoded_bytes for k, v in self._images.items()}
            total = sum(sizes.values())
            while self._images and total > self.max_bytes:
                oldest, _ = self._images.popitem(last=False)
                total -= sizes[oldest]

    @property
    def nbytes(self) -> int:
        """What the kept images hold now."""
        with self._lock:
            return sum(image.decoded_bytes for image in self._images.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._images)
