"""Whether people are in the picture, for generalclassification: the ``person``/``people`` tags and the
``people_`` categories of Computer Vision's taxonomy, from two kinds of evidence.

- faces: the local face detector (the facedetection backend's own class, passed in), whose
  confidence is that of its most confident face. A detector with ``sure_faces`` (YuNet) gives only
  the faces it is sure of, on a smaller copy, unchecked and without landmarks: a fifth of the cost
  of ``detect``, and on the evaluation set the same person tags (every face on its photos of
  people is sure; its negatives have no sure face). An unsure face is then not counted;
  the worn share still carries the photo;
- what people wear: the share of ImageNet's probability on people and on clothing, headgear and
  masks (the ``people_`` category of ``imagenet_categories.json``), which carries portraits whose
  face the detector misses. On the evaluation set (``bench/eval/text.json``) it is 0.23 to 0.96 on
  photos of people and at most 0.06 on the others (a crash helmet beside a motorcycle), hence
  ``MIN_WORN`` 0.2.

The confidence is the larger of the two. A garment photographed on its own would pass as a
person: ImageNet cannot tell a suit worn from a suit on a hanger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from classifiers.backends.protocols import FaceDetector
from pipeline.images import Image
from pipeline.job import Job, parse_job

__all__ = ["MIN_WORN", "People", "PeopleFinder", "SureFaces", "people_categories", "people_tags"]

MIN_WORN = 0.2
PORTRAIT_FACE_WIDTH = 0.2
"""One face at least this fraction of the image's width makes a portrait (``people_portrait``)."""
GROUP = 2
MANY = 6


@dataclass(frozen=True)
class People:
    """``count`` is the number of faces found (0 when only clothing says so); ``confidence`` 0 means nobody."""

    count: int
    confidence: float
    faces: Sequence[dict[str, Any]] = field(default_factory=tuple)

    @property
    def present(self) -> bool:
        return self.confidence > 0


def _placeholder_job(image: Image) -> Job:
    # The detector names faces after the job; generalclassification shows no face ids.
    return parse_job({"job_definition": {"id": "generalclassification-people", "input": {"image_url": image.url},
                                         "processing_pipeline": ["generalclassification"]}})


@runtime_checkable
class SureFaces(Protocol):
    """A detector's cheap pass: the faces it is sure of, each with faceRectangle and confidence."""

    def sure_faces(self, image: Image) -> list[dict[str, Any]]: ...


class PeopleFinder:
    def __init__(self, *, faces: FaceDetector | SureFaces, min_worn: float = MIN_WORN) -> None:
        self._faces = faces
        self._min_worn = min_worn

    def find(self, image: Image, worn: float) -> People:
        """``worn``: the ImageNet probability share of people and what they wear."""
        if isinstance(self._faces, SureFaces):
            faces = self._faces.sure_faces(image)
        else:
            faces = self._faces.detect(image, _placeholder_job(image))
        face_confidence = max((float(f.get("confidence", 0.0)) for f in faces), default=0.0)
        worn_confidence = worn if worn >= self._min_worn else 0.0
        return People(count=len(faces), confidence=round(min(1.0, max(face_confidence, worn_confidence)), 4),
                      faces=tuple(faces))


def people_tags(people: People) -> list[dict[str, Any]]:
    """Computer Vision's tags for people: person, human face, and people/group for several faces."""
    if not people.present:
        return []
    tags = [{"name": "person", "confidence": people.confidence}]
    if people.count:
        tags.append({"name": "human face", "confidence": people.confidence})
    if people.count >= GROUP:
        tags += [{"name": "people", "confidence": people.confidence},
                 {"name": "group", "confidence": people.confidence}]
    return tags


def people_categories(people: People, width: int) -> list[dict[str, Any]]:
    """The finest ``people_`` category that the faces support."""
    if not people.present:
        return []
    if people.count >= MANY:
        name = "people_many"
    elif people.count >= GROUP:
        name = "people_group"
    elif people.count == 1 and people.faces[0]["faceRectangle"]["width"] >= PORTRAIT_FACE_WIDTH * width:
        name = "people_portrait"
    else:
        name = "people_"
    return [{"name": name, "score": people.confidence}]
