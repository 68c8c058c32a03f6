"""A Functions app of no-op steps on the queues named in IMAGINEM_TEST_QUEUES (for multi-process host tests)."""

import os

import azure.functions as func

from pipeline.functions import classifier_blueprint, step_runner
from tests.pipeline.classifiers import Noop

app = func.FunctionApp()
runner = step_runner()
for queue in os.environ.get("IMAGINEM_TEST_QUEUES", "noop-one,noop-two").split(","):
    app.register_functions(classifier_blueprint(queue, lambda services, q=queue: Noop(q), runner))
