"""facematch: every face printed by faceprint against every face seen before; then stores them.

Output::

    {"matches": [{"faceId": <new face>, "faceRectangle": {...},
                  "matches": [{"id", "image_url", "face_rectangle", "confidence"}, ...]}, ...],
     "confidence_meaning": "<what confidence is, in one sentence>", "backend": "local"}

One entry per new face, in faceprint's order; its matches nearest first (highest confidence).
A job never matches its own faces, so a redelivered job gives the same output. At most
``MAX_FACES_PER_IMAGE`` faces (``faces_capped`` says when), each print 128 numbers finite in float32
or a Face service faceId.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifiers.backends.face_index import make_face_index
from classifiers.backends.local.face_matcher import LocalFaceMatcher
from classifiers.backends.protocols import FaceMatcher
from classifiers.face_limits import cap, check_prints
from pipeline.errors import ConfigurationError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "FacematchClassifier", "build"]

NAME = "facematch"
_NEEDS = "faceprint"


class FacematchClassifier:
    name = NAME
    needs_image = False

    def __init__(self, *, matcher: FaceMatcher, max_faces: int = 100) -> None:
        self._matcher = matcher
        self._max_faces = max_faces

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        printed = job.job_output.get(_NEEDS)
        if not isinstance(printed, Mapping) or not isinstance(printed.get("faces"), list):
            raise MissingDependencyError(NAME, _NEEDS)
        faces, capped = cap(printed["faces"], self._max_faces)
        check_prints(faces, _NEEDS)
        return {"matches": self._matcher.match_and_store(job, faces),
                "confidence_meaning": self._matcher.confidence_meaning, "backend": self._matcher.backend, **capped}


def build(services: Services) -> FacematchClassifier:
    """The local matcher over the face index (PostgreSQL when FACE_INDEX_CONNECTION_STRING is set, else the
    ``persistedfaces`` table); the faces load at the first job."""
    match services.settings.backend_for(NAME):
        case "local":
            matcher = LocalFaceMatcher(index=make_face_index(services),
                                       threshold=services.settings.face_match_threshold)
            return FacematchClassifier(matcher=matcher, max_faces=services.settings.max_faces_per_image)
        case "azure":
            from classifiers.backends.azure import make_face_matcher

            return FacematchClassifier(matcher=make_face_matcher(services),
                                       max_faces=services.settings.max_faces_per_image)
        case other:
            raise ConfigurationError(f"facematch has no backend {other!r}")
