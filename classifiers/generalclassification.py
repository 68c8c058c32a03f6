"""generalclassification: tags, categories, description, colour, image type, adult scores and
metadata of the job's image, in the shape of Azure Computer Vision analyze v3.2."""

from __future__ import annotations

from typing import Any

from classifiers.backends import factory as backends
from classifiers.backends.protocols import ImageAnalyzer
from classifiers.outputs import GeneralClassificationOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "GeneralClassifier", "build"]

NAME = "generalclassification"


class GeneralClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, analyzer: ImageAnalyzer) -> None:
        self._analyzer = analyzer

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        return {**self._analyzer.analyze(image), "backend": self._analyzer.backend}


def build(services: Services) -> GeneralClassifier:
    """The local models, or Computer Vision when VISION_ENDPOINT and VISION_API_KEY are set."""
    return GeneralClassifier(analyzer=backends.image_analyzer(NAME, settings=services.settings,
                                                              storage=services.storage, models=services.models))


SPEC = ClassifierSpec(name=NAME, needs=(), service="vision", needs_image=GeneralClassifier.needs_image,
                      output=GeneralClassificationOutput, build=build)
