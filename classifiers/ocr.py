"""ocr: the text in the job's image, in the shape of Azure Computer Vision's OCR API:
``ocr`` {language, textAngle, orientation, regions → lines → words, each with a "l,t,w,h"
boundingBox} and ``OCR_fullText`` (words joined by spaces, lines by newlines)."""

from __future__ import annotations

from typing import Any

from classifiers.backends import factory as backends
from classifiers.backends.protocols import TextReader
from classifiers.outputs import OcrOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "OcrClassifier", "build"]

NAME = "ocr"


class OcrClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, reader: TextReader) -> None:
        self._reader = reader

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        return {**self._reader.read(image), "backend": self._reader.backend}


def build(services: Services) -> OcrClassifier:
    """RapidOCR's bundled PP-OCR models, or Computer Vision when VISION_ENDPOINT and VISION_API_KEY are set."""
    return OcrClassifier(reader=backends.text_reader(NAME, settings=services.settings, storage=services.storage,
                                                     models=services.models))


SPEC = ClassifierSpec(name=NAME, needs=(), service="vision", needs_image=OcrClassifier.needs_image,
                      output=OcrOutput, build=build)
