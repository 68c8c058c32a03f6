"""facematch: every face printed by faceprint against every face seen before; then stores them.

Output::

    {"matches": [{"faceId": <new face>, "faceRectangle": {...},
                  "matches": [{"id", "image_url", "face_rectangle", "confidence"}, ...]}, ...],
     "confidence_meaning": "<what confidence is, in one sentence>", "backend": "local"}

One entry per new face, in faceprint's order; its matches nearest first (highest confidence).
A job never matches its own faces, so a redelivered job gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifiers.backends.local.face_matcher import LocalFaceMatcher
from classifiers.backends.local.face_store import DEFAULT_TABLE, FaceStore
from classifiers.backends.protocols import FaceMatcher
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

    def __init__(self, *, matcher: FaceMatcher) -> None:
        self._matcher = matcher

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        printed = job.job_output.get(_NEEDS)
        if not isinstance(printed, Mapping) or not isinstance(printed.get("faces"), list):
            raise MissingDependencyError(NAME, _NEEDS)
        return {"matches": self._matcher.match_and_store(job, printed["faces"]),
                "confidence_meaning": self._matcher.confidence_meaning, "backend": self._matcher.backend}


def build(services: Services) -> FacematchClassifier:
    """The local matcher over the ``persistedfaces`` table; the faces load at the first job."""
    match services.settings.backend_for(NAME):
        case "local":
            store = FaceStore(table=services.storage.table(DEFAULT_TABLE))
            matcher = LocalFaceMatcher(store=store, threshold=services.settings.face_match_threshold)
            return FacematchClassifier(matcher=matcher)
        case "azure":
            from classifiers.backends.azure import make_face_matcher

            return FacematchClassifier(matcher=make_face_matcher(services))
        case other:
            raise ConfigurationError(f"facematch has no backend {other!r}")
