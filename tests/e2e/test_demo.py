"""The main job, as the README runs it: every sample through all seven classifiers, a summary and a report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.models, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_imaginem_demo_prints_the_summary_and_writes_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "IMAGINEM_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("AzureWebJobsStorage", None)  # the demo starts an Azurite of its own
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "demo", "--report", str(tmp_path / "report")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = re.findall(r"(\d+) (succeeded|finished with failures|stopped)", done.stderr)
    assert sum(int(n) for n, _ in outcomes) == 6, done.stderr[-2000:]  # each job's outcome is counted

    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("│ ")
            and line.split("│")[1].strip()}
    assert set(rows) == {"astronaut.jpg", "chelsea-the-cat.jpg", "coffee.jpg", "camera.png", "sign.png",
                         "astronaut-again.jpg"}
    assert "cat" in rows["chelsea-the-cat.jpg"] and "espresso" in rows["coffee.jpg"]
    assert "IMAGINEM PIPELINE" in rows["sign.png"]
    cells = [c.strip() for c in rows["astronaut-again.jpg"].split("│")]
    assert cells[4] == "1" and cells[5].startswith("0000-astronaut.jpg")  # one face, matched to the first
    assert [c.strip() for c in rows["coffee.jpg"].split("│")][4] == "0"
    assert [c.strip() for c in rows["camera.png"].split("│")][4] == "1"  # the cameraman, turned behind his camera

    page = (tmp_path / "report" / "index.html").read_text()
    assert len(re.findall(r"<section>", page)) == 6
    assert len(list((tmp_path / "report").glob("*.png"))) == 6
