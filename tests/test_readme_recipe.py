"""The README's "Add a classifier", followed as written in a copy of the project: its module, its diff and its test
are taken from the README, then ruff, mypy, the new test, the catalogue and infra checks pass there, and a job
submitted with `--classifiers mything` runs through `imaginem host` and records `mything_output`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pipeline.host.azurite import Azurite, free_port
from pipeline.job_record import PIPELINELOGS
from pipeline.storage import Storage

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Add a classifier\n"
END = "### A classifier served by another app\n"


def recipe() -> list[tuple[str, str, str]]:
    """(language, text, the last file path named before it) of each code block of the section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    section = text[start:text.index(END, start)]
    blocks = []
    for match in re.finditer(r"```(\w+)\n(.*?)```", section, re.DOTALL):
        paths = re.findall(r"`([\w/]+\.py)`", section[:match.start()])
        blocks.append((match.group(1), match.group(2), paths[-1] if paths else ""))
    return blocks


def copy_project(target: Path) -> Path:
    """The files git knows (as a clean clone has them), with the shared virtualenv and node_modules linked."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for link in (".venv", "node_modules"):
        if (ROOT / link).exists():
            (target / link).symlink_to((ROOT / link).resolve())
    return target


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_recipe_adds_a_classifier_that_passes_the_checks_and_runs(azurite: Azurite,
                                                                              tmp_path: Path) -> None:
    blocks = recipe()
    assert [language for language, _, _ in blocks] == ["python", "diff", "python"]
    project = copy_project(tmp_path / "project")
    (_, module, module_path), (_, diff, _), (_, test, test_path) = blocks
    assert (module_path, test_path) == ("classifiers/mything.py", "tests/classifiers/test_mything.py")
    (project / module_path).write_text(module, encoding="utf-8")
    (project / test_path).write_text(test, encoding="utf-8")
    (tmp_path / "recipe.diff").write_text(diff, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(project), "AzureWebJobsStorage": azurite.connection_string,
           "IMAGINEM_DATA_DIR": str(tmp_path / "data")}
    run(["git", "apply", "--verbose", str(tmp_path / "recipe.diff")], project, env)

    python = sys.executable
    run([python, "-m", "ruff", "check", "--no-cache", "."], project, env)
    run([python, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy")], project, env)
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_path, "tests/classifiers/test_catalogue.py",
         "tests/infra/test_appsettings.py"], project, env)

    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(photo)
    with (tmp_path / "host.log").open("w") as log:
        host = subprocess.Popen([python, "-m", "pipeline.cli", "host", "--port", str(free_port())], cwd=project,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        batch = run([python, "-m", "pipeline.cli", "submit", "--classifiers", "mything", str(photo)], project,
                    env).strip()
        run([python, "-m", "pipeline.cli", "wait", batch, "--timeout", "90"], project, env, timeout=120)
    finally:
        os.killpg(host.pid, signal.SIGINT)
        try:
            host.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(host.pid, signal.SIGKILL)
            host.wait(10)
    table = Storage(azurite.connection_string).table(PIPELINELOGS)
    [entity] = table.query_entities("PartitionKey eq @batch", parameters={"batch": batch})
    assert entity["mything"] == "step 0: success", (tmp_path / "host.log").read_text()
    assert json.loads(entity["mything_output"]) == {"aspect": 2.0}
