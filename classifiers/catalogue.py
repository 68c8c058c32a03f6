"""The classifiers this app serves: one spec per classifier module, in the default pipeline's order.

Adding a classifier (README, "Add a classifier"): write its module with a ``SPEC``, import it here and add
the spec, and give it its line in ``dependencies.json``. ``function_app.py`` registers every spec of this
list in a loop; main.bicep creates a queue per classifier of ``dependencies.json``.
"""

from __future__ import annotations

from classifiers import (  # one a line, so that adding a classifier adds a line
    facecrop,
    facedetection,
    facematch,
    faceprint,
    generalclassification,
    ocr,
    pipelineoutput,
)
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
