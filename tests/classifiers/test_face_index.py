"""The face index backends (table on Azurite, postgresql on a real PostgreSQL with pgvector), side by side:
persons, merges, the same-photo rule, unique ids, redelivery and concurrent matchers."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from classifiers.backends.face_index import FaceIndexBackend, JobKey, MatchedFace, NewFace, person_for_face
from classifiers.backends.face_persons import assign_persons
from classifiers.backends.local.dlib_faces import face_id
from classifiers.backends.local.face_matcher import LocalFaceMatcher
from classifiers.backends.local.face_store import FaceStore
from classifiers.backends.local.table_face_index import TableFaceIndex
from classifiers.backends.postgres.face_index import PostgresFaceIndex
from pipeline.job import parse_job
from pipeline.services import Services

pytestmark = [pytest.mark.azurite, pytest.mark.pgvector]

THRESHOLD = 0.5
Worker = Callable[[], FaceIndexBackend]


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(128)
    return (v / np.linalg.norm(v)).astype(np.float32)


def near(v: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    step = rng.standard_normal(128)
    return (v + distance * step / np.linalg.norm(step)).astype(np.float32)


def new_face(fid: str, vector: np.ndarray, rect: tuple[int, int, int, int] = (0, 0, 10, 10)) -> NewFace:
    return NewFace(face_id=fid, face_rectangle=rect, print=vector)


def add(index: FaceIndexBackend, job_id: str, *faces: NewFace, batch: str = "b") -> list[MatchedFace]:
    key = JobKey(batch_id=batch, job_id=job_id, image_url=f"https://images.example/{batch}/{job_id}.jpg")
    return index.add_and_search(key, faces, threshold=THRESHOLD, limit=20)


@pytest.fixture(params=["table", "postgresql"])
def workers(request: pytest.FixtureRequest, services: Services, unique: str) -> Iterator[Worker]:
    """A factory of matcher instances over one shared index, as separate workers would be."""
    made: list[FaceIndexBackend] = []
    if request.param == "table":
        def worker() -> FaceIndexBackend:
            store = FaceStore(table=services.storage.table(f"faces{unique}"), refresh_interval=0)
            made.append(TableFaceIndex(store=store, lock_container=services.storage.container(f"lock{unique}")))
            return made[-1]
    else:
        conninfo = request.getfixturevalue("pgvector")

        def worker() -> FaceIndexBackend:
            made.append(PostgresFaceIndex.connect(conninfo))
            return made[-1]
    yield worker
    for index in made:
        if isinstance(index, PostgresFaceIndex):
            index.close()


@pytest.fixture
def rng(unique: str) -> np.random.Generator:
    return np.random.default_rng(int(unique, 16))


def test_a_face_joins_the_person_of_its_nearest_match_or_starts_one(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    [first] = add(index, "j1", new_face("f1", v))
    assert first.person_id == person_for_face("f1") and first.hits == []
    [second] = add(index, "j2", new_face("f2", near(v, 0.3, rng)))
    assert second.person_id == first.person_id
    assert [h.face.face_id for h in second.hits] == ["f1"] and second.hits[0].face.person_id == first.person_id
    [stranger] = add(index, "j3", new_face("f3", unit(rng)))
    assert stranger.person_id == person_for_face("f3") and stranger.hits == []

    other = workers()  # another worker answers the same
    assert other.person_of("f2") == first.person_id and other.person_of("nope") is None
    assert sorted(f.face_id for f in other.faces_of(first.person_id)) == ["f1", "f2"]
    listed = {p.person_id: p for p in other.persons()}
    assert (listed[first.person_id].faces, listed[first.person_id].photos) == (2, 2)
    assert listed[stranger.person_id].best_face == "f3"


def test_a_face_matching_two_persons_joins_them(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    step = rng.standard_normal(128)
    w = (v + 0.8 * step / np.linalg.norm(step)).astype(np.float32)  # 0.8 apart: two persons
    [a] = add(index, "ja", new_face("a", v))
    [b] = add(index, "jb", new_face("b", w))
    assert a.person_id != b.person_id
    [bridge] = add(index, "jc", new_face("c", ((v + w) / 2).astype(np.float32)))  # 0.4 from each
    assert {h.face.face_id for h in bridge.hits} == {"a", "b"}
    other = workers()
    assert other.person_of("a") == other.person_of("b") == other.person_of("c") == bridge.person_id
    merged = b.person_id if bridge.person_id == a.person_id else a.person_id
    assert other.resolve(merged) == bridge.person_id  # the old id still resolves
    assert sorted(f.face_id for f in other.faces_of(merged)) == ["a", "b", "c"]


def test_two_faces_of_one_photo_are_never_one_person(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    [known] = add(index, "j1", new_face("k", v))
    twins = add(index, "group", new_face("g1", near(v, 0.35, rng)), new_face("g2", near(v, 0.1, rng)))
    assert twins[1].person_id == known.person_id  # the nearer face keeps the person
    assert twins[0].person_id == person_for_face("g1")  # the weaker starts its own
    # Persons seen together in a photo never merge, even through a face near both.
    [later] = add(index, "j2", new_face("l", near(v, 0.05, rng)))
    assert later.person_id == known.person_id
    assert workers().person_of("g1") != workers().person_of("g2")


def test_the_same_job_id_in_two_batches_gives_two_faces(workers: Worker, rng: np.random.Generator) -> None:
    matcher = LocalFaceMatcher(index=workers(), threshold=THRESHOLD)
    v = [float(x) for x in unit(rng)]
    outputs = []
    for batch in ("run-1", "run-2"):
        job = parse_job({"job_definition": {"id": "photo-1", "batch_id": batch, "input": {"image_url": "u"},
                                            "processing_pipeline": ["facematch"], "processing_step": 0},
                         "job_output": {}})
        outputs.append(matcher.match_and_store(job, [{"faceId": face_id(job, 0), "print": v,
                                                     "faceRectangle": {"left": 0, "top": 0, "width": 9,
                                                                       "height": 9}}]))
    [first], [second] = outputs
    assert first["faceId"] != second["faceId"]
    assert [m["id"] for m in second["matches"]] == [first["faceId"]]  # matched, not taken for it
    assert second["person_id"] == first["person_id"]


def test_a_redelivered_job_neither_duplicates_nor_matches_itself(workers: Worker, rng: np.random.Generator) -> None:
    v, w = unit(rng), unit(rng)
    add(workers(), "earlier", new_face("e", near(v, 0.2, rng)))
    faces = (new_face("r1", v), new_face("r2", w))
    first = add(workers(), "again", *faces)
    again = add(workers(), "again", *faces)  # another worker, as a redelivered message would be
    assert first == again
    assert [h.face.face_id for h in first[0].hits] == ["e"] and first[1].hits == []
    index = workers()
    assert sorted(f.face_id for f in index.faces_of(first[0].person_id)) == ["e", "r1"]
    assert sum(p.faces for p in index.persons()) == 3


@pytest.mark.slow
def test_a_burst_of_one_person_on_two_workers_links_every_pair(workers: Worker, rng: np.random.Generator) -> None:
    v = unit(rng)
    prints = [near(v, 0.15, rng) for _ in range(12)]
    instances = [workers(), workers()]
    start = threading.Barrier(len(prints))
    results: dict[int, MatchedFace] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            [results[i]] = add(instances[i % 2], f"burst-{i}", new_face(f"p{i}", prints[i]))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prints))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    linked = {(i, int(h.face.face_id[1:])) for i, r in results.items() for h in r.hits}
    for i, j in itertools.combinations(range(len(prints)), 2):
        assert (i, j) in linked or (j, i) in linked, f"photos {i} and {j} never met"
    assert len({workers().person_of(f"p{i}") for i in range(len(prints))}) == 1


# --- the rule alone, and the Entra token plumbing ---------------------------------------------------


def test_assign_persons_merges_unless_seen_together() -> None:
    together = {frozenset({"P", "Q"})}
    result = assign_persons([[(0.1, "P"), (0.2, "Q"), (0.3, "R")]], new_person=lambda i: f"new{i}",
                            seen_together=lambda a, b: frozenset({a, b}) in together)
    assert result.persons == ["P"] and result.merges == [("R", "P")]


class _FakeCredential:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls.append(scopes)
        return AccessToken(f"token-{len(self.calls)}", 1_000 + 3_600 * len(self.calls))


def test_an_azure_host_without_a_password_gets_an_entra_token_refreshed_before_expiry() -> None:
    from classifiers.backends.postgres.connect import (
        AZURE_POSTGRES_SCOPE,
        ConnectionPool,
        EntraPassword,
        needs_entra_token,
    )

    assert needs_entra_token("host=x.postgres.database.azure.com user=func dbname=faces sslmode=require")
    assert needs_entra_token("postgresql://func@x.postgres.database.azure.com/faces")
    assert not needs_entra_token("postgresql://u:secret@x.postgres.database.azure.com/faces")
    assert not needs_entra_token("postgresql://u@localhost/faces")

    now = [1_000.0]
    credential = _FakeCredential()
    password = EntraPassword(credential=credential, refresh_margin=300, clock=lambda: now[0])
    assert password() == "token-1" and password() == "token-1"
    now[0] = 1_000 + 3_600 - 299  # within the margin of expiry
    assert password() == "token-2"
    assert credential.calls == [(AZURE_POSTGRES_SCOPE,), (AZURE_POSTGRES_SCOPE,)]

    opened: list[dict[str, Any]] = []

    def connect(conninfo: str, **kwargs: Any) -> Any:
        opened.append({"conninfo": conninfo, **kwargs})
        raise RuntimeError("no server here")

    pool = ConnectionPool(conninfo="host=x.postgres.database.azure.com user=func", password=password,
                          connect=connect)
    with pytest.raises(RuntimeError):
        pool.open()
    assert opened[0]["password"] == "token-2" and opened[0]["autocommit"] is True

    index = PostgresFaceIndex.connect("host=x.postgres.database.azure.com user=func", credential=credential)
    index.close()  # no connection is made before the first use
