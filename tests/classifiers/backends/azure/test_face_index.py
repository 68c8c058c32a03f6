"""The Face service's face lists behind FaceIndexBackend: the order of add and search, forgetting, no persons."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from classifiers.backends import factory
from classifiers.backends.azure import make_face_detector, make_face_index, make_face_matcher, make_face_printer
from classifiers.backends.azure.face_index import NO_PERSONS, AzureFaceIndex
from classifiers.backends.face_index import PersonsUnsupportedError
from pipeline.job import Job
from pipeline.services import Services
from tests.classifiers.backends.azure.helpers import FAST, make_image, make_job
from tests.classifiers.backends.azure.stub import CognitiveStub

ADD = r"/face/v1\.0/facelists/[^/]+/persistedfaces"


def _index(services: Services, unique: str) -> AzureFaceIndex:
    return make_face_index(services.settings, services.storage, "facematch", policy=FAST,
                           face_list_prefix=f"t{unique}")


def _printed(services: Services, stub: CognitiveStub, url: str, job: Job) -> list[dict[str, Any]]:
    image = make_image(url)
    stub.remote[url] = image.data
    faces = make_face_detector(services.settings, services.storage, "facedetection", policy=FAST).detect(image, job)
    return make_face_printer(services.settings, services.storage, "faceprint", policy=FAST).prints(image, faces, job)


def _match(services: Services, stub: CognitiveStub, index: AzureFaceIndex, url: str, job_id: str,
           batch_id: str = "batch-azure") -> list[dict[str, Any]]:
    job = replace(make_job(url, job_id=job_id), batch_id=batch_id)
    printed = _printed(services, stub, url, job)
    matcher = make_face_matcher(services.settings, services.storage, "facematch", index=index)
    return matcher.match_and_store(job, printed)


@pytest.mark.azurite
def test_the_factory_gives_the_face_lists_when_facematch_is_azure(azure_services: Services) -> None:
    index = factory.face_index(settings=azure_services.settings, storage=azure_services.storage)
    assert isinstance(index, AzureFaceIndex) and index.kind == "azure"
    matcher = factory.face_matcher("facematch", settings=azure_services.settings,
                                   storage=azure_services.storage, index=index)
    assert matcher.backend == "azure"


@pytest.mark.azurite
def test_a_jobs_faces_are_added_before_its_search(azure_services: Services, stub: CognitiveStub,
                                                  unique: str) -> None:
    _match(azure_services, stub, _index(azure_services, unique), "https://images.example.com/a.jpg", "job-a")
    order = [r.path for r in stub.requests if r.path.endswith(("persistedfaces", "findsimilars"))]
    assert order == [f"/face/v1.0/facelists/t{unique}-000/persistedfaces", "/face/v1.0/findsimilars"]


@pytest.mark.azurite
def test_two_jobs_at_once_find_each_other_at_least_once(azure_services: Services, stub: CognitiveStub,
                                                        unique: str) -> None:
    index = _index(azure_services, unique)
    jobs = {name: replace(make_job(f"https://images.example.com/{name}.jpg", job_id=name)) for name in ("p", "q")}
    printed = {name: _printed(azure_services, stub, job.image_url, job) for name, job in jobs.items()}
    matcher = make_face_matcher(azure_services.settings, azure_services.storage, "facematch", index=index)
    results: dict[str, list[dict[str, Any]]] = {}
    start = threading.Barrier(2)

    def run(name: str) -> None:
        start.wait()
        results[name] = matcher.match_and_store(jobs[name], printed[name])

    threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(results[name][0]["matches"]) for name in jobs) >= 1


@pytest.mark.azurite
def test_the_same_job_id_in_two_batches_is_two_faces(azure_services: Services, stub: CognitiveStub,
                                                     unique: str) -> None:
    index = _index(azure_services, unique)
    _match(azure_services, stub, index, "https://images.example.com/a.jpg", "job-a", batch_id="one")
    [entry] = _match(azure_services, stub, index, "https://images.example.com/a.jpg", "job-a", batch_id="two")
    assert set(entry) == {"faceId", "faceRectangle", "matches"}  # no person_id: the Face service keeps none
    assert len(entry["matches"]) == 1
    assert len(stub.face_lists[f"t{unique}-000"].faces) == 2


@pytest.mark.azurite
def test_forget_deletes_the_persisted_face_and_its_row(azure_services: Services, stub: CognitiveStub,
                                                       unique: str) -> None:
    index = _index(azure_services, unique)
    _match(azure_services, stub, index, "https://images.example.com/a.jpg", "job-a")
    _match(azure_services, stub, index, "https://images.example.com/b.jpg", "job-b", batch_id="other")
    [persisted] = [pid for pid in stub.face_lists[f"t{unique}-000"].faces
                   if (face := index.face(pid)) is not None and face.job_id == "job-a"]
    assert index.forget_job("batch-azure", "job-a") == 1
    [delete] = stub.calls("DELETE", rf"/face/v1\.0/facelists/t{unique}-000/persistedfaces/{persisted}")
    assert persisted not in stub.face_lists[f"t{unique}-000"].faces and index.face(persisted) is None
    assert index.forget_job("batch-azure", "job-a") == 0
    [entry] = _match(azure_services, stub, index, "https://images.example.com/c.jpg", "job-c")
    assert [m["image_url"] for m in entry["matches"]] == ["https://images.example.com/b.jpg"]
    assert index.forget_batch("other") == 1 and index.forget_faces({"no-such-face"}) == 0


@pytest.mark.azurite
def test_a_face_gone_from_its_list_already_is_still_forgotten(azure_services: Services, stub: CognitiveStub,
                                                              unique: str) -> None:
    index = _index(azure_services, unique)
    _match(azure_services, stub, index, "https://images.example.com/a.jpg", "job-a")
    [persisted] = stub.face_lists[f"t{unique}-000"].faces
    stub.face_lists[f"t{unique}-000"].faces.clear()  # an erasure interrupted after the Face service's delete
    assert index.forget_faces([persisted]) == 1 and index.face(persisted) is None


@pytest.mark.azurite
def test_person_operations_say_persons_need_a_local_index(azure_services: Services) -> None:
    index = make_face_index(azure_services.settings, azure_services.storage, "facematch", policy=FAST)
    calls = [lambda: index.persons(), lambda: index.person_of("f"),
             lambda: index.rename("p", "Ann"), lambda: index.merge(["a"], "b"), lambda: index.split("f"),
             lambda: index.forget_person("p"), lambda: index.faces_of("p"), lambda: index.resolve("p")]
    for call in calls:
        with pytest.raises(PersonsUnsupportedError, match="persons need a local face index"):
            call()
    assert "table or postgresql" in NO_PERSONS
    assert index.names() == {}  # no persons, no names: a face lookup still answers
