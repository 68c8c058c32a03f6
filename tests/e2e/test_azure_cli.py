"""The README's Azure CLI block, run as it is against Azurite: `source .venv/bin/activate` finds `az`,
`az storage blob upload` and `az storage message put` drop the README's job.json, the host runs the real
generalclassification and pipelineoutput, and `imaginem results --label cat` shows the job.

Only what points at the emulator changes: its ports (the session's Azurite has free ones), the batch
id (unique per run), and the venv's path (the block runs in a temporary folder)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func
import pytest

from classifiers import generalclassification, pipelineoutput
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.step import StepRunner

pytestmark = [pytest.mark.azurite, pytest.mark.models, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_block(after: str, language: str) -> str:
    """The first ```language block that follows the text ``after`` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(text, start)
    assert match, f"no {language} block after {after!r} in the README"
    return match.group(1)


def to_this_run(text: str, services: Services, batch: str) -> str:
    """The README's text pointed at the session's Azurite and a unique batch."""
    storage = services.storage
    for default, url in (("127.0.0.1:10000", storage.blob_service.url), ("127.0.0.1:10001", storage.queue_service.url),
                         ("127.0.0.1:10002", storage.table_service.url)):
        text = text.replace(default, urlsplit(url).netloc)
    return text.replace("batch-7", batch).replace("source .venv/", f"source {ROOT}/.venv/")


def test_the_readme_azure_cli_block_ends_in_results_with_the_cat(services: Services, unique: str,
                                                                  tmp_path: Path) -> None:
    assert (ROOT / ".venv" / "bin" / "az").exists(), "run scripts/setup-tests.sh (it links .venv/bin/az)"
    batch = f"batch-7-{unique}"
    block = to_this_run(readme_block("tests/e2e/test_azure_cli.py` runs this block", "bash"), services, batch)
    job = json.loads(to_this_run(readme_block("A job message (the contract", "json"), services, batch))
    assert job["job_definition"]["processing_pipeline"] == ["generalclassification", "pipelineoutput"]
    (tmp_path / "job.json").write_text(json.dumps(job))

    settings = replace(services.settings, data_dir=tmp_path / "data")
    hosted = replace(services, settings=settings)
    runner = Lazy(lambda: StepRunner(services=hosted, max_dequeue_count=5))
    app = func.FunctionApp()
    for name, build in ((generalclassification.NAME, generalclassification.build),
                        (pipelineoutput.NAME, pipelineoutput.build)):
        app.register_functions(classifier_blueprint(name, build, runner))
    host = LocalHost(app=app, settings=settings, config=QueueConfig.load(), http_port=None)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    assert host.ready.wait(30)
    # Nothing but the block's own export tells az where storage is; imaginem reads its settings as `func` would.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AZURE_STORAGE", "COLUMNS"))}
    env.update(AzureWebJobsStorage=settings.storage_connection_string, IMAGINEM_DATA_DIR=str(settings.data_dir),
               PYTHONPATH=str(ROOT), PATH="/usr/bin:/bin")
    try:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
    finally:
        host.stop.set()
        thread.join(60)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    assert (tmp_path / "photos" / "chelsea-the-cat.jpg").is_file()
    [row] = [line for line in done.stdout.splitlines() if "job-42" in line and batch in line
             and "succeeded" in line and "cat.jpg" in line]  # a long URL loses its middle
    assert re.search(r"\bcat\b", row), row
