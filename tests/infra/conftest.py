"""Copies of infra/ that a test may break, and the repository paths the infra checks read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def copy_infra(destination: Path) -> Path:
    """A copy of infra/ (templates, parameters, schema.sql), without the checker's own code, beside a copy of
    dependencies.json (main.bicep creates a queue per classifier of it)."""
    target = destination / "infra"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns("__pycache__", "check"))
    shutil.copy(REPO / "dependencies.json", destination / "dependencies.json")
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a file, failing loudly when the piece is not there."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def infra_copy(tmp_path: Path) -> Path:
    return copy_infra(tmp_path)
