"""Python 3.12, the default of Flex Consumption. Azure's Python worker for 3.12 ships inside the Functions host
and is not on PyPI (azure-functions-runtime needs 3.13; the azure-functions-worker there is from 2020), so the
app is indexed and invoked here as that worker does it, through azure.functions' own FunctionApp; and the local
models are run, since 3.12 installs other wheels (no yuface: HOG finds the faces)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from classifiers import facedetection, generalclassification, ocr
from pipeline.classifier import NO_CONTEXT
from pipeline.images import decode_image
from pipeline.job import parse_job
from pipeline.services import Services
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "pipeline" / "cli" / "sample_photos"
CLASSIFIERS = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch",
               "pipelineoutput"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = tmp_path_factory.mktemp("app")
    for name in ("function_app.py", "host.json", "dependencies.json", "requirements.txt"):
        shutil.copy(ROOT / name, app / name)
    for package in ("pipeline", "classifiers", "dashboard"):
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("app_script.py")), str(app)], cwd=app,
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_runs_on_python_3_12() -> None:
    assert sys.version_info[:2] == (3, 12)


def test_seven_queue_triggers_and_the_http_routes(indexed: dict[str, Any]) -> None:
    triggers = {name: bindings[0] for name, bindings in indexed["functions"].items()
                if bindings[0]["type"] == "queueTrigger"}
    assert sorted(triggers) == sorted(CLASSIFIERS)
    for name, binding in triggers.items():
        assert (binding["queueName"], binding["connection"], binding["direction"]) == (name, "AzureWebJobsStorage",
                                                                                       "IN")
    assert "dependencies" in {b[0].get("route") for b in indexed["functions"].values()}


def test_nothing_heavy_is_imported_at_index_time(indexed: dict[str, Any]) -> None:
    assert indexed["heavy"] == []


def test_queue_message_and_dequeue_count_reach_the_step(indexed: dict[str, Any]) -> None:
    assert indexed["seen"] == [{"body": json.dumps({"job_definition": {"id": "j1",
                                                                      "processing_pipeline": ["pipelineoutput"]}}),
                                "queue": "pipelineoutput", "dequeue_count": 3}]


@pytest.fixture(scope="module")
def services() -> Services:
    return Services.from_settings(Settings.from_env({}))  # local backends; nothing here touches storage


def test_the_local_models_run_on_the_astronaut(services: Services) -> None:
    image = decode_image((SAMPLES / "astronaut.jpg").read_bytes(), url="astronaut.jpg")
    job = parse_job({"job_definition": {"id": "j1", "input": {"image_url": "astronaut.jpg"},
                                        "processing_pipeline": CLASSIFIERS}})
    [face] = facedetection.build(services)(job, image, NO_CONTEXT)["faces"]
    assert 60 <= face["faceRectangle"]["width"] <= 160
    general = generalclassification.build(services)(job, image, NO_CONTEXT)
    assert general["metadata"]["width"] == 512 and general["tags"]
    assert "OCR_fullText" in ocr.build(services)(job, image, NO_CONTEXT)
