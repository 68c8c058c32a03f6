"""The output of each classifier, as a TypedDict: what ``job_output[<classifier>]`` holds.

Field names follow the Azure Computer Vision and Face REST responses (DESIGN.md), so an output
reads the same whichever backend made it. Readers (SQL labels, dashboard cards, the report) take
these types; an output from a message is still untrusted and read defensively.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "FaceCropOutput",
    "FaceDetectionOutput",
    "FaceMatchOutput",
    "FacePrintOutput",
    "FacesCapped",
    "GeneralClassificationOutput",
    "OcrOutput",
    "PipelineOutputOutput",
]


class FacesCapped(TypedDict):
    limit: int
    found: int


class GeneralClassificationOutput(TypedDict):
    tags: list[dict[str, Any]]
    """[{name, confidence}]"""
    categories: list[dict[str, Any]]
    """[{name, score}]"""
    description: dict[str, Any]
    """{tags, captions: [{text, confidence}]}"""
    color: dict[str, Any]
    imageType: dict[str, Any]
    adult: dict[str, Any]
    metadata: dict[str, Any]
    """{width, height, format}"""
    backend: str


class OcrOutput(TypedDict):
    ocr: dict[str, Any]
    """{language, textAngle, orientation, regions → lines → words with boundingBox}"""
    OCR_fullText: str
    backend: str


class FaceDetectionOutput(TypedDict):
    faces: list[dict[str, Any]]
    """[{faceId, faceRectangle {left, top, width, height}, faceLandmarks, confidence}]"""
    backend: str
    faces_capped: NotRequired[FacesCapped]


class FaceCropOutput(TypedDict):
    facesUrls: list[str]
    faces_capped: NotRequired[FacesCapped]


class FacePrintOutput(TypedDict):
    faces: list[dict[str, Any]]
    """[{faceId, faceRectangle, print: 128 numbers or a Face service faceId}]"""
    backend: str
    faces_capped: NotRequired[FacesCapped]


class FaceMatchOutput(TypedDict):
    matches: list[dict[str, Any]]
    """One per new face: {faceId, faceRectangle, matches: [{id, image_url, face_rectangle, confidence}]}"""
    confidence_meaning: str
    backend: str
    faces_capped: NotRequired[FacesCapped]


class PipelineOutputOutput(TypedDict):
    done: bool
    engine: str
    labels: int
    outcome: str
    failed_steps: NotRequired[list[str]]
