"""The local host polls each queue on its own back-off: queues known empty are not polled again at
every finished message, and the queue a finished step's job went to is polled at once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient

from pipeline.errors import ConfigurationError
from pipeline.host.localhost import LocalHost, triggers_of
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import Settings
from tests.pipeline.helpers import job_message, peek_count
from tests.pipeline.host.support import Threaded, until

pytestmark = pytest.mark.azurite


def config(max_polling_interval: float) -> QueueConfig:
    return QueueConfig(batch_size=2, new_batch_threshold=1, max_dequeue_count=2, visibility_timeout=0,
                       max_polling_interval=max_polling_interval, message_encoding="none", lease_seconds=30,
                       function_timeout=60)


@pytest.fixture
def receives(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each queue was asked for messages (the real client is called: a count, not a stand-in)."""
    counts: Counter[str] = Counter()
    real = QueueClient.receive_messages

    def counted(self: QueueClient, *args: Any, **kwargs: Any) -> Any:
        counts[self.queue_name] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(QueueClient, "receive_messages", counted)
    return counts


def test_empty_queues_are_not_polled_again_at_every_finished_message(
    services: Services, settings: Settings, unique: str, receives: Counter[str]
) -> None:
    busy, empty = f"busy{unique}", [f"empty{i}{unique}" for i in range(4)]
    done: list[str] = []
    app = func.FunctionApp()
    for name in (busy, *empty):
        @app.function_name(name=f"f_{name}")
        @app.queue_trigger(arg_name="msg", queue_name=name, connection="AzureWebJobsStorage")
        def trigger(msg: func.QueueMessage) -> None:
            done.append(msg.get_body().decode())

    client = services.storage.queue(busy)
    for n in range(40):
        client.send_message(f"m{n}")
    for name in empty:
        services.storage.queue(name)
    # A long maximum back-off: within the test an empty queue is polled about log2(seconds / 50 ms) times.
    host = Threaded(LocalHost(app=app, settings=settings, config=config(30.0), http_port=None, threads=2))
    try:
        until(lambda: len(done) == 40, 60, "for the forty messages")
    finally:
        host.stop()
    # The busy queue was read about once per message (two at most per receive); each empty one a few
    # times, not once or more per finished message as when every finish polled every queue.
    assert receives[busy] >= 20
    assert all(receives[name] <= 12 for name in empty), receives


def test_the_queue_a_finished_step_sent_to_is_polled_at_once(
    services: Services, settings: Settings, unique: str
) -> None:
    queues = [f"hop{i}{unique}" for i in range(3)]
    started: dict[str, float] = {}
    app = func.FunctionApp()
    for index, name in enumerate(queues):
        @app.function_name(name=f"f_{name}")
        @app.queue_trigger(arg_name="msg", queue_name=name, connection="AzureWebJobsStorage")
        def trigger(msg: func.QueueMessage, index: int = index, name: str = name) -> None:
            started[name] = time.monotonic()
            time.sleep(0.3)  # the round that found this message has polled the other queues (empty) by now
            message = json.loads(msg.get_body())
            if index + 1 < len(queues):
                message["job_definition"]["processing_step"] = index + 1
                services.storage.queue(queues[index + 1]).send_message(json.dumps(message))

    for name in queues:
        services.storage.queue(name)
    host = Threaded(LocalHost(app=app, settings=settings, config=config(30.0), http_port=None, threads=2))
    try:
        # Idle for a while: every queue backs off (0.05, 0.1, … 1.6 s), all on the same rhythm.
        time.sleep(3.5)
        job = {"job_definition": {"id": "j", "batch_id": unique, "processing_pipeline": queues,
                                  "processing_step": 0, "input": {}}, "job_output": {}}
        services.storage.queue(queues[0]).send_message(json.dumps(job))
        until(lambda: queues[-1] in started, 30, "for the job's last hop")
    finally:
        host.stop()
    # The first hop waited for its queue's back-off; the next two queues were polled empty in that same
    # round and, unnudged, would wait their next back-off (over 3 s). Nudged, they are read at once.
    assert started[queues[-1]] - started[queues[0]] < 2.5, started


def test_worker_processes_run_as_many_messages_at_once_as_asked(
    services: Services, settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"slowq{unique}"
    monkeypatch.setenv("IMAGINEM_TEST_QUEUES", queue)
    monkeypatch.setenv("IMAGINEM_TEST_STEP_SECONDS", "4")
    client = services.storage.queue(queue)
    for n in range(4):
        client.send_message(json.dumps(job_message(f"j{n}", [queue], batch_id=unique)))
    host = LocalHost(app="tests.pipeline.host.slow_app:app", settings=settings, config=config(0.1), workers=2,
                     http_port=None, threads=1)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    try:
        # Two workers of one thread each: two messages run, two stay visible (batchSize 2 would take all).
        until(lambda: peek_count(services.storage, queue) == 2, 60, "for two messages to start")
        time.sleep(1.0)
        assert peek_count(services.storage, queue) == 2
    finally:
        host.stop.set()
        thread.join(120)


def test_two_functions_on_one_queue_are_refused_with_the_reason() -> None:
    app = func.FunctionApp()

    @app.function_name(name="first")
    @app.queue_trigger(arg_name="msg", queue_name="shared", connection="AzureWebJobsStorage")
    def first(msg: func.QueueMessage) -> None: ...

    @app.function_name(name="second")
    @app.queue_trigger(arg_name="msg", queue_name="shared", connection="AzureWebJobsStorage")
    def second(msg: func.QueueMessage) -> None: ...

    with pytest.raises(ConfigurationError, match="'first' and 'second' both trigger on queue 'shared'"):
        triggers_of(app)
