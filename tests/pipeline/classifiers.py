"""Small real classifiers for testing the pipeline machinery (no models)."""

from __future__ import annotations

import threading
from typing import Any

from pipeline.classifier import StepContext
from pipeline.errors import RetryableError
from pipeline.images import Image
from pipeline.job import Job


class Noop:
    needs_image = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        self.calls += 1
        return {"seen": sorted(job.job_output)}


class ImageSize:
    needs_image = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        assert image is not None
        return {"metadata": {"width": image.width, "height": image.height, "format": image.format}}


class Boom:
    needs_image = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        raise ValueError("the model exploded")


class Big:
    """Returns an output whose JSON is exactly ``size`` characters long."""

    needs_image = False

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        return {"blob": "x" * (self.size - len('{"blob": ""}'))}


class Flaky:
    needs_image = False

    def __init__(self, name: str, failures: int) -> None:
        self.name = name
        self.failures = failures

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        if self.failures > 0:
            self.failures -= 1
            raise RetryableError("database is down")
        return {"done": True}


class Gate:
    """Blocks until released: a message that is in flight when the host is stopped."""

    needs_image = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        self.entered.set()
        assert self.release.wait(30)
        return {"gated": True}
