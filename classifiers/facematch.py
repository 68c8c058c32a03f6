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

from classifiers.backends import factory as backends
from classifiers.backends.protocols import FaceMatcher
from classifiers.face_limits import cap, check_prints
from classifiers.outputs import FaceMatchOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "FacematchClassifier", "build"]

NAME = "facematch"
_NEEDS = "faceprint"


class FacematchClassifier:
    name = NAME
    needs_image = False

    def __init__(self, *, matcher: FaceMatcher, max_faces: int = 100) -> None:
        self._matcher = matcher
        self._max_faces = max_faces

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        printed = job.job_output.get(_NEEDS)
        if not isinstance(printed, Mapping) or not isinstance(printed.get("faces"), list):
            raise MissingDependencyError(NAME, _NEEDS)
        faces, capped = cap(printed["faces"], self._max_faces)
        check_prints(faces, _NEEDS)
        return {"matches": self._matcher.match_and_store(job, faces),
                "confidence_meaning": self._matcher.confidence_meaning, "backend": self._matcher.backend, **capped}


def build(services: Services) -> FacematchClassifier:
    """The local matcher over the worker's face index (PostgreSQL when FACE_INDEX_CONNECTION_STRING is set, else the
    ``persistedfaces`` table), or the Face service's lists."""
    matcher = backends.face_matcher(NAME, settings=services.settings, storage=services.storage,
                                    index=services.face_index)
    return FacematchClassifier(matcher=matcher, max_faces=services.settings.max_faces_per_image)


SPEC = ClassifierSpec(name=NAME, needs=(_NEEDS,), service="face", needs_image=FacematchClassifier.needs_image,
                      output=FaceMatchOutput, build=build)
