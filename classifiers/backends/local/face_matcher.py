"""The local FaceMatcher: each new face against every stored face, then the new faces are stored.

Confidence from the Euclidean distance d between two prints: ``1 - d / (2 * threshold)``,
clipped to [0, 1]. Identical prints give 1.0 and a face exactly at the threshold gives 0.5,
so every match has a confidence of at least 0.5, as the Azure Face service's isIdentical.
The output says so in ``confidence_meaning``. The default threshold (0.5) comes from the measured
distances in docs/facematch.md: no two different people of bench/eval/faces.json are that close.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace, SearchHit
from classifiers.backends.local.face_index import PRINT_DIMENSIONS
from pipeline.errors import ClassifierError, ConfigurationError
from pipeline.job import Job

__all__ = ["DEFAULT_MAX_MATCHES", "LocalFaceMatcher", "confidence"]

DEFAULT_MAX_MATCHES = 20  # as the Face service's findsimilars maxNumOfCandidatesReturned

# RowKey forbids / \ # ? and control characters.
_BAD_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")

_log = logging.getLogger(__name__)


def confidence(distance: float, threshold: float) -> float:
    """1.0 for identical prints, 0.5 at the threshold, 0.0 at twice the threshold and beyond."""
    return round(min(1.0, max(0.0, 1.0 - distance / (2.0 * threshold))), 4)


class LocalFaceMatcher:
    """Matches face prints (128-d dlib embeddings) against a face index (table or postgresql)."""

    backend = "local"

    def __init__(self, *, index: FaceIndexBackend, threshold: float, max_matches: int = DEFAULT_MAX_MATCHES) -> None:
        if not threshold > 0:
            raise ConfigurationError(f"face match threshold {threshold!r} must be positive")
        if max_matches < 1:
            raise ConfigurationError(f"max_matches {max_matches!r} must be at least 1")
        self._index = index
        self._threshold = threshold
        self._max_matches = max_matches
        self.confidence_meaning = (
            f"1 - d / (2 × {threshold:g}) for the distance d between two face prints: 1.0 for the same print, "
            f"0.5 at the threshold {threshold:g}, the farthest a match can be; each stored face is compared, "
            "so a person seen in several photos matches if any one of them is near")

    def match_and_store(self, job: Job, faces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per new face: {faceId, faceRectangle, person_id, matches: [{id, image_url, face_rectangle, confidence}]}.

        The faces are stored atomically with the search, each with its person (as at match time)."""
        parsed = [_parse_face(face, i) for i, face in enumerate(faces)]
        if not parsed:
            return []
        if len({face.face_id for face in parsed}) != len(parsed):
            raise ClassifierError("faceprint gave two faces the same faceId")
        matched = self._index.add_and_search(JobKey(batch_id=job.batch_id, job_id=job.id, image_url=job.image_url),
                                             parsed, threshold=self._threshold, limit=self._max_matches)
        _log.info("facematch %s: %s faces, %s matches", job.id, len(parsed), sum(len(m.hits) for m in matched))
        return [
            {"faceId": face.face_id, "faceRectangle": _rectangle(face.face_rectangle), "person_id": m.person_id,
             "matches": [self._match(hit) for hit in m.hits]}
            for face, m in zip(parsed, matched, strict=True)
        ]

    def _match(self, hit: SearchHit) -> dict[str, Any]:
        return {
            "id": hit.face.face_id,
            "image_url": hit.face.image_url,
            "face_rectangle": _rectangle(hit.face.face_rectangle),
            "confidence": confidence(hit.distance, self._threshold),
        }


def _rectangle(rect: tuple[int, int, int, int]) -> dict[str, int]:
    left, top, width, height = rect
    return {"left": left, "top": top, "width": width, "height": height}


def _parse_face(face: Any, i: int) -> NewFace:
    where = f"faceprint faces[{i}]"
    if not isinstance(face, Mapping):
        raise ClassifierError(f"{where} is not an object")
    face_id = face.get("faceId")
    if not isinstance(face_id, str) or not face_id.strip() or len(face_id) > 255 or _BAD_KEY.search(face_id):
        raise ClassifierError(f"{where}.faceId {face_id!r} is not a usable face id")
    rect = face.get("faceRectangle")
    try:
        box = (int(rect["left"]), int(rect["top"]), int(rect["width"]), int(rect["height"]))  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise ClassifierError(f"{where}.faceRectangle must have left, top, width and height") from None
    vector = face.get("print")
    if isinstance(vector, str):
        raise ClassifierError(
            f"{where}.print is a Face service faceId, not an embedding: faceprint ran on the azure "
            "backend and facematch on local; set FACEPRINT_BACKEND and FACEMATCH_BACKEND alike"
        )
    if (not isinstance(vector, list) or len(vector) != PRINT_DIMENSIONS
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in vector)):
        raise ClassifierError(f"{where}.print must be {PRINT_DIMENSIONS} finite numbers")
    return NewFace(face_id=face_id, face_rectangle=box, print=np.asarray(vector, dtype=np.float32))
