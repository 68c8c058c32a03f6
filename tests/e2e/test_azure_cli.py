"""The README's Azure CLI commands against Azurite: `az storage message put` drops a job, the host runs it,
`az storage entity query` reads pipelinelogs."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import azure.functions as func
import pytest

from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.step import StepRunner
from tests.pipeline.classifiers import ImageSize, Noop
from tests.pipeline.helpers import job_message
from tests.pipeline.test_images import png

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

AZ = Path(__file__).resolve().parents[2] / ".venv" / "az" / "bin" / "az"


def az(*args: str, connection_string: str) -> object:
    assert AZ.exists(), "the Azure CLI is missing: run scripts/setup.sh (it installs it into .venv/az)"
    done = subprocess.run([str(AZ), *args, "--connection-string", connection_string, "-o", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "null")


def test_az_storage_message_put_and_entity_query(services: Services, unique: str) -> None:
    names = [f"azsize{unique}", f"aznoop{unique}"]
    url = services.storage.upload_blob("inputimages", f"az{unique}/photo.png", png(64, 48), content_type="image/png")
    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=5))
    app = func.FunctionApp()
    app.register_functions(classifier_blueprint(names[0], lambda s: ImageSize(names[0]), runner))
    app.register_functions(classifier_blueprint(names[1], lambda s: Noop(names[1]), runner))
    host = LocalHost(app=app, settings=services.settings, config=QueueConfig.load(), http_port=None)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    assert host.ready.wait(30)
    connection = services.settings.storage_connection_string
    try:
        message = json.dumps(job_message("az-job", names, batch_id=f"az{unique}", image_url=url))
        az("storage", "message", "put", "--queue-name", names[0], "--content", message,
           connection_string=connection)
        deadline = time.monotonic() + 60
        while True:
            entities = az("storage", "entity", "query", "--table-name", "pipelinelogs",
                          "--filter", f"PartitionKey eq 'az{unique}'", connection_string=connection)
            items = entities["items"]  # type: ignore[index]
            if items and "job_output" in items[0]:
                break
            assert time.monotonic() < deadline, f"the job did not finish: {items}"
            time.sleep(0.5)
    finally:
        host.stop.set()
        thread.join(30)
    [entity] = items
    assert entity["RowKey"] == "az-job"
    assert (entity[names[0]], entity[names[1]]) == ("step 0: success", "step 1: success")
    assert json.loads(entity[f"{names[0]}_output"]) == {"metadata": {"width": 64, "height": 48, "format": "PNG"}}
