"""What a classifier is to the pipeline: a name, whether it needs the image, and a call.

A classifier is a function of (job, image) → JSON-ready dict. Everything else it needs
(models, clients, settings) is passed to its constructor. It never decides what comes
next: ``pipeline.step`` does, after it returns or raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pipeline.images import Image
from pipeline.job import Job

__all__ = ["Classifier", "ClassifierFactory", "Output"]

Output = dict[str, Any]


class Classifier(Protocol):
    name: str
    needs_image: bool

    def __call__(self, job: Job, image: Image | None) -> Output:
        """Return this classifier's output for the job; raise to record a failure."""
        ...


ClassifierFactory = Callable[[], Classifier]
