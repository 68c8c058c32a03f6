"""generalclassification: tags, categories, description, colour, image type, adult scores and
metadata of the job's image, in the shape of Azure Computer Vision analyze v3.2."""

from __future__ import annotations

from typing import Any

from classifiers.backends.protocols import FaceDetector, ImageAnalyzer
from classifiers.outputs import GeneralClassificationOutput
from classifiers.spec import ClassifierSpec
from pipeline.errors import ClassifierError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services

__all__ = ["NAME", "SPEC", "GeneralClassifier", "build", "make_local_analyzer"]

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


def make_local_analyzer(*, threads: int = 2, faces: FaceDetector | None = None) -> ImageAnalyzer:
    """EfficientNet-Lite0 (converted in memory) + open_nsfw + pixel statistics + the local face detector
    (facedetection's own backend class, run here again: steps know nothing of each other) + rapidocr's text
    detector at 256 px; every model gets ``threads`` (MODEL_THREADS); nothing is written."""
    from classifiers.backends.local.adult import AdultScorer
    from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model
    from classifiers.backends.local.imagenet_analyzer import LocalImageAnalyzer
    from classifiers.backends.local.imagenet_tagger import ImageNetTagger
    from classifiers.backends.local.people import PeopleFinder
    from classifiers.backends.local.text_presence import TextPresence

    if faces is None:
        from classifiers.backends.local.dlib_faces import DlibModels
        from classifiers.backends.local.yunet_faces import make_local_detector

        faces = make_local_detector(DlibModels(threads=threads))
    return LocalImageAnalyzer(
        tagger=ImageNetTagger(model=EfficientNetLite0Model(), threads=threads),
        adult=AdultScorer(threads=threads),
        people=PeopleFinder(faces=faces),
        text=TextPresence(threads=threads),
    )


def build(services: Services) -> GeneralClassifier:
    """The local models, or Computer Vision when VISION_ENDPOINT and VISION_API_KEY are set."""
    match services.settings.backend_for(NAME):
        case "azure":
            from classifiers.backends.azure import make_image_analyzer

            return GeneralClassifier(analyzer=make_image_analyzer(services))
        case "local":
            return GeneralClassifier(analyzer=make_local_analyzer(threads=services.settings.model_threads))


SPEC = ClassifierSpec(name=NAME, needs=(), service="vision", needs_image=GeneralClassifier.needs_image,
                      output=GeneralClassificationOutput, build=build)
