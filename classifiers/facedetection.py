"""facedetection: the faces in the job's image, with their rectangles and landmarks, in the shape
of the Azure Face API's detect response (``faces`` [{faceId, faceRectangle, faceLandmarks, confidence}]).
At most ``MAX_FACES_PER_IMAGE`` faces are kept (the most confident first); ``faces_capped`` says when."""

from __future__ import annotations

from typing import Any

from classifiers.backends import factory as backends
from classifiers.backends.protocols import FaceDetector
from classifiers.face_limits import cap
from classifiers.outputs import FaceDetectionOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "FaceDetectionClassifier", "build"]

NAME = "facedetection"


class FaceDetectionClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, detector: FaceDetector, max_faces: int = 100) -> None:
        self._detector = detector
        self._max_faces = max_faces

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        faces, capped = cap(self._detector.detect(image, job), self._max_faces)
        return {"faces": faces, "backend": self._detector.backend, **capped}


def build(services: Services) -> FaceDetectionClassifier:
    """YuNet checked by dlib's CNN (HOG without yuface), or the Face service with FACE_ENDPOINT and key."""
    detector = backends.face_detector(NAME, settings=services.settings, storage=services.storage,
                                      models=services.models)
    return FaceDetectionClassifier(detector=detector, max_faces=services.settings.max_faces_per_image)


SPEC = ClassifierSpec(name=NAME, needs=(), service="face", needs_image=FaceDetectionClassifier.needs_image,
                      output=FaceDetectionOutput, build=build)
