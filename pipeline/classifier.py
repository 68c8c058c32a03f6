"""What a classifier is to the pipeline: a name, whether it needs the image, and a call.

A classifier is a function of (job, image, context) → JSON-ready dict. The context carries what the
step runner already knows of the job (its ``pipelinelogs`` entity as read when the step claimed it).
Everything else it needs (models, clients, settings) is passed to its constructor. It never decides
what comes next: ``pipeline.step`` does, after it returns or raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from pipeline.images import Image
from pipeline.job import Job

__all__ = ["NO_CONTEXT", "Classifier", "ClassifierFactory", "Output", "StepContext"]

Output = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class StepContext:
    """What the step runner knows of the job when it calls the classifier."""

    record: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The job's ``pipelinelogs`` entity as read when this step claimed it: every earlier step's
    ``step N: success|failed``, outputs and exceptions. Empty when the runner had none."""


NO_CONTEXT = StepContext()
"""A context that knows nothing: for a classifier called outside the step runner."""


class Classifier(Protocol):
    name: str
    needs_image: bool

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> Output:
        """Return this classifier's output for the job; raise to record a failure."""
        ...


ClassifierFactory = Callable[[], Classifier]
