"""The failures users meet: a bad key, throttling, timeouts, limited access, missing settings."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from classifiers.backends.azure import (
    LimitedAccessError,
    ServiceError,
    ServiceKeyError,
    make_face_detector,
    make_face_matcher,
    make_image_analyzer,
    make_text_reader,
)
from pipeline.errors import ClassifierError, ConfigurationError, RetryableError
from pipeline.host.azurite import free_port
from pipeline.services import Services
from tests.classifiers.backends.azure.helpers import FAST, make_image, make_job
from tests.classifiers.backends.azure.stub import CognitiveStub

THROTTLED = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}}
ANALYZE = "/vision/v3.2/analyze"


def test_a_bad_key_names_the_setting_and_is_not_retried(offline_services: Services, stub: CognitiveStub) -> None:
    services = replace(offline_services, settings=replace(offline_services.settings, vision_api_key="wrong"))
    with pytest.raises(ServiceKeyError, match="check VISION_API_KEY") as caught:
        make_image_analyzer(services.settings, services.storage, "generalclassification",
                            policy=FAST).analyze(make_image())
    assert isinstance(caught.value, ClassifierError)
    assert caught.value.status == 401
    assert len(stub.calls("POST", ANALYZE)) == 1


def test_a_bad_face_key_names_the_face_setting(offline_services: Services, stub: CognitiveStub) -> None:
    services = replace(offline_services, settings=replace(offline_services.settings, face_api_key="wrong"))
    image = make_image()
    with pytest.raises(ServiceKeyError, match="check FACE_API_KEY and that FACE_ENDPOINT"):
        make_face_detector(services.settings, services.storage, "facedetection",
                           policy=FAST).detect(image, make_job(image.url))
    assert len(stub.calls("POST", "/face/v1.0/detect")) == 1


def test_429_waits_for_retry_after_then_succeeds(offline_services: Services, stub: CognitiveStub) -> None:
    stub.script("POST", ANALYZE, status=429, body=THROTTLED, headers={"Retry-After": "1"})
    started = time.monotonic()
    result = make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                                 policy=FAST).analyze(make_image())
    elapsed = time.monotonic() - started
    assert result["metadata"]["width"] == 640
    assert len(stub.calls("POST", ANALYZE)) == 2
    assert elapsed >= 1.0  # the policy's own backoff is 0.05 s: the wait came from Retry-After


def test_throttling_that_does_not_end_becomes_retryable(offline_services: Services, stub: CognitiveStub) -> None:
    stub.script("POST", ANALYZE, status=429, body=THROTTLED, headers={"Retry-After": "0"}, times=100)
    with pytest.raises(RetryableError, match="still failing after 3 attempts: 429"):
        make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                            policy=FAST).analyze(make_image())
    assert len(stub.calls("POST", ANALYZE)) == FAST.attempts


def test_503_is_retried(offline_services: Services, stub: CognitiveStub) -> None:
    stub.script("POST", "/vision/v3.2/ocr", status=503, body={"error": {"code": "ServiceUnavailable",
                                                                       "message": "Service is unavailable."}})
    result = make_text_reader(offline_services.settings, offline_services.storage, "ocr",
                              policy=FAST).read(make_image())
    assert result["OCR_fullText"]
    assert len(stub.calls("POST", "/vision/v3.2/ocr")) == 2


def test_a_service_that_does_not_answer_times_out_within_bounds(offline_services: Services,
                                                                stub: CognitiveStub) -> None:
    stub.script("POST", ANALYZE, status=0, delay=3.0, times=10)
    policy = replace(FAST, attempts=2, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="still failing after 2 attempts: no answer"):
        make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                            policy=policy).analyze(make_image())
    assert time.monotonic() - started < 2.0
    assert len(stub.calls("POST", ANALYZE)) == 2


def test_an_unreachable_endpoint_is_tried_only_as_often_as_the_policy_says(offline_services: Services) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    services = replace(offline_services, settings=replace(offline_services.settings, vision_endpoint=dead))
    started = time.monotonic()
    with pytest.raises(RetryableError, match="still failing after 3 attempts: no answer"):
        make_image_analyzer(services.settings, services.storage, "generalclassification",
                            policy=FAST).analyze(make_image())
    # the SDK's own urllib3 retries (3 more per attempt, with backoff) would take seconds
    assert time.monotonic() - started < 1.5


def test_a_bad_request_is_not_retried(offline_services: Services, stub: CognitiveStub) -> None:
    stub.script("POST", ANALYZE, status=400, body={"error": {
        "code": "InvalidRequest", "message": "Input image is too small.",
        "innererror": {"code": "InvalidImageSize", "message": "Input image is too small."}}})
    with pytest.raises(ServiceError, match="InvalidImageSize") as caught:
        make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                            policy=FAST).analyze(make_image())
    assert not isinstance(caught.value, ServiceKeyError)
    assert len(stub.calls("POST", ANALYZE)) == 1


def test_limited_access_says_approval_is_needed_and_the_local_way_out(offline_services: Services,
                                                                     stub: CognitiveStub) -> None:
    stub.limited_access = True
    image = make_image()
    with pytest.raises(LimitedAccessError) as caught:
        make_face_detector(offline_services.settings, offline_services.storage, "facedetection",
                           policy=FAST).detect(image, make_job(image.url))
    message = str(caught.value)
    assert "https://aka.ms/facerecognition" in message
    assert "FACEDETECTION_BACKEND=local" in message
    assert len(stub.calls("POST", "/face/v1.0/detect")) == 1


@pytest.mark.parametrize(("field", "setting", "make"), [
    ("vision_endpoint", "VISION_ENDPOINT", make_image_analyzer),
    ("vision_api_key", "VISION_API_KEY", make_text_reader),
    ("face_endpoint", "FACE_ENDPOINT", make_face_detector),
    ("face_api_key", "FACE_API_KEY", make_face_matcher),
])
def test_a_missing_setting_is_named(offline_services: Services, field: str, setting: str, make: object) -> None:
    settings = replace(offline_services.settings, **{field: ""})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=f"{setting} is not set"):
        make(settings, offline_services.storage, "aclassifier")  # type: ignore[operator]
