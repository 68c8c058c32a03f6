"""No module a Functions worker imports pulls in the CLI's progress bar or tables (``rich``): the job record is
read and written by ``pipeline.job_record``, and only ``pipeline/cli/`` draws (issue 19 item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import importlib, pkgutil, sys
import function_app
def walk(package):
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__, package + "."):
        if info.name == "pipeline.cli":  # the command line draws with rich; the worker never imports it
            continue
        importlib.import_module(info.name)
        if info.ispkg:
            walk(info.name)
for package in ("classifiers", "pipeline", "dashboard"):
    walk(package)
print("pipeline.cli" in sys.modules, "rich" in sys.modules)
"""


def test_the_worker_modules_import_no_rich() -> None:
    """function_app and every module of classifiers/, pipeline/ (but pipeline/cli/) and dashboard/, in a fresh
    interpreter: none of them imports rich."""
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"], "pipeline.cli or rich imported by a worker module"
