"""The local models of one worker process, each built once and shared by every classifier that uses it.

``ModelCache`` is built once per worker (by the composition root, ``pipeline.services``) and passed to
the backend factory. Each entry is keyed by what the model is, built at its first request (thread-safe:
the host runs several messages at once) and loads its weights lazily, once, at its first image:

    face networks   dlib's HOG detector, its CNN check, the 5-point landmarks and the ResNet face print
    face detector   YuNet checked by that CNN (facedetection and generalclassification's people finder)
    face printer    the ResNet face print on those landmarks (faceprint)
    ocr             RapidOCR's PP-OCR detection and recognition (ocr)
    tags            EfficientNet-Lite0 over ImageNet (generalclassification)
    adult           open_nsfw (generalclassification)
    text presence   PP-OCR's detector at 256 px (generalclassification)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from classifiers.backends.local.adult import AdultScorer
    from classifiers.backends.local.dlib_faces import DlibFaceDetector, DlibFacePrinter, DlibModels
    from classifiers.backends.local.imagenet_tagger import ImageNetTagger
    from classifiers.backends.local.rapid_ocr import RapidTextReader
    from classifiers.backends.local.text_presence import TextPresence
    from classifiers.backends.local.yunet_faces import YuNetFaceDetector

__all__ = ["Model", "ModelCache"]

_T = TypeVar("_T")


class Model(StrEnum):
    """What a cached model is: the key of its entry."""

    FACE_NETWORKS = "face networks"
    FACE_DETECTOR = "face detector"
    FACE_PRINTER = "face printer"
    OCR = "ocr"
    TAGS = "tags"
    ADULT = "adult"
    TEXT_PRESENCE = "text presence"


class ModelCache:
    """Every local model of this worker, one of each, its sessions limited to ``threads`` (MODEL_THREADS)."""

    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads
        self._models: dict[Model, Any] = {}
        self._lock = threading.RLock()  # an entry's build may ask for another (the detector needs the networks)

    def _get(self, model: Model, build: Callable[[], _T]) -> _T:
        with self._lock:
            if model not in self._models:
                self._models[model] = build()
            return cast(_T, self._models[model])

    def loaded(self) -> tuple[Model, ...]:
        """The entries built so far, in the order they were first asked for."""
        with self._lock:
            return tuple(self._models)

    @property
    def face_networks(self) -> DlibModels:
        from classifiers.backends.local.dlib_faces import DlibModels

        return self._get(Model.FACE_NETWORKS, lambda: DlibModels(threads=self._threads))

    @property
    def face_detector(self) -> YuNetFaceDetector | DlibFaceDetector:
        from classifiers.backends.local.yunet_faces import make_local_detector

        return self._get(Model.FACE_DETECTOR, lambda: make_local_detector(self.face_networks))

    @property
    def face_printer(self) -> DlibFacePrinter:
        from classifiers.backends.local.dlib_faces import DlibFacePrinter

        return self._get(Model.FACE_PRINTER, lambda: DlibFacePrinter(models=self.face_networks))

    @property
    def ocr(self) -> RapidTextReader:
        from classifiers.backends.local.rapid_ocr import RapidTextReader

        return self._get(Model.OCR, lambda: RapidTextReader(threads=self._threads))

    @property
    def tags(self) -> ImageNetTagger:
        from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model
        from classifiers.backends.local.imagenet_tagger import ImageNetTagger

        return self._get(Model.TAGS, lambda: ImageNetTagger(model=EfficientNetLite0Model(), threads=self._threads))

    @property
    def adult(self) -> AdultScorer:
        from classifiers.backends.local.adult import AdultScorer

        return self._get(Model.ADULT, lambda: AdultScorer(threads=self._threads))

    @property
    def text_presence(self) -> TextPresence:
        from classifiers.backends.local.text_presence import TextPresence

        return self._get(Model.TEXT_PRESENCE, lambda: TextPresence(threads=self._threads))
