"""A queue served by another app (EXTERNAL_QUEUES): the test plays that app with ``ExternalQueue``, the local host
finishes the job, and pipelinelogs reads as if one app had run every step."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import azure.functions as func
import pytest

from classifiers import pipelineoutput
from pipeline.classifier import StepContext
from pipeline.external import ExternalQueue
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.images import Image
from pipeline.job import Job
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.pipeline.helpers import drain, job_message
from tests.pipeline.host.support import Threaded

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.2, message_encoding="none")


def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def sample(job: Job, image: Image | None, context: StepContext) -> dict[str, object]:
    return {"greeting": f"hello {job.id}"}


def test_an_external_app_runs_its_step_and_the_host_finishes_the_job(services: Services, unique: str) -> None:
    name, batch = f"sample{unique}", f"b{unique}"
    # This app knows the queue is served elsewhere; the other app serves it with ExternalQueue.
    ours = replace(services, settings=replace(services.settings, external_queues=(name,)))
    services.storage.queue(name).send_message(json.dumps(job_message("job", [name, "pipelineoutput"], batch_id=batch)))

    external = ExternalQueue(services=services, name=name, classify=sample)
    assert external.run_once() == Outcome.SUCCESS
    assert external.run_once() is None  # the queue is empty: the job went on to pipelineoutput
    table = services.storage.table(PIPELINELOGS)
    assert table.get_entity(batch, "job")[name] == "step 0: success"

    runner = Lazy(lambda: StepRunner(services=ours, max_dequeue_count=CONFIG.max_dequeue_count))
    app = func.FunctionApp()
    app.register_functions(classifier_blueprint(pipelineoutput.NAME, pipelineoutput.build, runner))
    host = Threaded(LocalHost(app=app, settings=ours.settings, config=CONFIG, http_port=None))
    try:
        until(lambda: "job_output" in table.get_entity(batch, "job"))
    finally:
        host.stop()
    entity = table.get_entity(batch, "job")
    assert entity["pipelineoutput"] == "step 1: success"
    assert json.loads(entity[f"{name}_output"]) == {"greeting": "hello job"}
    assert json.loads(entity["job_output"])["job_output"][name] == {"greeting": "hello job"}


def test_a_message_that_is_no_job_goes_to_the_poison_queue_at_its_last_attempt(services: Services,
                                                                             unique: str) -> None:
    name = f"sample{unique}"
    services.storage.queue(name).send_message("not a job")
    external = ExternalQueue(services=services, name=name, classify=sample, max_dequeue_count=2)
    assert external.run_once() == Outcome.FAILED
    assert external.run_once() == Outcome.FAILED
    assert external.run_once() is None
    assert drain(services.storage, f"{name}-poison") == ["not a job"]
