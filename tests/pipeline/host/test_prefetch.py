"""A worker takes only the messages its free threads can start; the rest stay visible to other workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import azure.functions as func
import pytest

from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import Settings
from tests.pipeline.helpers import peek_count
from tests.pipeline.host.support import Threaded, until

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.1, message_encoding="none", lease_seconds=30, function_timeout=60)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # never leave a step blocked behind a failed assertion


def test_a_busy_worker_leaves_the_messages_it_cannot_start_visible(
    services: Services, settings: Settings, unique: str, release: threading.Event
) -> None:
    queue = f"p{unique}"
    started: list[str] = []
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue, connection="AzureWebJobsStorage")
    def trigger(msg: func.QueueMessage) -> None:
        started.append(msg.get_body().decode())
        release.wait(30)

    client = services.storage.queue(queue)
    for n in range(3):
        client.send_message(f"job {n}")
    host = Threaded(LocalHost(app=app, settings=settings, config=CONFIG, http_port=None, threads=1))
    try:
        until(lambda: len(started) == 1, 20, "for the first step to start")
        # batchSize 4 would allow all three; one thread can start one, so two stay visible for other workers.
        until(lambda: peek_count(services.storage, queue) == 2, 5, "for the two unstarted messages to be visible")
        assert len(started) == 1
        release.set()
        until(lambda: len(started) == 3 and peek_count(services.storage, queue) == 0, 20, "for all three to run")
    finally:
        host.stop()
