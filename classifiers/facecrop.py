"""facecrop: crop the faces found by facedetection into PNG blobs in FACES_CONTAINER, named
``<batch id>/<job id>/face-NNN.png``; at most ``MAX_FACES_PER_IMAGE`` of them (``faces_capped`` says when)."""

from __future__ import annotations

import io
from typing import Any

from classifiers.face_limits import cap
from classifiers.outputs import FaceCropOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import ClassifierError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.linked import job_prefix
from pipeline.services import Services
from pipeline.storage import Storage

__all__ = ["NAME", "SPEC", "FaceCropClassifier", "build"]

NAME = "facecrop"


class FaceCropClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, storage: Storage, container: str, max_faces: int = 100) -> None:
        self._storage = storage
        self._container = container
        self._max_faces = max_faces

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        detection = job.job_output.get("facedetection")
        if not isinstance(detection, dict) or not isinstance(detection.get("faces"), list):
            raise MissingDependencyError(NAME, "facedetection")
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        faces, capped = cap(detection["faces"], self._max_faces)
        boxes = [_box(face, index, image) for index, face in enumerate(faces)]  # all checked before any write
        prefix = job_prefix(job.batch_id, job.id)
        urls = []
        for index, box in enumerate(boxes):
            buffer = io.BytesIO()
            image.pil.crop(box).save(buffer, format="PNG")
            # Named by batch, job and position, so a redelivered job overwrites rather than adds.
            urls.append(self._storage.upload_blob(self._container, f"{prefix}face-{index:03d}.png",
                                                  buffer.getvalue(), content_type="image/png"))
        return {"facesUrls": urls, **capped}


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
    return FaceCropClassifier(storage=services.storage, container=services.settings.faces_container,
                              max_faces=services.settings.max_faces_per_image)


SPEC = ClassifierSpec(name=NAME, needs=("facedetection",), service=None, needs_image=FaceCropClassifier.needs_image,
                      output=FaceCropOutput, build=build)
