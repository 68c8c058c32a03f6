"""facematch on the Face service: faceprint's service faceIds through the ``azure`` face index.

The index (``classifiers.backends.azure.face_index``) adds a job's faces to the face lists, then finds each
one's similar faces of other jobs; this matcher checks faceprint's faces and shapes the output the Face
service way: {faceId, faceRectangle, matches: [{id (persistedFaceId), image_url, face_rectangle,
confidence}]}, without ``person_id`` (the Face service backend keeps no persons).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from classifiers.backends.azure.face_index import FACE_LIST_CAPACITY
from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace, SearchHit
from pipeline.errors import ClassifierError
from pipeline.job import Job

__all__ = ["FACE_LIST_CAPACITY", "AzureFaceMatcher"]

_log = logging.getLogger(__name__)


def _rect(face: Mapping[str, Any], where: str) -> tuple[int, int, int, int]:
    rect = face.get("faceRectangle")
    try:
        return tuple(int(rect[k]) for k in ("left", "top", "width", "height"))  # type: ignore[index,return-value]
    except (KeyError, TypeError, ValueError):
        raise ClassifierError(f"{where}.faceRectangle must have left, top, width and height") from None


class AzureFaceMatcher:
    """Matches faceprint's service faceIds against every face added before (the face index adds them first)."""

    backend = "azure"
    confidence_meaning = "the Face service's findsimilars confidence (matchPerson mode), 0 to 1"

    def __init__(self, *, index: FaceIndexBackend, max_matches: int = 20) -> None:
        self._index = index
        self._max_matches = max_matches

    def match_and_store(self, job: Job, faces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per new face: {faceId, faceRectangle, matches: [{id, image_url, face_rectangle, confidence}]}."""
        parsed = []
        for i, face in enumerate(faces):
            query = face.get("print")
            if not isinstance(query, str) or not query:
                raise ClassifierError(
                    f"faceprint faces[{i}].print is not a Face service faceId: faceprint ran on the local "
                    "backend and facematch on azure; set FACEPRINT_BACKEND and FACEMATCH_BACKEND alike"
                )
            parsed.append(NewFace(face_id=str(face.get("faceId") or query), service_id=query,
                                  face_rectangle=_rect(face, f"faceprint faces[{i}]"),
                                  print=np.zeros(0, dtype=np.float32)))
        if not parsed:
            return []
        matched = self._index.add_and_search(JobKey(batch_id=job.batch_id, job_id=job.id, image_url=job.image_url),
                                             parsed, threshold=0.5, limit=self._max_matches)
        results = [{"faceId": face.face_id, "faceRectangle": _rect_dict(face.face_rectangle),
                    "matches": [_match(hit) for hit in m.hits]} for face, m in zip(parsed, matched, strict=True)]
        _log.info("facematch %s: %s faces, %s matches (azure)", job.id, len(results),
                  sum(len(r["matches"]) for r in results))
        return results


def _rect_dict(rect: tuple[int, int, int, int]) -> dict[str, int]:
    return dict(zip(("left", "top", "width", "height"), rect, strict=True))


def _match(hit: SearchHit) -> dict[str, Any]:
    return {"id": hit.face.face_id, "image_url": hit.face.image_url,
            "face_rectangle": _rect_dict(hit.face.face_rectangle),
            "confidence": hit.confidence if hit.confidence is not None else round(1.0 - hit.distance, 4)}
