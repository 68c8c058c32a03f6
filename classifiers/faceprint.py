"""faceprint: a print of every face facedetection found, to match faces across jobs:
``faces`` [{faceId, faceRectangle, print}], the print a 128-d embedding (local) or a Face
service faceId (azure). No faces gives ``faces: []``. At most ``MAX_FACES_PER_IMAGE`` faces, printed
``FACE_BATCH`` at a time; ``faces_capped`` says when the cap cut."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifiers.backends import factory as backends
from classifiers.backends.protocols import FacePrinter
from classifiers.face_limits import FACE_BATCH, batches, cap
from classifiers.outputs import FacePrintOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import ClassifierError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "FacePrintClassifier", "build"]

NAME = "faceprint"
_NEEDS = "facedetection"


class FacePrintClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, printer: FacePrinter, max_faces: int = 100) -> None:
        self._printer = printer
        self._max_faces = max_faces

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        detected = job.job_output.get(_NEEDS)
        if not isinstance(detected, Mapping) or not isinstance(detected.get("faces"), list):
            raise MissingDependencyError(NAME, _NEEDS)
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        faces, capped = cap(detected["faces"], self._max_faces)
        if len(faces) > FACE_BATCH:
            faces = _with_ids(faces, job)
        printed = [p for batch in batches(faces) for p in self._printer.prints(image, batch, job)]
        return {"faces": printed, "backend": self._printer.backend, **capped}


def _with_ids(faces: list[Any], job: Job) -> list[Any]:
    """Faces without a faceId get the one their position would give, as one batch would have named them."""
    from classifiers.backends.local.dlib_faces import face_id

    return [face if not isinstance(face, Mapping) or (isinstance(face.get("faceId"), str) and face["faceId"])
            else {**face, "faceId": face_id(job, i)} for i, face in enumerate(faces)]


def build(services: Services) -> FacePrintClassifier:
    """dlib's ResNet descriptor, or Face service faceIds when FACE_ENDPOINT and FACE_API_KEY are set."""
    printer = backends.face_printer(NAME, settings=services.settings, storage=services.storage,
                                    models=services.models)
    return FacePrintClassifier(printer=printer, max_faces=services.settings.max_faces_per_image)


SPEC = ClassifierSpec(name=NAME, needs=(_NEEDS,), service="face", needs_image=FacePrintClassifier.needs_image,
                      output=FacePrintOutput, build=build)
