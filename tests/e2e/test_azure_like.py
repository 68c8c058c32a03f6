"""The pipeline run the way Azure Functions runs it: the deployed package read-only, another user, no HOME,
only the app settings the Bicep sets, and nothing installed beyond requirements.txt (system Python).

What a deployment contains is what ``.funcignore`` keeps. The venv ``/tmp/imaginem-azure-like-<hash>`` is made by
``scripts/setup-tests.sh`` from requirements.txt alone with the system ``python3``. Storage is the test's Azurite:
the Bicep's ``AzureWebJobsStorage__accountName`` (managed identity) becomes a connection string, the one
setting replaced; Key Vault references (keys, SQL) are left empty, as an app without those secrets has them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
from skimage import data

from infra.check.bicep import load_bicep_files, walk_resources
from pipeline.host.azurite import Azurite, free_port
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.submit import Submitter

pytestmark = [pytest.mark.azurite, pytest.mark.models, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Made by scripts/setup-tests.sh where an unprivileged user can reach it, one per version of requirements.txt.
_REQUIREMENTS_HASH = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:16]
VENV_PYTHON = Path("/tmp") / f"imaginem-azure-like-{_REQUIREMENTS_HASH}" / "bin" / "python"
PIPELINE = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput"]


def deployment_copy(into: Path) -> Path:
    """The files a deployment holds: the project minus what ``.funcignore`` names."""
    patterns = [p.strip() for p in (ROOT / ".funcignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(folder: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            is_dir = (Path(folder) / name).is_dir()
            for pattern in patterns:
                bare = pattern.rstrip("/")
                if (pattern.endswith("/") and not is_dir) or "/" in bare:
                    continue
                if fnmatch.fnmatch(name, bare):
                    skipped.add(name)
        return skipped | {"__pycache__"}

    package = into / "wwwroot"
    shutil.copytree(ROOT, package, ignore=ignored, symlinks=False)
    for path in [package, *package.rglob("*")]:  # read-only for everyone but root (who won't run it)
        path.chmod(0o555 if path.is_dir() else 0o444)
    return package


def bicep_app_settings() -> dict[str, str]:
    """The app settings ``infra/`` gives the function app, resolved to the parameters' defaults and variables."""
    files, problems = load_bicep_files(ROOT / "infra")
    assert not problems, problems
    defaults: dict[str, Any] = {}
    for bicep in files:  # main.bicep's defaults, then the module's own
        for name, spec in (bicep.tree.get("parameters") or {}).items():
            if "default" in spec and isinstance(spec["default"], (str, int, float, bool)):
                defaults.setdefault(name, spec["default"])
        for name, spec in (bicep.tree.get("variables") or {}).items():
            if isinstance(spec.get("value"), (str, int, float, bool)):
                defaults.setdefault(name, spec["value"])

    def resolve(value: Any) -> str | None:
        if isinstance(value, Mapping):
            inner = value.get("function", {}).get("parameters", {}).get("value_to_convert")
            return resolve(inner) if inner is not None else ""  # a secret (Key Vault reference): unset
        if not isinstance(value, str):
            return str(value)
        if value in defaults:
            return str(defaults[value]).lower() if isinstance(defaults[value], bool) else str(defaults[value])
        if "${" in value:
            return ""
        return value

    settings: dict[str, str] = {}
    for _bicep, _symbol, kind, body in walk_resources(files):
        if kind == "Microsoft.Web/sites/config" and body.get("name") == "appsettings":
            for name, value in body["properties"].items():
                resolved = resolve(value)
                if resolved is not None:
                    settings[str(name)] = resolved
    return settings


def photo(name: str) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(getattr(data, name)()).convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture
def package() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="imaginem-deploy-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield deployment_copy(base)
    finally:
        for path in base.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def test_seven_steps_succeed_on_a_read_only_package_with_only_the_bicep_settings(
    package: Path, azurite: Azurite, services: Services, unique: str
) -> None:
    assert VENV_PYTHON.exists(), f"no {VENV_PYTHON.parent.parent}: setup-tests.sh makes it from requirements.txt"
    assert not (package / "tests").exists() and (package / "function_app.py").exists()
    app_settings = bicep_app_settings()
    assert "AzureWebJobsStorage__accountName" in app_settings and "PIPELINE_DEFINITION" in app_settings
    app_settings.pop("AzureWebJobsStorage__accountName")
    env = {**app_settings, "AzureWebJobsStorage": azurite.connection_string,
           "PATH": "/usr/bin:/bin", "TMPDIR": "/tmp",
           "PYTHONPATH": str(package)}  # Functions puts the app folder on sys.path; no HOME is set

    batch = f"azlike{unique}"
    submitter = Submitter(services)
    jobs = []
    for index, name in enumerate(("astronaut", "coffee", "chelsea")):
        url = services.storage.upload_blob("inputimages", f"{batch}/{index:04d}-{name}.jpg", photo(name),
                                           content_type="image/jpeg")
        job = submitter.image_job(image_url=url, batch_id=batch, job_id=f"{index:04d}-{name}", pipeline=PIPELINE,
                                  parameters={"original_name": f"{name}.jpg", "mime_type": "image/jpeg"})
        submitter.send(job)
        jobs.append(job)

    before = sorted(str(p) for p in package.rglob("*"))
    command = [str(VENV_PYTHON), "-m", "pipeline.cli", "host", "--workers", "1", "--port", str(free_port())]
    if os.geteuid() == 0:  # root ignores read-only modes: run as an unprivileged user, as Azure does
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        command = [runuser, "-u", "nobody", "--", *command]
    log_path = Path(tempfile.mkdtemp()) / "host.log"
    with log_path.open("wb") as log_file:
        host = subprocess.Popen(command, cwd=package, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    table = services.storage.table(PIPELINELOGS)
    try:
        deadline = time.monotonic() + 420
        entities: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline and len(entities) < len(jobs):
            for job in jobs:
                entity = dict(table.get_entity(batch, job.id))
                if "job_output" in entity:
                    entities[job.id] = entity
            assert host.poll() is None, f"the host exited with {host.returncode}:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.5)
        assert len(entities) == len(jobs), f"jobs did not finish:\n{log_path.read_text()[-3000:]}"
    finally:
        os.killpg(host.pid, signal.SIGTERM)
        host.wait(120)

    for job_id, entity in entities.items():
        exceptions = {k: v for k, v in entity.items() if k.endswith("_exception")}
        assert not exceptions, f"{job_id}: {exceptions}"
        assert {q: entity[q] for q in PIPELINE} == {q: f"step {i}: success" for i, q in enumerate(PIPELINE)}
    astronaut = json.loads(entities["0000-astronaut"]["facedetection_output"])
    assert len(astronaut["faces"]) == 1
    assert sorted(str(p) for p in package.rglob("*")) == before, "files were written into the package"
