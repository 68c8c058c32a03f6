"""functionTimeout is read from host.json as the Functions host reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigurationError
from pipeline.hostconfig import QueueConfig


def load(tmp_path: Path, host: dict[str, object]) -> QueueConfig:
    path = tmp_path / "host.json"
    path.write_text(json.dumps(host), encoding="utf-8")
    return QueueConfig.load(path)


def test_function_timeout_is_read_and_minus_one_means_no_limit(tmp_path: Path) -> None:
    assert QueueConfig.load().function_timeout == 600
    assert load(tmp_path, {"functionTimeout": "00:00:30"}).function_timeout == 30
    assert load(tmp_path, {"functionTimeout": "-1"}).function_timeout is None
    assert load(tmp_path, {}).function_timeout == 300  # the Consumption plan's default


@pytest.mark.parametrize("value", ["soon", "00:00:00"])
def test_a_bad_function_timeout_is_a_configuration_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="functionTimeout"):
        load(tmp_path, {"functionTimeout": value})
