"""The catalogue is what users and Azure see: dependencies.json, the Bicep's queues, the settings and the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_type_hints

import pytest

from classifiers.catalogue import CATALOGUE, spec
from classifiers.names import AZURE_SERVICES
from infra.check.bicep import parse_bicep, variable_value
from pipeline.settings import SETTINGS, Settings

REPO = Path(__file__).resolve().parents[2]


def test_dependencies_json_says_what_each_spec_needs() -> None:
    graph = json.loads((REPO / "dependencies.json").read_text())
    wanted = {s.name: list(s.needs) for s in CATALOGUE}
    missing = [f"{json.dumps(name)}: {json.dumps(needs)}" for name, needs in wanted.items() if graph.get(name) != needs]
    unknown = sorted(graph.keys() - wanted.keys())
    assert not missing, f"dependencies.json should say {', '.join(missing)} (the specs' needs in CATALOGUE)"
    assert not unknown, f"dependencies.json names {unknown}, which no spec of CATALOGUE in classifiers/catalogue.py is"


def test_the_bicep_creates_one_queue_per_spec() -> None:
    queues = variable_value(parse_bicep(REPO / "infra" / "main.bicep"), "classifierQueues")
    assert queues == sorted(s.name for s in CATALOGUE)


def test_the_default_pipeline_is_in_the_catalogue_in_its_order() -> None:
    # A classifier added later runs when a job names it; PIPELINE_DEFINITION adds it to every job.
    default = Settings.from_env({}).pipeline_definition
    assert tuple(s.name for s in CATALOGUE if s.name in default) == default


def test_settings_know_the_service_of_every_spec_that_has_one() -> None:
    assert dict(AZURE_SERVICES) == {s.name: s.service for s in CATALOGUE if s.service is not None}
    backends = {setting.name for setting in SETTINGS if setting.name.endswith("_BACKEND")}
    assert backends == {f"{s.name.upper()}_BACKEND" for s in CATALOGUE if s.service is not None}


def test_each_spec_is_its_module_and_names_a_typed_output() -> None:
    for s in CATALOGUE:
        assert spec(s.name) is s
        assert s.build.__module__ == f"classifiers.{s.name}"
        assert get_type_hints(s.output), s.name  # a TypedDict with fields
    with pytest.raises(KeyError, match="known: generalclassification"):
        spec("nope")
