"""A Functions app of steps that sleep IMAGINEM_TEST_STEP_SECONDS, on the queues named in IMAGINEM_TEST_QUEUES."""

import os
import time
from typing import Any

import azure.functions as func

from pipeline.classifier import StepContext
from pipeline.functions import classifier_blueprint, step_runner
from pipeline.images import Image
from pipeline.job import Job


class Slow:
    needs_image = False

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        time.sleep(self.seconds)
        return {"slept": self.seconds}


app = func.FunctionApp()
runner = step_runner()
_seconds = float(os.environ.get("IMAGINEM_TEST_STEP_SECONDS", "0"))
for queue in os.environ.get("IMAGINEM_TEST_QUEUES", "slow-one,slow-two").split(","):
    app.register_functions(classifier_blueprint(queue, lambda services, q=queue: Slow(q, _seconds), runner))
