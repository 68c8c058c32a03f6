"""Forgetting a batch, a job and a person against real Azurite and SQLite: afterwards a search of every
table, blob, queue message and SQL row finds nothing of them, and what is kept is intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pipeline.forget.audit import ERASURES_TABLE
from pipeline.forget.build import PERSISTED_FACES, SNAPSHOTS, build_eraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.target import Target
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.sql.connection import Database
from tests.forget.search import find_everywhere
from tests.forget.synthetic import Synthetic, random_id
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.azurite


@dataclass
class World:
    services: Services
    database: Database
    data: Synthetic
    eraser: Eraser


@pytest.fixture
def world(services: Services) -> Iterator[World]:
    database = Database.from_settings(services.settings)
    data = Synthetic(storage=services.storage, database=database)
    yield World(services, database, data, build_eraser(services.settings, storage=services.storage,
                                                        database=database, settle_seconds=0.5))
    database.close()


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
    assert removed["face index (table)"]["faces"] == 3
    assert removed["queues"]["messages"] == 2
    assert removed["pipelinelogs mentions"]["mentions"] == 1  # k1 (bob) matched j1's bob
    needles = [gone, *(f.face_id for f in faces)]
    assert find_everywhere(storage, world.database, needles) == []
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
    assert find_everywhere(storage, world.database, [f"{batch}/job-a/", first[0].face_id]) == []
    assert _entity(world, batch, "job-a") is None and _entity(world, batch, "job-ab") is not None
    names = [b.name for b in storage.container("faces").list_blobs(name_starts_with=f"{batch}/")]
    assert names == [f"{batch}/job-ab/face-000.png"]


def test_forgetting_a_person_removes_her_faces_everywhere_and_keeps_the_photos(world: World) -> None:
    data, storage = world.data, world.services.storage
    batch = random_id("batch")
    carol, dave = data.person(), data.person()
    first = data.job(batch, "p1", people=[carol])
    second = data.job(batch, "p2", people=[dave, carol], matches=first)  # links carol's faces
    data.snapshot()
    person = min(first[0].face_id, second[1].face_id)  # as the People page names her: her smallest face id

    report = world.eraser.forget(Target.person(person))

    assert report.complete, [s.summary() for s in report.stores]
    carols = [first[0].face_id, second[1].face_id]
    assert find_everywhere(storage, world.database, carols) == []
    # Her photos and dave stay.
    assert _entity(world, batch, "p1") is not None
    assert [b.name for b in storage.container("inputimages").list_blobs(name_starts_with=f"{batch}/")] == [
        f"{batch}/p1", f"{batch}/p2"]
    assert find_everywhere(storage, world.database, [second[0].face_id]) != []
    crops = sorted(b.name for b in storage.container("faces").list_blobs(name_starts_with=f"{batch}/"))
    assert crops == [f"{batch}/p2/face-000.png"]
    rows = [r["RowKey"] for r in storage.table(PERSISTED_FACES).list_entities(select=["RowKey"])]
    assert second[0].face_id in rows and not set(carols) & set(rows)
    assert list(storage.container(SNAPSHOTS).list_blobs(name_starts_with="v1/"))


def test_a_later_photo_of_a_forgotten_person_matches_nothing_and_with_photos_takes_her_jobs(world: World) -> None:
    from classifiers.backends.local.face_snapshot import FaceSnapshots
    from classifiers.backends.local.face_store import FaceStore

    data, storage = world.data, world.services.storage
    batch = random_id("batch")
    erin, frank = data.person(), data.person()
    first = data.job(batch, "e1", people=[erin])
    second = data.job(batch, "e2", people=[erin, frank], matches=first)
    data.snapshot()
    person = min(first[0].face_id, second[0].face_id)

    report = world.eraser.forget(Target.person(person, with_photos=True))

    assert report.complete, [s.summary() for s in report.stores]
    assert _entity(world, batch, "e1") is None and _entity(world, batch, "e2") is None
    needles = [f"{batch}/e1", f"{batch}/e2", first[0].face_id, *(f.face_id for f in second)]
    assert find_everywhere(storage, world.database, needles) == []
    # A cold worker (snapshot, then table) holds none of her prints: her next photo matches nothing forgotten.
    fresh = FaceStore(table=storage.table(PERSISTED_FACES), refresh_interval=0,
                      snapshots=FaceSnapshots(container=storage.container(SNAPSHOTS)))
    later = (erin + 0.01).reshape(1, -1).astype("float32")
    hits = fresh.search(later, threshold=0.6, limit=10, exclude_job="new")
    assert not {h.face_id for h in hits[0]} & {first[0].face_id, second[0].face_id}
