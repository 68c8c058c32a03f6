"""The local Functions host on a real Azurite: polling, poison queues, clean shutdown, several workers, HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import azure.functions as func
import pytest
import requests

from pipeline.api import dependencies_blueprint
from pipeline.dependencies import Dependencies
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.azurite import free_port
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.step import StepRunner
from tests.pipeline.classifiers import Gate, Noop
from tests.pipeline.helpers import drain, job_message, peek_count
from tests.pipeline.host.support import Threaded as Running

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.2, message_encoding="none")


def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def app_of(services: Services, *classifiers: object) -> func.FunctionApp:
    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=CONFIG.max_dequeue_count))
    app = func.FunctionApp()
    for classifier in classifiers:
        app.register_functions(classifier_blueprint(classifier.name, lambda s, c=classifier: c, runner))  # type: ignore[attr-defined]
    app.register_functions(dependencies_blueprint(Dependencies.load()))
    return app




@pytest.fixture
def start(settings: Settings) -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def starter(app: func.FunctionApp | str, **options: object) -> Running:
        host = LocalHost(app=app, settings=settings, config=options.pop("config", CONFIG),  # type: ignore[arg-type]
                         http_port=options.pop("http_port", None), **options)  # type: ignore[arg-type]
        running.append(Running(host))
        return running[-1]

    yield starter
    for r in running:
        r.stop()


def state(services: Services, batch: str, job: str) -> dict[str, object]:
    entity = services.storage.table(PIPELINELOGS).get_entity(batch, job)
    return dict(entity)


def test_the_host_carries_jobs_through_every_step(
    services: Services, unique: str, start: Callable[..., Running]
) -> None:
    names = [f"h1{unique}", f"h2{unique}", f"h3{unique}"]
    start(app_of(services, *(Noop(n) for n in names)))
    for i in range(6):
        services.storage.queue(names[0]).send_message(json.dumps(job_message(f"job-{i}", names, batch_id=unique)))

    until(lambda: all("job_output" in state_or_empty(services, unique, f"job-{i}") for i in range(6)))
    assert state(services, unique, "job-5")[names[2]] == "step 2: success"


def state_or_empty(services: Services, batch: str, job: str) -> dict[str, object]:
    try:
        return state(services, batch, job)
    except Exception:
        return {}


def test_a_malformed_message_ends_in_the_poison_queue_and_others_carry_on(
    services: Services, unique: str, start: Callable[..., Running]
) -> None:
    names = [f"p1{unique}", f"p2{unique}"]
    start(app_of(services, *(Noop(n) for n in names)))
    queue = services.storage.queue(names[0])
    queue.send_message("this is not a job")
    queue.send_message(json.dumps(job_message("good", names, batch_id=unique)))

    until(lambda: peek_count(services.storage, f"{names[0]}-poison") == 1)
    assert drain(services.storage, f"{names[0]}-poison") == ["this is not a job"]
    until(lambda: "job_output" in state_or_empty(services, unique, "good"))


def test_ctrl_c_lets_the_message_in_hand_finish_and_releases_the_rest(
    services: Services, unique: str, start: Callable[..., Running]
) -> None:
    names = [f"g1{unique}", f"g2{unique}"]
    gate = Gate(names[0])
    running = start(app_of(services, gate, Noop(names[1])), threads=1)  # one runs, the others wait their turn
    for i in range(3):
        services.storage.queue(names[0]).send_message(json.dumps(job_message(f"job-{i}", names, batch_id=unique)))
    assert gate.entered.wait(30)

    running.host.stop.set()
    time.sleep(0.3)
    gate.release.set()
    running.stop()

    assert peek_count(services.storage, names[0]) == 2  # the unstarted ones are visible again at once
    [forwarded] = drain(services.storage, names[1])  # the one in hand finished and went on
    assert json.loads(forwarded)["job_output"][names[0]] == {"gated": True}


def test_several_worker_processes_share_the_queues_and_run_each_step_once(
    services: Services, unique: str, start: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"w1{unique}", f"w2{unique}"]
    monkeypatch.setenv("IMAGINEM_TEST_QUEUES", ",".join(names))
    start("tests.pipeline.noop_app:app", workers=2)
    for i in range(12):
        services.storage.queue(names[0]).send_message(json.dumps(job_message(f"job-{i}", names, batch_id=unique)))

    until(lambda: all("job_output" in state_or_empty(services, unique, f"job-{i}") for i in range(12)), timeout=90)
    final = [json.loads(str(state(services, unique, f"job-{i}")["job_output"])) for i in range(12)]
    assert all(f["job_output"][names[1]] == {"seen": [names[0]]} for f in final)


def test_http_routes_are_served_under_api(services: Services, start: Callable[..., Running]) -> None:
    port = free_port()
    start(app_of(services), http_port=port)
    until(lambda: _reachable(port))
    answer = requests.post(f"http://127.0.0.1:{port}/api/dependencies", json=["facecrop"], timeout=5)
    assert (answer.status_code, answer.json()) == (200, ["facedetection", "facecrop"])
    assert requests.get(f"http://127.0.0.1:{port}/api/nothing", timeout=5).status_code == 404


def _reachable(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/api/dependencies", timeout=1)
        return True
    except requests.ConnectionError:
        return False


def test_host_json_is_read_as_the_functions_host_reads_it() -> None:
    config = QueueConfig.load()
    assert config.message_encoding == "none"
    assert config.max_dequeue_count >= 2 and config.batch_size >= 1
    assert replace(config, visibility_timeout=0).visibility_timeout == 0


def test_imaginem_host_stops_cleanly_on_ctrl_c(services: Services, unique: str, tmp_path: object) -> None:
    import os
    import signal
    import subprocess
    import sys

    names = [f"s1{unique}", f"s2{unique}"]
    env = {**os.environ, "IMAGINEM_TEST_QUEUES": ",".join(names)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "host", "--app", "tests.pipeline.noop_app:app", "--workers", "2",
         "--port", str(free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        services.storage.queue(names[0]).send_message(json.dumps(job_message("job", names, batch_id=unique)))
        until(lambda: "job_output" in state_or_empty(services, unique, "job"), timeout=60)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output
