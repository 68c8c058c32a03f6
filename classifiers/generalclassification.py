"""generalclassification: tags, categories, description, colour, image type, adult scores and
metadata of the job's image, in the shape of Azure Computer Vision analyze v3.2."""

from __future__ import annotations

from typing import Any

from classifiers.backends.protocols import ImageAnalyzer
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "GeneralClassifier", "build", "make_local_analyzer"]

NAME = "generalclassification"


class GeneralClassifier:
    name = NAME
    needs_image = True

    def __init__(self, *, analyzer: ImageAnalyzer) -> None:
        self._analyzer = analyzer

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        if image is None:
            raise ClassifierError(f"{NAME} needs the job's image")
        return {**self._analyzer.analyze(image), "backend": self._analyzer.backend}


def make_local_analyzer(*, threads: int = 2) -> ImageAnalyzer:
    """EfficientNet-Lite0 (converted in memory) + open_nsfw + pixel statistics; nothing is written."""
    from classifiers.backends.local.adult import AdultScorer
    from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model
    from classifiers.backends.local.imagenet_analyzer import LocalImageAnalyzer
    from classifiers.backends.local.imagenet_tagger import ImageNetTagger

    return LocalImageAnalyzer(
        tagger=ImageNetTagger(model=EfficientNetLite0Model(), threads=threads),
        adult=AdultScorer(threads=threads),
    )


def build(services: Services) -> GeneralClassifier:
    """The local models, or Computer Vision when VISION_ENDPOINT and VISION_API_KEY are set."""
    match services.settings.backend_for(NAME):
        case "azure":
            from classifiers.backends.azure import make_image_analyzer

            return GeneralClassifier(analyzer=make_image_analyzer(services))
        case "local":
            return GeneralClassifier(analyzer=make_local_analyzer())
