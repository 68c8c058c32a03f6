"""Leases are renewed and functionTimeout bounds a step (issue 13.2); log lines stay one line (13.4)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import azure.functions as func
import pytest

from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import Settings
from tests.pipeline.helpers import drain, peek_count
from tests.pipeline.host.support import Threaded, until

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.1, message_encoding="none", lease_seconds=2, function_timeout=60)


@pytest.fixture
def start(settings: Settings) -> Iterator[Callable[..., Threaded]]:
    running: list[Threaded] = []

    def starter(app: func.FunctionApp, config: QueueConfig = CONFIG) -> Threaded:
        running.append(Threaded(LocalHost(app=app, settings=settings, config=config, http_port=None)))
        return running[-1]

    yield starter
    for r in running:
        r.stop()


def app_calling(queue: str, step: Callable[[func.QueueMessage], None]) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue, connection="AzureWebJobsStorage")
    def trigger(msg: func.QueueMessage) -> None:
        step(msg)

    return app


def test_a_step_slower_than_its_lease_runs_once(
    services: Services, unique: str, start: Callable[..., Threaded]
) -> None:
    queue = f"l{unique}"
    calls: list[int] = []
    done = threading.Event()

    def slow(msg: func.QueueMessage) -> None:
        calls.append(msg.dequeue_count or 0)
        time.sleep(5 * CONFIG.lease_seconds / 2)  # 2.5 leases: without renewal it would be received again
        done.set()

    start(app_calling(queue, slow))
    services.storage.queue(queue).send_message("slow job")
    assert done.wait(30)
    until(lambda: peek_count(services.storage, queue) == 0 and not services.storage.queue(queue)
          .get_queue_properties().approximate_message_count, 10, "for the delete with the renewed receipt")
    time.sleep(CONFIG.lease_seconds + 0.5)  # had the delete failed, the message would be visible again by now
    assert calls == [1]
    assert peek_count(services.storage, f"{queue}-poison") == 0


def test_a_step_past_function_timeout_fails_and_is_retried_then_poisoned(
    services: Services, unique: str, start: Callable[..., Threaded], caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"t{unique}"
    release = threading.Event()
    calls: list[int] = []

    def stuck(msg: func.QueueMessage) -> None:
        calls.append(msg.dequeue_count or 0)
        release.wait(30)

    caplog.set_level(logging.WARNING, logger="pipeline.host")
    start(app_calling(queue, stuck), config=QueueConfig(**{**CONFIG.__dict__, "function_timeout": 0.5}))
    services.storage.queue(queue).send_message("stuck job")
    try:
        until(lambda: peek_count(services.storage, f"{queue}-poison") == 1, 30, "for the poison queue")
    finally:
        release.set()
    assert calls == [1, 2]  # the invocation failed at the bound and was retried, up to maxDequeueCount
    assert drain(services.storage, f"{queue}-poison") == ["stuck job"]
    assert "timed out: ran past functionTimeout (0.5 s)" in caplog.text


def test_an_exception_text_with_cr_lf_leaves_one_log_line(
    services: Services, unique: str, start: Callable[..., Threaded], caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"i{unique}"

    def forged(msg: func.QueueMessage) -> None:
        raise ValueError("bad\r\nX-Injected: yes")

    caplog.set_level(logging.WARNING, logger="pipeline.host")
    start(app_calling(queue, forged))
    services.storage.queue(queue).send_message("job")
    until(lambda: peek_count(services.storage, f"{queue}-poison") == 1, 30, "for the poison queue")
    lines = [r.getMessage() for r in caplog.records if "X-Injected" in r.getMessage()]
    assert lines and all("\n" not in line and "\r" not in line for line in lines)
    assert "bad\\x0d\\x0aX-Injected: yes" in lines[0]
