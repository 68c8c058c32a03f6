"""One Protocol per kind of backend. Local models and Azure clients both implement them and
return the output shapes of DESIGN.md, so nothing downstream knows which backend ran."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pipeline.images import Image
from pipeline.job import Job

__all__ = ["FaceDetector", "FaceMatcher", "FacePrinter", "ImageAnalyzer", "TextReader"]

Face = dict[str, Any]


class ImageAnalyzer(Protocol):
    """generalclassification: tags, categories, description, color, imageType, adult, metadata."""

    backend: str

    def analyze(self, image: Image) -> dict[str, Any]: ...


class TextReader(Protocol):
    """ocr: {"ocr": {language, textAngle, orientation, regions}, "OCR_fullText": str}."""

    backend: str

    def read(self, image: Image) -> dict[str, Any]: ...


class FaceDetector(Protocol):
    """facedetection: faces [{faceId, faceRectangle, faceLandmarks, confidence}]."""

    backend: str

    def detect(self, image: Image, job: Job) -> list[Face]: ...


class FacePrinter(Protocol):
    """faceprint: the detected faces, each with its ``print`` (128-d list or a service faceId)."""

    backend: str

    def prints(self, image: Image, faces: Sequence[Face], job: Job) -> list[Face]: ...


class FaceMatcher(Protocol):
    """facematch: matches of each new face against every stored face; then stores the new faces."""

    backend: str
    confidence_meaning: str
    """One sentence for the output: what a match's ``confidence`` is and where a match stops."""

    def match_and_store(self, job: Job, faces: Sequence[Face]) -> list[dict[str, Any]]: ...
