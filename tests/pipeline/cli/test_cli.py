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
from pipeline.host.azurite import free_port
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import azurite_connection_string
from pipeline.step import StepRunner
from tests.pipeline.classifiers import Boom, Flaky, ImageSize
from tests.pipeline.helpers import job_message
from tests.pipeline.images.test_images import png

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
    submitted = capsys.readouterr()
    assert submitted.out.strip() == f"cli{unique}"
    assert "skipped 1 file (not images): notes.txt" in submitted.err  # issue 23, item 4: it was silent

    # Issue 9, item 9: every job has a failed step, so wait says so and exits 1, not 0.
    assert main(["wait", f"cli{unique}", "--timeout", "60", "--interval", "0.1"]) == 1
    waited = capsys.readouterr()
    rows = [line for line in waited.out.splitlines() if "0000-a.png" in line or "0001-b.png" in line]
    assert len(rows) == 2 and all("finished with failures" in row and host[1] in row for row in rows)
    assert "2 finished with failures" in waited.err
    assert main(["status", f"cli{unique}", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert sorted(j["job"] for j in jobs) == ["0000-a.png", "0001-b.png"]
    assert all(j["state"] == "finished" for j in jobs)
    assert all((j["outcome"], j["failed_steps"]) == ("finished with failures", [host[1]]) for j in jobs)
    assert all(j["exceptions"] == {host[1]: "ValueError: the model exploded"} for j in jobs)
    assert main(["status", f"cli{unique}"]) == 0
    assert capsys.readouterr().out.count("finished with failures") == 2

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
    assert main(["wait", f"files{unique}", "--timeout", "60", "--interval", "0.1"]) == 1  # its second step fails


def test_bad_input_gets_a_clear_error_and_a_usage_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            azurite: object) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(job_message("j1", ["ocr"], step=3)))
    assert main(["submit", str(bad)]) == 2
    assert "processing_step 3 is past the end of processing_pipeline (1 queues)" in capsys.readouterr().err
    assert main(["submit", str(tmp_path / "missing.png")]) == 2
    assert main(["resolve", "facematch", "nope"]) == 2
    assert "unknown classifier" in capsys.readouterr().err


def test_wait_on_an_unknown_batch_says_it_has_no_jobs_and_exits_2(capsys: pytest.CaptureFixture[str],
                                                                   unique: str, azurite: object) -> None:
    """Issue 9, item 10: it waited forever."""
    assert main(["wait", f"nothing{unique}", "--grace", "0.3", "--interval", "0.1"]) == 2
    assert f"no such batch 'nothing{unique}': no jobs after 0.3 s" in capsys.readouterr().err


def test_wait_times_out_with_exit_3_while_a_job_is_in_progress(services: Services, unique: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    services.storage.table(PIPELINELOGS).upsert_entity(
        {"PartitionKey": f"slow{unique}", "RowKey": "j1", "ocr": "step 0: processing"})
    assert main(["wait", f"slow{unique}", "--timeout", "0.5", "--interval", "0.1"]) == 3
    assert "timed out after 0.5 s" in capsys.readouterr().err
    assert main(["status", f"slow{unique}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["outcome"] == "in progress"


@pytest.mark.parametrize("command", [["status", "b1"], ["clear"], ["wait", "b1"], ["requeue"],
                                     ["submit", "https://example.invalid/x.png"]])
def test_storage_commands_with_the_emulator_down_fail_at_once_with_exit_5(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Issue 9, item 10: `clear` was silent for 85 s of SDK retries; the probe answers before any SDK call."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string(blob=free_port(), queue=free_port(),
                                                                        table=free_port()))
    assert main(command) == 5
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("storage unreachable: the queue endpoint http://127.0.0.1:")
    assert "cannot be reached (Connection refused, 3 s probe)" in err and "Is Azurite running" in err


def test_wait_documents_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["wait", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("exit codes: 0 every job succeeded; 1 some job finished with failures or stopped; 2 no "
            "such batch (no jobs after --grace seconds); 3 timed out; 4 a bad setting; 5 storage unreachable") in text


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("azurite", "host", "submit", "wait", "status", "clear", "requeue", "resolve", "results", "demo",
                    "samples"):
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
        waited = capsys.readouterr()
        assert "stopped before their last step" in waited.err
        assert "j1" in waited.out and "stopped" in waited.out

        assert main(["requeue", "--pipeline", ",".join(names)]) == 0
        assert "requeued 1 message(s)" in capsys.readouterr().err
        # Succeeded: the exception of the poisoned attempt stays in the entity, the step states decide.
        assert main(["wait", f"rq{unique}", "--timeout", "60", "--interval", "0.1"]) == 0
        assert "1 succeeded" in capsys.readouterr().err
    finally:
        local.stop.set()
        thread.join(30)
    assert main(["status", f"rq{unique}", "j1", "--json"]) == 0
    entity = json.loads(capsys.readouterr().out)
    assert (entity[names[0]], entity[names[1]]) == ("step 0: success", "step 1: success")
