"""The composition root reads the settings once and hands one set of services to every part of a worker."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from pipeline.root import Root
from pipeline.settings import SETTINGS, Settings


def test_the_dataclass_defaults_are_the_documented_ones() -> None:
    documented = Settings.from_env({})
    assert Settings() == replace(documented, data_dir=Path(".imaginem"), backends={})  # {}: auto for each
    assert Settings().face_match_threshold == 0.5 == float(next(s.default for s in SETTINGS
                                                                   if s.name == "FACE_MATCH_THRESHOLD"))


def test_one_root_reads_the_settings_once_and_builds_one_set_of_services(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    real = Settings.from_env

    def counting(env: object = None) -> Settings:
        reads.append(env)
        return real({})

    monkeypatch.setattr(Settings, "from_env", staticmethod(counting))
    root = Root()
    assert reads == []  # nothing is read before it is needed
    services = root.services
    assert root.services is services and root.settings is services.settings
    assert services.dependencies is root.dependencies
    assert services.models is root.services.models and services.database is root.services.database
    assert len(reads) == 1


def test_a_root_with_settings_reads_no_environment() -> None:
    settings = Settings(model_threads=3)
    root = Root(settings=settings)
    assert root.services.settings is settings
    assert {f.name for f in fields(root.services)} >= {"settings", "storage", "dependencies", "models", "database"}
