"""facecrop: crop the faces found by facedetection into PNG blobs in FACES_CONTAINER."""

from __future__ import annotations

import io
from typing import Any

from pipeline.errors import ClassifierError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services
from pipeline.storage import Storage

__all__ = ["NAME", "FaceCropClassifier", "build"]

NAME = "facecrop"


class FaceCropClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, storage: Storage, container: str) -> None:
        self._storage = storage
        self._container = container

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        detection = job.job_output.get("facedetection")
        if not isinstance(detection, dict) or not isinstance(detection.get("faces"), list):
            raise MissingDependencyError(NAME, "facedetection")
        assert image is not None
        urls = []
        for index, face in enumerate(detection["faces"]):
            box = _box(face, index, image)
            buffer = io.BytesIO()
            image.pil.crop(box).save(buffer, format="PNG")
            # Named by job and position, so a redelivered job overwrites rather than adds.
            urls.append(self._storage.upload_blob(self._container, f"{job.id}/face-{index:03d}.png",
                                                  buffer.getvalue(), content_type="image/png"))
        return {"facesUrls": urls}


def _box(face: Any, index: int, image: Image) -> tuple[int, int, int, int]:
    try:
        rect = face["faceRectangle"]
        left, top = int(rect["left"]), int(rect["top"])
        right, bottom = left + int(rect["width"]), top + int(rect["height"])
    except (KeyError, TypeError, ValueError):
        raise ClassifierError(f"facedetection face {index} has no usable faceRectangle: {face!r:.200}") from None
    left, top = max(0, left), max(0, top)
    right, bottom = min(image.width, right), min(image.height, bottom)
    if right <= left or bottom <= top:
        raise ClassifierError(f"facedetection face {index} lies outside the {image.width}x{image.height} image")
    return left, top, right, bottom


def build(services: Services) -> FaceCropClassifier:
    return FaceCropClassifier(storage=services.storage, container=services.settings.faces_container)
