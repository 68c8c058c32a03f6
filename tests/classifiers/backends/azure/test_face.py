"""facedetection, faceprint and facematch on the Face service, against the stub (and Azurite for the table)."""

from __future__ import annotations

from typing import Any

import pytest

from classifiers.backends.azure import make_face_detector, make_face_matcher, make_face_printer
from classifiers.backends.protocols import FaceMatcher
from pipeline.errors import ClassifierError
from pipeline.services import Services
from tests.classifiers.backends.azure.helpers import FAST, make_image, make_job
from tests.classifiers.backends.azure.stub import KEY, CognitiveStub, StubFace

DETECT = "/face/v1.0/detect"


def test_detect_asks_for_the_project_models_and_returns_the_contract(offline_services: Services,
                                                                     stub: CognitiveStub) -> None:
    image = make_image()
    faces = make_face_detector(offline_services.settings, offline_services.storage, "facedetection",
                               policy=FAST).detect(image, make_job(image.url))
    [call] = stub.calls("POST", DETECT)
    assert call.headers["ocp-apim-subscription-key"] == KEY
    assert call.query == {
        "returnFaceId": "true", "returnFaceLandmarks": "true", "returnFaceAttributes": "qualityForRecognition",
        "recognitionModel": "recognition_04", "returnRecognitionModel": "true", "detectionModel": "detection_03",
        "faceIdTimeToLive": "86400",
    }
    assert call.body == image.data
    [face] = faces
    assert isinstance(face["faceId"], str) and len(face["faceId"]) == 36
    assert face["faceRectangle"] == {"top": 96, "left": 160, "width": 192, "height": 192}
    assert len(face["faceLandmarks"]) == 27
    assert set(face["faceLandmarks"]["pupilLeft"]) == {"x", "y"}
    assert face["faceAttributes"] == {"qualityForRecognition": "high"}
    assert "confidence" not in face  # the service gives none; we never invent one


def test_detect_maps_a_downscaled_image_back(offline_services: Services, stub: CognitiveStub) -> None:
    image = make_image(width=4800, height=600)  # wider than the 4096 pixels Face accepts
    [face] = make_face_detector(offline_services.settings, offline_services.storage, "facedetection",
                                policy=FAST).detect(image, make_job(image.url))
    rect = face["faceRectangle"]
    assert abs(rect["left"] - 1200) <= 2 and abs(rect["width"] - 1440) <= 2
    assert abs(face["faceLandmarks"]["pupilLeft"]["x"] - (1200 + 1440 * 0.2)) <= 3


def test_faceprint_reuses_azure_detection_ids_without_a_call(offline_services: Services,
                                                             stub: CognitiveStub) -> None:
    image = make_image()
    faces = make_face_detector(offline_services.settings, offline_services.storage, "facedetection",
                               policy=FAST).detect(image, make_job(image.url))
    job = make_job(image.url, outputs={"facedetection": {"faces": faces, "backend": "azure"}})
    printed = make_face_printer(offline_services.settings, offline_services.storage, "faceprint",
                                policy=FAST).prints(image, faces, job)
    assert [f["print"] for f in printed] == [f["faceId"] for f in faces]
    assert len(stub.calls("POST", DETECT)) == 1


def test_faceprint_after_local_detection_detects_again_and_pairs_by_overlap(offline_services: Services,
                                                                            stub: CognitiveStub) -> None:
    image = make_image()
    local = [
        {"faceId": "local-1", "faceRectangle": {"left": 165, "top": 100, "width": 185, "height": 190}},
        {"faceId": "local-2", "faceRectangle": {"left": 500, "top": 300, "width": 60, "height": 60}},
    ]
    job = make_job(image.url, outputs={"facedetection": {"faces": local, "backend": "local"}})
    printed = make_face_printer(offline_services.settings, offline_services.storage, "faceprint",
                                policy=FAST).prints(image, local, job)
    assert len(stub.calls("POST", DETECT)) == 1
    [face] = printed  # the service sees no face where local-2 is
    assert face["faceId"] == "local-1" and len(face["print"]) == 36


@pytest.mark.azurite
def test_facematch_finds_the_same_person_in_a_later_job(azure_services: Services, stub: CognitiveStub,
                                                        unique: str) -> None:
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch",
                                policy=FAST, face_list_prefix=f"t{unique}")
    first = _run(azure_services, stub, matcher, "https://images.example.com/a.jpg", "job-a")
    assert [m["matches"] for m in first] == [[]]

    [create] = stub.calls("PUT", f"/face/v1.0/facelists/t{unique}-000")
    assert create.json["recognitionModel"] == "recognition_04"
    [add] = stub.calls("POST", f"/face/v1.0/facelists/t{unique}-000/persistedfaces")
    assert add.query["detectionModel"] == "detection_03"
    assert add.query["targetFace"] == "160,96,192,192"
    assert add.json == {"url": "https://images.example.com/a.jpg"}

    second = _run(azure_services, stub, matcher, "https://images.example.com/b.jpg", "job-b")
    [entry] = second
    assert set(entry) == {"faceId", "faceRectangle", "matches"}
    [match] = entry["matches"]
    assert match["image_url"] == "https://images.example.com/a.jpg"
    assert match["face_rectangle"] == {"left": 160, "top": 96, "width": 192, "height": 192}
    assert match["confidence"] == pytest.approx(0.9321)
    assert [match["id"]] == list(stub.face_lists[f"t{unique}-000"].faces)[:1]
    [similar, *_] = stub.calls("POST", "/face/v1.0/findsimilars")
    assert similar.json["faceListId"] == f"t{unique}-000" and similar.json["mode"] == "matchPerson"

    stub.faces = [StubFace("bob")]
    third = _run(azure_services, stub, matcher, "https://images.example.com/c.jpg", "job-c")
    assert third[0]["matches"] == []

    row = azure_services.storage.table("persistedfaces").get_entity(f"t{unique}-000", match["id"])
    assert row["job_id"] == "job-a" and row["image_url"] == "https://images.example.com/a.jpg"


@pytest.mark.azurite
def test_a_redelivered_job_is_not_stored_twice_nor_matches_itself(azure_services: Services,
                                                                  stub: CognitiveStub, unique: str) -> None:
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch",
                                policy=FAST, face_list_prefix=f"t{unique}")
    _run(azure_services, stub, matcher, "https://images.example.com/a.jpg", "job-a")
    again = _run(azure_services, stub, matcher, "https://images.example.com/a.jpg", "job-a")
    assert again[0]["matches"] == []
    assert len(stub.face_lists[f"t{unique}-000"].faces) == 1


@pytest.mark.azurite
def test_a_full_face_list_rolls_over_to_the_next(azure_services: Services, stub: CognitiveStub,
                                                 unique: str) -> None:
    stub.face_list_capacity = 2
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch",
                                policy=FAST, face_list_prefix=f"t{unique}", capacity=2)
    for i in range(3):
        _run(azure_services, stub, matcher, f"https://images.example.com/{i}.jpg", f"job-{i}")
    assert {k: len(v.faces) for k, v in stub.face_lists.items()} == {f"t{unique}-000": 2, f"t{unique}-001": 1}
    last = _run(azure_services, stub, matcher, "https://images.example.com/x.jpg", "job-x")
    assert sorted(m["image_url"] for m in last[0]["matches"]) == [
        f"https://images.example.com/{i}.jpg" for i in range(3)]


@pytest.mark.azurite
def test_a_list_filled_by_another_worker_answers_full_and_the_next_is_opened(
    azure_services: Services, stub: CognitiveStub, unique: str
) -> None:
    stub.face_list_capacity = 1  # the matcher believes 1,000: it learns from the 403 QuotaExceeded
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch",
                                policy=FAST, face_list_prefix=f"t{unique}")
    _run(azure_services, stub, matcher, "https://images.example.com/a.jpg", "job-a")
    second = _run(azure_services, stub, matcher, "https://images.example.com/b.jpg", "job-b")
    assert len(second[0]["matches"]) == 1
    assert sorted(stub.face_lists) == [f"t{unique}-000", f"t{unique}-001"]


@pytest.mark.azurite
def test_an_image_the_cloud_cannot_reach_is_added_from_its_bytes(azure_services: Services,
                                                                 stub: CognitiveStub, unique: str) -> None:
    url = azure_services.storage.upload_blob("inputimages", f"batch-azure/{unique}.jpg", make_image().data,
                                             content_type="image/jpeg")
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch",
                                policy=FAST, face_list_prefix=f"t{unique}")
    _run(azure_services, stub, matcher, url, "job-a", remote=False)
    [add] = stub.calls("POST", f"/face/v1.0/facelists/t{unique}-000/persistedfaces")
    assert add.headers["content-type"] == "application/octet-stream"
    assert add.body == make_image().data


@pytest.mark.azurite
def test_facematch_refuses_local_prints(azure_services: Services) -> None:
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch", policy=FAST)
    job = make_job("https://images.example.com/a.jpg")
    face = {"faceId": "f", "faceRectangle": {"left": 1, "top": 1, "width": 9, "height": 9}, "print": [0.1] * 128}
    with pytest.raises(ClassifierError, match="set FACEPRINT_BACKEND and FACEMATCH_BACKEND alike"):
        matcher.match_and_store(job, [face])


def _run(services: Services, stub: CognitiveStub, matcher: FaceMatcher, url: str, job_id: str, *,
         remote: bool = True) -> list[dict[str, Any]]:
    """facedetection → faceprint → facematch for one image, as the pipeline would chain them."""
    image = make_image(url)
    if remote:
        stub.remote[url] = image.data
    detector = make_face_detector(services.settings, services.storage, "facedetection", policy=FAST)
    printer = make_face_printer(services.settings, services.storage, "faceprint", policy=FAST)
    job = make_job(url, job_id=job_id)
    faces = detector.detect(image, job)
    job = make_job(url, job_id=job_id, outputs={"facedetection": {"faces": faces, "backend": "azure"}})
    printed = printer.prints(image, faces, job)
    return matcher.match_and_store(job, printed)
