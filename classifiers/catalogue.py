"""The classifiers this app serves: one spec per classifier module, in the default pipeline's order.

Adding a classifier: write its module with a ``SPEC``, add the spec here (and its needs to
``dependencies.json``). ``function_app.py`` registers every spec of this list in a loop.
"""

from __future__ import annotations

from classifiers import facecrop, facedetection, facematch, faceprint, generalclassification, ocr, pipelineoutput
from classifiers.spec import ClassifierSpec

__all__ = ["CATALOGUE", "spec"]

CATALOGUE: tuple[ClassifierSpec, ...] = (
    generalclassification.SPEC,
    ocr.SPEC,
    facedetection.SPEC,
    facecrop.SPEC,
    faceprint.SPEC,
    facematch.SPEC,
    pipelineoutput.SPEC,
)


def spec(name: str) -> ClassifierSpec:
    """The spec of the classifier ``name``; ``KeyError`` naming the known ones otherwise."""
    for candidate in CATALOGUE:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no classifier {name!r} in the catalogue; known: {', '.join(s.name for s in CATALOGUE)}")
