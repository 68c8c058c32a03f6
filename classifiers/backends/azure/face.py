"""Face v1.0 backends: detect (facedetection) and the service faceIds as face prints (faceprint).

Detection uses detection_03 with recognition_04 (the models that give landmarks, quality for
recognition and the best find-similar). The service reports no detection confidence, so the
faces carry none (``confidence`` is omitted, never invented). A faceId lives 24 hours
(``faceIdTimeToLive``), so a print is only good for a facematch within a day of faceprint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from azure.cognitiveservices.vision.face import FaceClient

from classifiers.backends.azure.calls import ServiceCaller
from classifiers.backends.azure.geometry import unscale_point, unscale_rect
from classifiers.backends.azure.sending import send_image
from classifiers.backends.azure.transfer import FACE_LIMITS, Transfer
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job

__all__ = ["DETECTION_MODEL", "FACE_ID_TTL", "RECOGNITION_MODEL", "AzureFaceDetector", "AzureFacePrinter",
           "FaceDetection", "iou"]

_log = logging.getLogger(__name__)

DETECTION_MODEL = "detection_03"
RECOGNITION_MODEL = "recognition_04"
FACE_ID_TTL = 86_400  # seconds, the service's maximum


def iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Intersection over union of two {left, top, width, height} rectangles."""
    left, top = max(a["left"], b["left"]), max(a["top"], b["top"])
    right = min(a["left"] + a["width"], b["left"] + b["width"])
    bottom = min(a["top"] + a["height"], b["top"] + b["height"])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


class FaceDetection:
    """One detect call with the project's models; faces in the original image's coordinates."""

    def __init__(self, *, client: FaceClient, caller: ServiceCaller, transfer: Transfer) -> None:
        self._client: Any = client  # the SDKs are untyped
        self._caller = caller
        self._transfer = transfer

    def __call__(self, image: Image) -> list[dict[str, Any]]:
        options: dict[str, Any] = {
            "return_face_id": True,
            "return_face_landmarks": True,
            "return_face_attributes": ["qualityForRecognition"],
            "recognition_model": RECOGNITION_MODEL,
            "return_recognition_model": True,
            "detection_model": DETECTION_MODEL,
            "face_id_time_to_live": FACE_ID_TTL,
            "raw": True,
        }
        answer, sent = send_image(
            caller=self._caller, what="detect", transfer=self._transfer,
            payload=self._transfer.payload(image, FACE_LIMITS), load=lambda: image, limits=FACE_LIMITS,
            by_url=lambda url: self._client.face.detect_with_url(url, **options),
            by_stream=lambda stream: self._client.face.detect_with_stream(stream, **options),
        )
        faces: list[dict[str, Any]] = answer.response.json()
        for face in faces:
            face["faceRectangle"] = unscale_rect(face["faceRectangle"], sent.scale)
            landmarks = face.get("faceLandmarks") or {}
            face["faceLandmarks"] = {name: unscale_point(p, sent.scale) for name, p in landmarks.items()}
        return faces


class AzureFaceDetector:
    """facedetection on the Face service: faces [{faceId, faceRectangle, faceLandmarks, ...}]."""

    backend = "azure"

    def __init__(self, *, detection: FaceDetection) -> None:
        self._detection = detection

    def detect(self, image: Image, job: Job) -> list[dict[str, Any]]:
        faces = self._detection(image)
        _log.info("facedetection %s: %s faces (azure)", job.id, len(faces))
        return faces


class AzureFacePrinter:
    """faceprint on the Face service: each face's print is a service faceId (valid for 24 hours).

    When facedetection ran on Azure too, its faceIds are the prints (no second call). Otherwise
    the image is detected again and each given face takes the faceId of the service's face that
    overlaps it most (IoU >= ``min_overlap``); a face the service does not find gets no print and
    is left out, with a warning.
    """

    backend = "azure"

    def __init__(self, *, detection: FaceDetection, min_overlap: float = 0.3) -> None:
        self._detection = detection
        self._min_overlap = min_overlap

    def prints(self, image: Image, faces: Sequence[Mapping[str, Any]], job: Job) -> list[dict[str, Any]]:
        if not faces:
            return []
        detected = job.job_output.get("facedetection")
        if isinstance(detected, Mapping) and detected.get("backend") == "azure" and all(
            isinstance(face.get("faceId"), str) and face.get("recognitionModel") == RECOGNITION_MODEL
            for face in faces
        ):
            return [{**face, "print": face["faceId"]} for face in faces]
        fresh = self._detection(image)
        printed = []
        for i, face in enumerate(faces):
            rect = face.get("faceRectangle")
            if not isinstance(rect, Mapping):
                raise ClassifierError(f"facedetection faces[{i}] has no faceRectangle")
            best = max(fresh, key=lambda f: iou(rect, f["faceRectangle"]), default=None)
            if best is None or iou(rect, best["faceRectangle"]) < self._min_overlap:
                _log.warning("faceprint %s: the Face service finds no face at %s; left out", job.id, dict(rect))
                continue
            printed.append({**face, "print": best["faceId"]})
        return printed
