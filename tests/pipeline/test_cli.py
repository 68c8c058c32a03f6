"""The imaginem command, in-process, against a real Azurite and the local host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest

from pipeline.cli import main
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import azurite_connection_string
from pipeline.step import StepRunner
from tests.pipeline.classifiers import Boom, Flaky, ImageSize
from tests.pipeline.helpers import job_message
from tests.pipeline.test_images import png

pytestmark = pytest.mark.azurite


@pytest.fixture
def host(services: Services, unique: str) -> Iterator[list[str]]:
    """A running host for two test queues: image size, then a classifier that always fails."""
    names = [f"size{unique}", f"boom{unique}"]
    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=2))
    app = func.FunctionApp()
    app.register_functions(classifier_blueprint(names[0], lambda s: ImageSize(names[0]), runner))
    app.register_functions(classifier_blueprint(names[1], lambda s: Boom(names[1]), runner))
    config = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                         max_polling_interval=0.2, message_encoding="none")
    local = LocalHost(app=app, settings=services.settings, config=config, http_port=None)
    thread = threading.Thread(target=local.serve, daemon=True)
    thread.start()
    yield names
    local.stop.set()
    thread.join(30)


def test_submit_wait_status_for_local_images(host: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              unique: str) -> None:
    (tmp_path / "a.png").write_bytes(png(30, 20))
    (tmp_path / "b.png").write_bytes(png(50, 40))
    (tmp_path / "notes.txt").write_text("not an image, skipped in folders")

    assert main(["submit", str(tmp_path), "--pipeline", ",".join(host), "--batch", f"cli{unique}"]) == 0
    assert capsys.readouterr().out.strip() == f"cli{unique}"

    assert main(["wait", f"cli{unique}", "--timeout", "60", "--interval", "0.1"]) == 0
    capsys.readouterr()
    assert main(["status", f"cli{unique}", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert sorted(j["job"] for j in jobs) == ["0000-a.png", "0001-b.png"]
    assert all(j["state"] == "finished" for j in jobs)
    assert all(j["exceptions"] == {host[1]: "ValueError: the model exploded"} for j in jobs)

    assert main(["status", f"cli{unique}", "0001-b.png", "--json"]) == 0
    entity = json.loads(capsys.readouterr().out)
    assert json.loads(entity[f"{host[0]}_output"]) == {"metadata": {"width": 50, "height": 40, "format": "PNG"}}
    assert "/inputimages/" in entity["image_url"]  # uploaded, read back with the account's credentials


def test_submit_job_files_as_they_are(host: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      services: Services, unique: str) -> None:
    url = services.storage.upload_blob("inputimages", f"files{unique}/x.png", png(), content_type="image/png")
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_message("j1", host, batch_id=f"files{unique}", image_url=url)))
    assert main(["submit", str(job)]) == 0
    assert capsys.readouterr().out.strip() == f"files{unique}"
    assert main(["wait", f"files{unique}", "--timeout", "60", "--interval", "0.1"]) == 0


def test_bad_input_gets_a_clear_error_and_a_usage_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            azurite: object) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(job_message("j1", ["ocr"], step=3)))
    assert main(["submit", str(bad)]) == 2
    assert "processing_step 3 is past the end of processing_pipeline (1 queues)" in capsys.readouterr().err
    assert main(["submit", str(tmp_path / "missing.png")]) == 2
    assert main(["resolve", "facematch", "nope"]) == 2
    assert "unknown classifier" in capsys.readouterr().err


def test_wait_times_out_with_exit_3_and_unreachable_storage_is_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unique: str, azurite: object
) -> None:
    assert main(["wait", f"nothing{unique}", "--timeout", "0.5", "--interval", "0.1"]) == 3
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string(blob=9, queue=9, table=9))
    assert main(["status", "b1"]) == 4
    assert "Is Azurite running" in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("azurite", "host", "submit", "wait", "status", "clear", "requeue", "resolve", "results", "demo"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: imaginem" in capsys.readouterr().out


def test_a_job_poisoned_by_a_transient_failure_runs_again_when_requeued(
    services: Services, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"flaky{unique}", f"last{unique}"]
    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=2))
    app = func.FunctionApp()
    app.register_functions(classifier_blueprint(names[0], lambda s: Flaky(names[0], failures=2), runner))
    app.register_functions(classifier_blueprint(names[1], lambda s: ImageSize(names[1]), runner))
    config = QueueConfig(batch_size=4, new_batch_threshold=2, max_dequeue_count=2, visibility_timeout=0,
                         max_polling_interval=0.2, message_encoding="none")
    local = LocalHost(app=app, settings=services.settings, config=config, http_port=None)
    thread = threading.Thread(target=local.serve, daemon=True)
    thread.start()
    try:
        url = services.storage.upload_blob("inputimages", f"rq{unique}/x.png", png(), content_type="image/png")
        services.storage.queue(names[0]).send_message(
            json.dumps(job_message("j1", names, batch_id=f"rq{unique}", image_url=url)))
        assert main(["wait", f"rq{unique}", "--timeout", "60", "--interval", "0.1"]) == 1  # poisoned
        assert "stopped before their last step" in capsys.readouterr().err

        assert main(["requeue", "--pipeline", ",".join(names)]) == 0
        assert "requeued 1 message(s)" in capsys.readouterr().err
        assert main(["wait", f"rq{unique}", "--timeout", "60", "--interval", "0.1"]) == 0
    finally:
        local.stop.set()
        thread.join(30)
    assert main(["status", f"rq{unique}", "j1", "--json"]) == 0
    entity = json.loads(capsys.readouterr().out)
    assert (entity[names[0]], entity[names[1]]) == ("step 0: success", "step 1: success")
