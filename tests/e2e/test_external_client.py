"""A job dropped by an external client (the plain storage SDK) runs through facecrop and pipelineoutput."""

from __future__ import annotations

import io
import json
import threading
import time

import azure.functions as func
import PIL.Image
import pytest
from azure.storage.queue import QueueClient

from classifiers import facecrop, pipelineoutput
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.sql.connection import Database
from pipeline.sql.queries import ResultsQueries
from pipeline.step import StepRunner

pytestmark = pytest.mark.azurite


def test_a_job_from_the_plain_sdk_ends_with_the_contract_entity_and_a_sql_row(services: Services, unique: str) -> None:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (120, 90), (10, 200, 10)).save(buffer, format="JPEG")
    image_url = services.storage.upload_blob("inputimages", f"external-{unique}/photo.jpg", buffer.getvalue(),
                                             content_type="image/jpeg")
    detection = {"faces": [{"faceId": "f-0", "faceRectangle": {"left": 10, "top": 10, "width": 40, "height": 50},
                            "confidence": 0.9}]}
    message = {
        "job_definition": {
            "id": f"ext-{unique}",
            "batch_id": f"external-{unique}",
            "input": {"image_url": image_url, "image_classifiers": [],
                      "image_parameters": {"original_name": "photo.jpg", "mime_type": "image/jpeg"}},
            "processing_pipeline": ["facecrop", "pipelineoutput"],
            "processing_step": 0,
        },
        "job_output": {"facedetection": detection},
    }

    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=5))
    app = func.FunctionApp()
    app.register_functions(classifier_blueprint(facecrop.NAME, facecrop.build, runner))
    app.register_functions(classifier_blueprint(pipelineoutput.NAME, pipelineoutput.build, runner))
    host = LocalHost(app=app, settings=services.settings, config=QueueConfig.load(), http_port=None)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    assert host.ready.wait(30)
    try:
        # The external client: nothing of ours, just the SDK and the connection string.
        QueueClient.from_connection_string(services.settings.storage_connection_string, "facecrop").send_message(
            json.dumps(message))
        table = services.storage.table(PIPELINELOGS)
        deadline = time.monotonic() + 60
        while "job_output" not in (entity := _entity(table, f"external-{unique}", f"ext-{unique}")):
            assert time.monotonic() < deadline, f"job did not finish: {entity}"
            time.sleep(0.1)
    finally:
        host.stop.set()
        thread.join(30)

    final = json.loads(entity.pop("job_output"))
    crop = json.loads(entity["facecrop_output"])
    assert set(entity) == {"PartitionKey", "RowKey", "image_url", "facecrop", "facecrop_output", "pipelineoutput",
                           "pipelineoutput_output", "fingerprint",
                           "facecrop_timings", "pipelineoutput_timings"}
    assert entity["facecrop"] == "step 0: success" and entity["pipelineoutput"] == "step 1: success"
    assert crop["facesUrls"][0].endswith(f"/faces/external-{unique}/ext-{unique}/face-000.png")
    assert json.loads(entity["pipelineoutput_output"])["done"] is True
    assert final["job_output"]["facedetection"] == detection

    row = ResultsQueries(database=Database.from_settings(services.settings)).job(f"ext-{unique}")
    assert row is not None and row["batch_id"] == f"external-{unique}"
    assert row["job_output"]["facecrop"] == crop and row["job_output"]["facedetection"] == detection


def _entity(table: object, batch: str, job: str) -> dict[str, object]:
    try:
        return dict(table.get_entity(batch, job))  # type: ignore[attr-defined]
    except Exception:
        return {}
