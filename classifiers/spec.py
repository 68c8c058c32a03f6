"""What the pipeline knows of a classifier before building it: one frozen ``ClassifierSpec`` per module.

Each classifier module declares ``SPEC``; ``classifiers.catalogue.CATALOGUE`` lists them. The Functions
app registers one queue trigger per spec, the benchmarks build from it, and a test checks that
``dependencies.json`` (which users edit, and from which main.bicep creates the queues) agrees with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from classifiers.names import Service

if TYPE_CHECKING:
    from pipeline.classifier import Classifier
    from pipeline.services import Services

__all__ = ["ClassifierSpec"]


@dataclass(frozen=True, kw_only=True)
class ClassifierSpec:
    name: str
    """The classifier's name, its queue's name and its key in ``job_output``."""
    needs: tuple[str, ...] = ()
    """Classifiers whose output it reads (``dependencies.json`` says the same)."""
    service: Service | None = None
    """The Azure service it can use instead of local models; None when it has no Azure backend."""
    needs_image: bool
    output: type
    """The TypedDict of its output (``classifiers.outputs``)."""
    build: Callable[[Services], Classifier]
    """Builds the classifier once per worker from the worker's services."""
