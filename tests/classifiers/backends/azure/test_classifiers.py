"""The Azure backends behind the classifier modules: mixing backends, and a whole job through the steps."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from classifiers import facecrop, facedetection, facematch, faceprint, generalclassification, ocr, pipelineoutput
from pipeline.classifier import NO_CONTEXT, Classifier
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.classifiers.backends.azure.helpers import make_image, make_job
from tests.classifiers.backends.azure.stub import CognitiveStub

pytestmark = pytest.mark.azurite

PIPELINE = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch",
            "pipelineoutput"]


def test_generalclassification_on_azure_beside_facematch_on_local(services: Services,
                                                                  stub: CognitiveStub) -> None:
    settings = replace(services.settings, vision_endpoint=stub.endpoint, vision_api_key=stub.key)
    mixed = replace(services, settings=settings)
    assert settings.backend_for("generalclassification") == "azure"
    assert settings.backend_for("facematch") == "local"
    image = make_image()
    job = make_job(image.url, outputs={"faceprint": {"faces": []}})

    general = generalclassification.build(mixed)(job, image, NO_CONTEXT)
    matches = facematch.build(mixed)(job, None, NO_CONTEXT)

    assert general["backend"] == "azure" and general["metadata"]["width"] == 640
    assert len(stub.calls("POST", "/vision/v3.2/analyze")) == 1
    assert matches["matches"] == [] and matches["backend"] == "local"


def test_an_override_sends_one_vision_classifier_back_to_local(services: Services, stub: CognitiveStub) -> None:
    settings = replace(services.settings, vision_endpoint=stub.endpoint, vision_api_key=stub.key,
                       backends={"ocr": "local"})
    assert settings.backend_for("generalclassification") == "azure"
    assert settings.backend_for("ocr") == "local"


def _steps(services: Services) -> list[Classifier]:
    """Every classifier as the Functions app builds it: the settings alone choose the backends."""
    modules = (generalclassification, ocr, facedetection, facecrop, faceprint, facematch, pipelineoutput)
    return [module.build(services) for module in modules]  # type: ignore[attr-defined]


def _take(services: Services, queue: str, job_id: str) -> str:
    """This job's message from the queue (other tests may have left theirs)."""
    client = services.storage.queue(queue)
    for message in client.receive_messages(max_messages=32, visibility_timeout=30):
        if json.loads(message.content)["job_definition"]["id"] == job_id:
            client.delete_message(message)
            return str(message.content)
    raise AssertionError(f"no message for {job_id} on {queue}")


def _run_job(services: Services, steps: list[Classifier], image_url: str, job_id: str, batch: str) -> dict[str, Any]:
    runner = StepRunner(services=services, max_dequeue_count=3)
    body = json.dumps({"job_definition": {
        "id": job_id, "batch_id": batch, "input": {"image_url": image_url},
        "processing_pipeline": PIPELINE, "processing_step": 0}, "job_output": {}})
    for index, classifier in enumerate(steps):
        assert runner.run(body, queue=PIPELINE[index], classifier=classifier) == Outcome.SUCCESS
        if index + 1 < len(steps):
            body = _take(services, PIPELINE[index + 1], job_id)
    return dict(services.storage.table(PIPELINELOGS).get_entity(batch, job_id))


def test_a_seven_step_job_through_the_stub_fills_pipelinelogs(azure_services: Services, stub: CognitiveStub,
                                                              unique: str) -> None:
    steps = _steps(azure_services)
    batch = f"azure{unique}"
    urls = [azure_services.storage.upload_blob("inputimages", f"{batch}/{n}.jpg", make_image().data,
                                               content_type="image/jpeg") for n in ("a", "b")]
    _run_job(azure_services, steps, urls[0], "job-a", batch)
    logged = _run_job(azure_services, steps, urls[1], "job-b", batch)

    assert {q: logged[q] for q in PIPELINE} == {q: f"step {i}: success" for i, q in enumerate(PIPELINE)}
    assert not [k for k in logged if k.endswith("_exception")]
    outputs = {name: json.loads(logged[f"{name}_output"]) for name in PIPELINE}
    for name in ("generalclassification", "ocr", "facedetection", "faceprint", "facematch"):
        assert outputs[name]["backend"] == "azure", name
    assert outputs["ocr"]["OCR_fullText"] == "HELLO WORLD\nIMAGINEM"
    [face] = outputs["facedetection"]["faces"]
    assert outputs["faceprint"]["faces"][0]["print"] == face["faceId"]
    assert len(outputs["facecrop"]["facesUrls"]) == 1
    [entry] = outputs["facematch"]["matches"]
    assert [m["image_url"] for m in entry["matches"]] == [urls[0]]
    assert json.loads(logged["job_output"])["job_output"]["pipelineoutput"]["done"] is True
    # Azurite is on loopback: every image went to the "cloud" as bytes, never as a URL
    assert all(r.headers.get("content-type") != "application/json; charset=utf-8"
               for r in stub.requests if r.path.endswith(("analyze", "ocr", "detect", "persistedfaces")))
