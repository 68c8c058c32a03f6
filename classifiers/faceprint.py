"""faceprint: a print of every face facedetection found, to match faces across jobs:
``faces`` [{faceId, faceRectangle, print}], the print a 128-d embedding (local) or a Face
service faceId (azure). No faces gives ``faces: []``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifiers.backends.protocols import FacePrinter
from pipeline.errors import ClassifierError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "FacePrintClassifier", "build"]

NAME = "faceprint"
_NEEDS = "facedetection"


class FacePrintClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, printer: FacePrinter) -> None:
        self._printer = printer

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        detected = job.job_output.get(_NEEDS)
        if not isinstance(detected, Mapping) or not isinstance(detected.get("faces"), list):
            raise MissingDependencyError(NAME, _NEEDS)
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        return {"faces": self._printer.prints(image, detected["faces"], job), "backend": self._printer.backend}


def build(services: Services) -> FacePrintClassifier:
    """dlib's ResNet descriptor, or Face service faceIds when FACE_ENDPOINT and FACE_API_KEY are set."""
    match services.settings.backend_for(NAME):
        case "azure":
            from classifiers.backends.azure import make_face_printer

            return FacePrintClassifier(printer=make_face_printer(services))
        case "local":
            from classifiers.backends.local.dlib_faces import DlibFacePrinter, DlibModels

            return FacePrintClassifier(printer=DlibFacePrinter(models=DlibModels()))
