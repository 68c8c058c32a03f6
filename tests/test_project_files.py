"""The project's own files agree with each other: wiring, settings, requirements, host.json."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pipeline.dependencies import Dependencies
from pipeline.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"}
AZURE_ONLY = {"AzureWebJobsStorage__accountName"}


def test_function_app_has_one_queue_trigger_per_classifier_and_the_http_api() -> None:
    import function_app

    functions = function_app.app.get_functions()
    triggers = {}
    for function in functions:
        trigger = next(b for b in function.get_bindings() if b.type.endswith("Trigger"))
        triggers[function.get_function_name()] = (trigger.type, getattr(trigger, "queue_name", None),
                                                  getattr(trigger, "connection", None))
    classifiers = Dependencies.load().classifiers
    assert {name: t for name, t in triggers.items() if t[0] == "queueTrigger"} == {
        name: ("queueTrigger", name, "AzureWebJobsStorage") for name in classifiers}
    assert triggers["dependencies"][0] == "httpTrigger"


def test_local_settings_sample_lists_every_setting_the_code_reads() -> None:
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert set(values) - RUNTIME_SETTINGS == {s.name for s in SETTINGS} - AZURE_ONLY


def test_requirements_txt_is_the_runtime_dependencies_of_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == declared
    assert not any(name.startswith("torch") for name in declared)  # a multi-GB CUDA build on PyPI


def test_host_json_sets_every_queue_setting_the_local_host_reads() -> None:
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    assert set(queues) == {"messageEncoding", "batchSize", "newBatchThreshold", "maxDequeueCount",
                           "visibilityTimeout", "maxPollingInterval"}
    assert queues["messageEncoding"] == "none"


def test_azurite_is_pinned() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"]["azurite"] == "3.37.0"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/azurite"]["version"] == "3.37.0"
