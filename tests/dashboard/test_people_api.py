"""The People API on the local host, a real Azurite and both face index backends: persons listed from the
index, named, merged, split and hidden; changes need the dashboard's header; crops are sharp squares."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import azure.functions as func
import numpy as np
import PIL.Image
import pytest
import requests

from classifiers.backends import factory as backends
from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace
from dashboard import dashboard_blueprint
from dashboard.people_api import PeopleContext, people_blueprint
from pipeline.functions import Lazy
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.helpers import job_message
from tests.support.face_index_reset import empty_table_face_index

pytestmark = [pytest.mark.azurite, pytest.mark.pgvector]

HEADER = {"X-Imaginem-Upload": "1"}


@dataclass(frozen=True)
class People:
    api: str
    index: FaceIndexBackend
    alice: str
    bob: str


def jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    buffer = io.BytesIO()
    image = PIL.Image.new("RGB", size, (30, 90, 200))
    image.paste((240, 200, 160), (150, 100, 230, 190))  # the "face"
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(params=["table", "postgresql"])
def people(request: pytest.FixtureRequest, settings: Settings) -> Iterator[People]:
    if request.param == "postgresql":
        settings = replace(settings, face_index_connection_string=request.getfixturevalue("pgvector"))
    services = Services.from_settings(settings)
    empty_table_face_index(services.storage)
    index = backends.face_index(settings=services.settings, storage=services.storage)
    rng = np.random.default_rng(3)
    alice, bob = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 128)).astype(np.float32))
    writer = OutputWriter(database=Database.from_settings(settings))
    for job, faces in (("a1", [("fa1", alice)]), ("a2", [("fa2", alice + 0.01)]), ("b1", [("fb1", bob)])):
        url = services.storage.upload_blob("inputimages", f"fam/{job}.jpg", jpeg(), content_type="image/jpeg")
        index.add_and_search(JobKey(batch_id="fam", job_id=job, image_url=url),
                             [NewFace(face_id=f, face_rectangle=(150, 100, 80, 90), print=v.astype(np.float32))
                              for f, v in faces], threshold=0.5, limit=20)
        message = job_message(job, batch_id="fam")
        message["job_definition"]["input"]["image_url"] = url
        writer.write(message)
    app = func.FunctionApp()
    app.register_functions(dashboard_blueprint(settings))
    context = Lazy(lambda: PeopleContext.from_services(Services.from_settings(settings)))
    app.register_functions(people_blueprint(context=context))
    host = LocalHost(app=app, settings=settings, config=QueueConfig.load(), http_port=0)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    assert host.ready.wait(30) and host.http_server is not None
    alice_id, bob_id = index.person_of("fa1"), index.person_of("fb1")
    assert alice_id and bob_id
    yield People(f"http://127.0.0.1:{host.http_server.server_port}/api", index, alice_id, bob_id)
    host.stop.set()
    thread.join(30)
    for opened in (index, context.get().index):
        close = getattr(opened, "close", None)
        if close is not None:
            close()


def test_people_come_from_the_index_and_a_users_changes_stick(people: People) -> None:
    api = people.api
    listed = requests.get(f"{api}/people", timeout=10).json()
    assert [(p["id"], p["faces"], p["photos"], p["name"]) for p in listed["people"]] == [
        (people.alice, 2, 2, ""), (people.bob, 1, 1, "")]
    assert listed["next"] is None and listed["backend"] == people.index.kind and listed["note"] is None

    nasty = '<img src=x onerror=alert(1)> "Alice"'
    assert requests.patch(f"{api}/people/{people.alice}", json={"name": nasty}, timeout=10).status_code == 403
    changed = requests.patch(f"{api}/people/{people.alice}", json={"name": nasty}, headers=HEADER, timeout=10)
    assert changed.status_code == 200 and changed.json()["name"] == nasty
    taken = requests.patch(f"{api}/people/{people.bob}", json={"name": nasty}, headers=HEADER, timeout=10)
    assert taken.status_code == 409
    assert requests.patch(f"{api}/people/{people.bob}", json={"name": "Bob"}, headers=HEADER, timeout=10).ok

    found = requests.get(f"{api}/people", params={"name": " bO "}, timeout=10).json()  # part of a name, any case
    assert [p["id"] for p in found["people"]] == [people.bob] and found["next"] is None
    found = requests.get(f"{api}/people", params={"name": "\"", "limit": 1}, timeout=10).json()
    assert [p["id"] for p in found["people"]] == [people.alice] and found["next"] is None
    assert requests.get(f"{api}/people", params={"name": "x" * 101}, timeout=10).status_code == 400

    page = requests.get(f"{api}/people/Bob", timeout=10).json()  # by name, too
    assert page["person"]["id"] == people.bob and page["photos"][0]["job_id"] == "b1"
    assert page["photos"][0]["name"] == "b1.jpg" and page["photos"][0]["image"].startswith("/api/images/")
    missing = requests.get(f"{api}/people/Bobb", timeout=10)
    assert missing.status_code == 404 and missing.json()["near"] == ["Bob"]

    crop = requests.get(f"{api}{page['person']['crop'].removeprefix('/api')}", timeout=10)
    assert crop.status_code == 200 and crop.headers["Content-Type"] == "image/jpeg"
    assert PIL.Image.open(io.BytesIO(crop.content)).size == (256, 256)
    assert "sandbox" in crop.headers["Content-Security-Policy"]

    merged = requests.post(f"{api}/people/{people.alice}/merge", json={"ids": ["Bob"]}, headers=HEADER, timeout=10)
    assert merged.status_code == 200 and (merged.json()["faces"], merged.json()["name"]) == (3, nasty)
    results = requests.get(f"{api}/people/{people.bob}/results", timeout=10).json()  # the old id resolves
    assert sorted(c["id"] for c in results["results"]) == ["a1", "a2", "b1"]

    split = requests.post(f"{api}/faces/fb1/person", json={"new": True}, headers=HEADER, timeout=10)
    assert split.status_code == 200 and split.json()["person_id"] != people.alice
    assert requests.get(f"{api}/faces?id=fa1&id=fb1", timeout=10).json()["faces"] == {
        "fa1": {"person_id": people.alice, "name": nasty}, "fb1": {"person_id": split.json()["person_id"], "name": ""}}
    back = requests.post(f"{api}/faces/fb1/person", json={"to": people.alice}, headers=HEADER, timeout=10)
    assert back.ok and back.json()["person_id"] == people.alice  # moved to an existing person
    assert requests.post(f"{api}/faces/fb1/person", json={"new": True}, headers=HEADER, timeout=10).ok
    assert requests.post(f"{api}/faces/nope/person", json={"new": True}, headers=HEADER, timeout=10).status_code == 404
    assert requests.post(f"{api}/faces/fb1/person", json={"to": 3}, headers=HEADER, timeout=10).status_code == 400

    hidden = requests.patch(f"{api}/people/{people.alice}", json={"hidden": True}, headers=HEADER, timeout=10)
    assert hidden.ok and hidden.json()["hidden"] is True
    assert people.alice not in [p["id"] for p in requests.get(f"{api}/people", timeout=10).json()["people"]]
    assert people.alice in [p["id"] for p in requests.get(f"{api}/people?hidden=1", timeout=10).json()["people"]]
    assert requests.get(f"{api}/people?limit=0", timeout=10).status_code == 400


def test_a_backend_without_persons_is_a_501_that_says_why() -> None:
    from classifiers.backends.azure.face_index import NO_PERSONS
    from classifiers.backends.face_index import PersonsUnsupportedError
    from dashboard.people_api import _guarded

    def work() -> func.HttpResponse:
        raise PersonsUnsupportedError(NO_PERSONS)

    answer = _guarded(work)
    assert answer.status_code == 501
    assert "persons need a local face index" in json.loads(answer.get_body())["error"]
