"""Azure's own Python worker (azure-functions-runtime) indexes function_app.py from a plain copy of the package
and invokes a queue-triggered function with a message and its metadata, as the host hands them over."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / ".venv" / "py313" / "host-protos"
CLASSIFIERS = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch",
               "pipelineoutput"]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = tmp_path_factory.mktemp("app")
    for name in ("function_app.py", "host.json", "dependencies.json", "requirements.txt"):
        shutil.copy(ROOT / name, app / name)
    for package in ("pipeline", "classifiers", "dashboard"):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert (PROTOS / "functions_host_protos").is_dir(), "run scripts/setup-tests.sh (it creates .venv/py313)"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("worker_script.py")), str(app), str(PROTOS)],
                          cwd=app, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "FUNCTIONS_WORKER_RUNTIME": "python"})
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_runs_on_python_3_13() -> None:
    assert sys.version_info[:2] >= (3, 13)


def test_seven_queue_triggers_on_azurewebjobsstorage(worker: dict[str, Any]) -> None:
    triggers = {name: fn["bindings"][0] for name, fn in worker["functions"].items()
                if fn["bindings"][0]["type"] == "queueTrigger"}
    assert sorted(triggers) == sorted(CLASSIFIERS)
    for name, binding in triggers.items():
        assert (binding["queueName"], binding["connection"], binding["direction"]) == (name, "AzureWebJobsStorage",
                                                                                       "IN")


def test_http_routes(worker: dict[str, Any]) -> None:
    routes = {fn["bindings"][0].get("route") for fn in worker["functions"].values()
              if fn["bindings"][0]["type"] == "httpTrigger"}
    assert "dependencies" in routes


def test_nothing_heavy_is_imported_at_index_time(worker: dict[str, Any]) -> None:
    assert worker["heavy"] == []


def test_queue_message_and_dequeue_count_reach_the_step(worker: dict[str, Any]) -> None:
    assert worker["status"], worker["error"]
    assert worker["seen"] == [{"body": json.dumps({"job_definition": {"id": "j1",
                                                                     "processing_pipeline": ["pipelineoutput"]}}),
                               "queue": "pipelineoutput", "dequeue_count": 3}]
