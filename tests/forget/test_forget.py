"""Forgetting a batch, a job and a person against real Azurite and SQLite, with each face index backend
(the ``table`` one on Azurite, the ``postgresql`` one on a real PostgreSQL with pgvector): afterwards a search
of every table, blob, queue message, SQL row and face index row finds nothing of them, what is kept is
intact, and a later photo of a forgotten person matches nothing forgotten."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from classifiers.backends import factory
from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace, person_for_face
from classifiers.backends.local.face_snapshot import DEFAULT_CONTAINER as SNAPSHOTS
from classifiers.backends.local.face_snapshot import FaceSnapshots
from classifiers.backends.local.face_store import DEFAULT_TABLE as PERSISTED_FACES
from classifiers.backends.local.face_store import FaceStore
from classifiers.backends.local.table_face_index import TABLE_OVERLAP, TableFaceIndex
from pipeline.dependencies import Dependencies
from pipeline.forget.audit import ERASURES_TABLE
from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.target import Target
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.storage import Storage
from tests.forget.search import find_everywhere
from tests.forget.synthetic import Synthetic, random_id
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.azurite

BACKENDS = ["table", pytest.param("postgresql", marks=pytest.mark.pgvector)]


@dataclass
class World:
    services: Services
    database: Database
    data: Synthetic
    eraser: Eraser
    face_index_uri: str  # the PostgreSQL face index's, or ""
    workers: list[FaceIndexBackend] = field(default_factory=list)

    @property
    def index(self) -> FaceIndexBackend:
        return self.services.face_index

    @property
    def store_name(self) -> str:
        return f"face index ({self.index.kind})"

    def find(self, needles: list[str]) -> list[str]:
        return find_everywhere(self.services.storage, self.database, needles, face_index=self.face_index_uri)

    def another_worker(self) -> FaceIndexBackend:
        """A second worker's index over the same stores (the table one writes a snapshot at every growth)."""
        settings, storage = self.services.settings, self.services.storage
        if self.index.kind != "table":
            self.workers.append(factory.face_index(settings=settings, storage=storage))
            return self.workers[-1]
        container = storage.container(SNAPSHOTS)
        store = FaceStore(table=storage.table(PERSISTED_FACES), snapshots=FaceSnapshots(container=container),
                          refresh_interval=0, overlap=TABLE_OVERLAP, snapshot_every=1)
        return TableFaceIndex(store=store, lock_container=container)


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, settings: Settings) -> Iterator[World]:
    uri = request.getfixturevalue("pgvector") if request.param == "postgresql" else ""
    chosen = replace(settings, face_index_connection_string=uri)
    services = Services(settings=chosen, storage=Storage(chosen.storage_connection_string),
                        dependencies=Dependencies.load())
    database = services.database
    data = Synthetic(storage=services.storage, database=database, index=services.face_index)
    made = World(services, database, data, build_eraser(services, settle_seconds=0.5), uri)
    yield made
    database.close()
    for index in [services.face_index, *made.workers]:
        close = getattr(index, "close", None)
        if close is not None:
            close()


def _entity(world: World, batch: str, job: str) -> dict[str, object] | None:
    try:
        return dict(world.services.storage.table(PIPELINELOGS).get_entity(batch, job))
    except Exception:
        return None


def test_forgetting_a_batch_leaves_nothing_of_it_and_scrubs_its_faces_from_other_jobs(world: World) -> None:
    data, storage = world.data, world.services.storage
    gone, kept = random_id("batch"), random_id("batch")
    alice, bob = data.person(), data.person()
    faces = data.job(gone, "j1", people=[alice, bob]) + data.job(gone, "j2", people=[alice], link_prints=True)
    data.job(gone, "j3", people=[], finished=False, sql=False)  # still in flight, nothing stored yet
    other = data.job(kept, "k1", people=[bob], matches=faces)
    alices_name = random_id("Alice")
    world.index.rename(faces[0].person_id, alices_name)  # left without a face by the batch: she goes, named
    data.snapshot()
    storage.queue("facematch").send_message(json.dumps(job_message("j3", ["facematch"], batch_id=gone)))
    storage.queue("facematch-poison").send_message(json.dumps(job_message("j4", ["facematch"], batch_id=gone)))
    survivor = json.dumps(job_message("k2", ["facematch"], batch_id=kept))
    storage.queue("facematch").send_message(survivor)
    matched = {"matches": [{"faceId": "k3-face", "matches": [{"id": faces[0].face_id, "confidence": 0.9}]}]}
    storage.queue("pipelineoutput").send_message(json.dumps(job_message(
        "k3", ["facematch", "pipelineoutput"], batch_id=kept, step=1, output={"facematch": matched})))

    report = world.eraser.forget(Target.batch(gone))

    assert report.complete, [s.summary() for s in report.stores]
    removed = {s.store: s.removed for s in report.stores}
    assert removed["pipelinelogs"]["entities"] == 3
    assert removed["sql"]["rows"] == 2
    assert removed[world.store_name]["faces"] == 3
    assert removed["queues"]["messages"] == 2
    assert removed["pipelinelogs mentions"]["mentions"] == 1  # k1 (bob) matched j1's bob
    needles = [gone, *(f.face_id for f in faces), alices_name, faces[0].person_id]
    assert world.find(needles) == []
    assert world.index.person(other[0].person_id) is not None  # bob keeps his k1 face
    # What is kept is intact: the other batch's job, its own face, and the other queued message.
    entity = _entity(world, kept, "k1")
    assert entity is not None
    match = json.loads(str(entity["facematch_output"]))["matches"]
    assert [m["faceId"] for m in match] == [other[0].face_id] and match[0]["matches"] == []
    assert [m.content for m in storage.queue("facematch").peek_messages(max_messages=32)
            if kept in m.content] == [survivor]
    [k3] = [json.loads(m.content) for m in storage.queue("pipelineoutput").peek_messages(max_messages=32)
            if kept in m.content]
    assert k3["job_output"]["facematch"]["matches"] == [{"faceId": "k3-face", "matches": []}]
    assert removed["queues"]["messages scrubbed"] == 1
    audit = list(storage.table(ERASURES_TABLE).query_entities("kind eq 'batch'"))
    assert any(json.loads(a["removed"])["sql"]["rows"] == 2 for a in audit)
    for queue in ("facematch", "pipelineoutput"):  # the survivors would reach other tests on these shared queues
        for message in storage.queue(queue).receive_messages(max_messages=32):
            if kept in message.content:
                storage.queue(queue).delete_message(message)


def test_forgetting_a_job_keeps_the_rest_of_its_batch_and_is_idempotent(world: World) -> None:
    data, storage = world.data, world.services.storage
    batch = random_id("batch")
    first = data.job(batch, "job-a", people=[data.person()])
    data.job(batch, "job-ab", people=[data.person()])  # a name that starts like the forgotten one

    report = world.eraser.forget(Target.job(batch, "job-a"))
    again = world.eraser.forget(Target.job(batch, "job-a"))

    assert report.complete and again.complete
    assert {s.store: s.total for s in again.stores if s.total} == {}
    assert world.find([f"{batch}/job-a/", first[0].face_id]) == []
    assert _entity(world, batch, "job-a") is None and _entity(world, batch, "job-ab") is not None
    names = [b.name for b in storage.container("faces").list_blobs(name_starts_with=f"{batch}/")]
    assert names == [f"{batch}/job-ab/face-000.png"]


def test_forgetting_a_person_removes_her_faces_name_and_ids_everywhere_and_keeps_the_photos(world: World) -> None:
    data, storage, index = world.data, world.services.storage, world.index
    batch = random_id("batch")
    carol, dave = data.person(), data.person()
    first = data.job(batch, "p1", people=[carol])
    second = data.job(batch, "p2", people=[dave, carol], matches=first)  # carol's second face joins her
    third = data.job(batch, "p3", people=[carol], matches=first)
    person = first[0].person_id
    assert second[1].person_id == third[0].person_id == person != second[0].person_id
    name = random_id("Carol")
    index.rename(person, name)
    split = index.split(third[0].face_id)  # a user split one face off, then merged it back
    index.merge([split], into=person)
    data.snapshot()

    report = world.eraser.forget(Target.person(split))  # a merged id names her too

    assert report.complete, [s.summary() for s in report.stores]
    assert {s.store: s.removed.get("faces") for s in report.stores}[world.store_name] == 3
    carols = [first[0].face_id, second[1].face_id, third[0].face_id]
    assert world.find([*carols, person, split, name]) == []
    assert index.resolve(person) is None and index.resolve(split) is None and name not in index.names()
    # Her photos and dave stay.
    assert _entity(world, batch, "p1") is not None
    assert [b.name for b in storage.container("inputimages").list_blobs(name_starts_with=f"{batch}/")] == [
        f"{batch}/p1", f"{batch}/p2", f"{batch}/p3"]
    assert world.find([second[0].face_id]) != []
    assert index.person(second[0].person_id) is not None
    crops = sorted(b.name for b in storage.container("faces").list_blobs(name_starts_with=f"{batch}/"))
    assert crops == [f"{batch}/p2/face-000.png"]


def _later(index: FaceIndexBackend, centre: np.ndarray) -> tuple[str, str, set[str]]:
    """A later photo of a person (her print again): (its face id, its person, the faces it matched)."""
    face = f"later-{random_id('face')}"
    [matched] = index.add_and_search(JobKey(batch_id=random_id("later"), job_id="j", image_url="u"),
                                     [NewFace(face_id=face, face_rectangle=(0, 0, 9, 9),
                                              print=(centre + 0.001).astype(np.float32))], threshold=0.6, limit=10)
    return face, matched.person_id, {h.face.face_id for h in matched.hits}


def test_a_later_photo_of_a_forgotten_person_matches_nothing_and_with_photos_takes_her_jobs(world: World) -> None:
    data = world.data
    batch = random_id("batch")
    erin, frank = data.person(), data.person()
    first = data.job(batch, "e1", people=[erin])
    second = data.job(batch, "e2", people=[erin, frank], matches=first)
    data.snapshot()
    cold = world.another_worker()  # built after the erasure: loads the (rewritten) snapshot and the rows

    report = world.eraser.forget(Target.person(first[0].person_id, with_photos=True))

    assert report.complete, [s.summary() for s in report.stores]
    assert _entity(world, batch, "e1") is None and _entity(world, batch, "e2") is None
    forgotten = [first[0].face_id, *(f.face_id for f in second)]
    needles = [f"{batch}/e1", f"{batch}/e2", *forgotten, first[0].person_id, second[1].person_id]
    assert world.find(needles) == []
    face, person, hits = _later(world.index, erin)
    assert not hits & set(forgotten) and person == person_for_face(face)  # a new person
    _, again, hits = _later(cold, erin)  # a worker that held her prints: it matches her new face only
    assert hits == {face} and again == person


def test_a_live_worker_forgets_at_its_next_match_and_writes_no_forgotten_print(world: World) -> None:
    data = world.data
    batch = random_id("batch")
    gina = data.person()
    faces = data.job(batch, "g1", people=[gina]) + data.job(batch, "g2", people=[gina])
    data.snapshot()
    worker = world.another_worker()
    assert worker.faces_of(faces[0].person_id)  # worker A holds her prints

    report = world.eraser.forget(Target.person(faces[0].person_id))  # through another instance

    assert report.complete, [s.summary() for s in report.stores]
    face, person, hits = _later(worker, gina)
    assert not hits & {f.face_id for f in faces} and person == person_for_face(face)
    assert worker.faces_of(faces[0].person_id) == [] and worker.resolve(faces[0].person_id) is None
    if isinstance(worker, TableFaceIndex):  # its snapshot (written at this growth) holds none of her faces
        latest = FaceSnapshots(container=world.services.storage.container(SNAPSHOTS)).load_latest()
        assert latest is not None and face in latest.index
        assert not {f.face_id for f in faces} & set(latest.index.to_arrays().face_ids)
    assert world.find([f.face_id for f in faces] + [faces[0].person_id]) == []


def test_a_snapshot_written_from_a_stale_index_is_deleted_again(world: World) -> None:
    if world.index.kind != "table":
        pytest.skip("only the table index holds prints in a worker's memory")
    data = world.data
    batch = random_id("batch")
    faces = data.job(batch, "h1", people=[data.person()])
    worker = world.another_worker()
    assert isinstance(worker, TableFaceIndex) and worker.face(faces[0].face_id) is not None

    world.eraser.forget(Target.job(batch, "h1"))
    worker._snapshot_if_due()  # a copy of its memory taken before it noticed the erasure

    snapshots = world.services.storage.container(SNAPSHOTS)
    for blob in snapshots.list_blobs(name_starts_with="v1/"):
        assert faces[0].face_id.encode() not in snapshots.download_blob(blob.name).readall()
