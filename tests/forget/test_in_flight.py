"""Forgetting a batch while its jobs run on the local host: nothing of it is left once the host is idle,
no later step of it does work, and another batch keeps flowing meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import azure.functions as func
import pytest

from pipeline.classifier import StepContext
from pipeline.forget.build import build_eraser
from pipeline.forget.target import Target
from pipeline.functions import classifier_blueprint, step_runner
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from tests.forget.search import find_everywhere
from tests.forget.synthetic import random_id
from tests.pipeline.helpers import job_message
from tests.pipeline.host.support import Threaded, finished, until

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=3, visibility_timeout=0,
                     max_polling_interval=0.1, message_encoding="none", lease_seconds=5, function_timeout=60)


class Slow:
    needs_image = False

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        self.calls.append(f"{job.batch_id}/{job.id}/{self.name}")
        time.sleep(0.3)
        return {"seen": job.image_url}


@pytest.fixture
def host(settings: Settings, unique: str) -> Iterator[tuple[list[str], list[str]]]:
    queues = [f"slow{i}-{unique}" for i in range(3)]
    calls: list[str] = []
    app = func.FunctionApp()
    runner = step_runner(replace(settings, external_queues=tuple(queues)), CONFIG)
    for queue in queues:
        app.register_functions(classifier_blueprint(queue, lambda services, q=queue: Slow(q, calls), runner))
    running = Threaded(LocalHost(app=app, settings=settings, config=CONFIG, http_port=None))
    until(running.host.ready.is_set, what="for the host")
    yield queues, calls
    running.stop()


def test_a_batch_forgotten_in_flight_leaves_nothing_and_others_keep_flowing(
        host: tuple[list[str], list[str]], services: Services) -> None:
    queues, calls = host
    storage = services.storage
    gone, kept = random_id("flight"), random_id("other")
    for i in range(8):
        storage.queue(queues[0]).send_message(json.dumps(job_message(f"g{i}", queues, batch_id=gone)))
    until(lambda: any(c.startswith(f"{gone}/") for c in calls), what="for the batch to start")
    database = Database.from_settings(services.settings)
    eraser = build_eraser(services, settle_seconds=2.0)
    for i in range(2):  # sent during the erasure's run: it must not wait for the forget
        storage.queue(queues[0]).send_message(json.dumps(job_message(f"k{i}", queues, batch_id=kept)))

    report = eraser.forget(Target.batch(gone))
    forgotten_at = len(calls)

    assert report.complete, [s.summary() for s in report.stores]
    until(lambda: all(finished(storage, kept, f"k{i}") for i in range(2)), what="for the other batch")
    time.sleep(1.5)  # any message of the forgotten batch still queued is now delivered and dropped
    assert find_everywhere(storage, database, [gone]) == []
    late = [c for c in calls[forgotten_at:] if c.startswith(f"{gone}/")]
    assert late == []
    database.close()
