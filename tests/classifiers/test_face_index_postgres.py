"""The postgresql face index's person operations and schema, on a real PostgreSQL with pgvector."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
import pytest

from classifiers.backends.face_index import JobKey, NewFace
from classifiers.backends.postgres.face_index import PostgresFaceIndex, vector_text
from classifiers.backends.postgres.person_counts import TYPICAL
from classifiers.backends.postgres.schema import FACES, PERSONS, create_schema

pytestmark = pytest.mark.pgvector


@pytest.fixture
def index(pgvector: str) -> Iterator[PostgresFaceIndex]:
    made = PostgresFaceIndex.connect(pgvector)
    yield made
    made.close()


def _face(fid: str, seed: int) -> NewFace:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return NewFace(face_id=fid, face_rectangle=(0, 0, seed + 1, seed + 1), print=v / np.linalg.norm(v))


def _add(index: PostgresFaceIndex, job: str, *faces: NewFace) -> list[str]:
    matched = index.add_and_search(JobKey(batch_id="b", job_id=job, image_url=f"u/{job}"), faces,
                                   threshold=0.5, limit=20)
    return [m.person_id for m in matched]


def test_the_schema_is_created_once_by_many_workers_at_once(pgvector: str) -> None:
    def create(_: int) -> None:
        with psycopg.connect(pgvector, autocommit=True) as conn:
            create_schema(conn)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(8)))
    with psycopg.connect(pgvector) as conn:
        kinds = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'face_index_faces'").fetchall()
    assert any("hnsw" in k[0] and "vector_l2_ops" in k[0] for (k) in kinds)


def test_vectors_travel_as_text_and_come_back_equal(index: PostgresFaceIndex, pgvector: str) -> None:
    face = _face("exact", 1)
    _add(index, "j", face)
    with psycopg.connect(pgvector) as conn:
        [(text,)] = conn.execute("SELECT print::text FROM face_index_faces").fetchall()
    np.testing.assert_array_equal(np.asarray(text.strip("[]").split(","), dtype=np.float32), face.print)
    assert vector_text(np.array([0.5, -1.0], dtype=np.float32)) == "[0.5,-1.0]"


def test_rename_merge_split_hide_and_forget(index: PostgresFaceIndex) -> None:
    [anna] = _add(index, "j1", _face("a1", 1))
    [bob] = _add(index, "j2", _face("b1", 2))
    index.rename(anna, "Anna")
    with pytest.raises(ValueError, match="already named"):
        index.rename(bob, "Anna")
    index.merge([bob], into=anna)
    assert index.person_of("b1") == anna and index.resolve(bob) == anna
    assert [p.name for p in index.persons()] == ["Anna"]

    alone = index.split("b1")
    assert index.person_of("b1") == alone != anna
    index.split("b1", to_person=bob)  # the old id names Anna now
    assert index.person_of("b1") == anna

    index.hide(anna)
    assert index.persons() == [] and [p.person_id for p in index.persons(include_hidden=True)] == [anna]
    assert index.forget_job("b", "j2") == 1 and index.forget_person(anna) == 1
    assert index.faces_of(anna) == [] and index.person_of("a1") is None
    _add(index, "j3", _face("c1", 3))
    assert index.forget_batch("b") == 1


def _counters(pgvector: str) -> tuple[dict[str, tuple[int, int, str]], dict[str, tuple[int, int, str]]]:
    """Each person's kept counters, and the same counted afresh from the faces."""
    with psycopg.connect(pgvector) as conn:
        kept = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            f"SELECT person_id, faces, photos, best_face FROM {PERSONS} WHERE faces > 0").fetchall()}
        fresh = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            f"SELECT person_id, count(*), count(DISTINCT (batch_id, job_id)), {TYPICAL.format(person='g.person_id')} "
            f"FROM {FACES} g GROUP BY person_id").fetchall()}
    return kept, fresh


def test_person_counters_follow_add_merge_split_and_forget(index: PostgresFaceIndex, pgvector: str) -> None:
    [anna, bob] = _add(index, "j1", _face("a1", 1), _face("b1", 2))
    assert _add(index, "j2", _face("a2", 1)) == [anna]
    _add(index, "j3", _face("a3", 1), _face("c1", 3))
    kept, fresh = _counters(pgvector)
    assert kept == fresh and kept[anna][:2] == (3, 3)

    def check() -> None:
        kept, fresh = _counters(pgvector)
        assert kept == fresh
        listed = index.persons(include_hidden=True)
        assert {p.person_id: (p.faces, p.photos, p.best_face) for p in listed} == fresh
        assert [index.person(p.person_id) for p in listed] == listed

    index.merge([bob], into=anna)
    check()
    alone = index.split("b1")
    check()
    index.split("a2", to_person=alone)
    check()
    assert _counters(pgvector)[0][alone][:2] == (2, 2)
    index.hide(anna)
    index.rename(alone, "Alone")
    check()
    index.forget_job("b", "j3")
    check()
    index.forget_faces(["a1"])
    check()
    index.forget_person(alone)
    check()
    assert _counters(pgvector)[0] == {}


def test_a_database_of_the_previous_schema_is_counted_at_first_use(index: PostgresFaceIndex, pgvector: str) -> None:
    [anna, bob] = _add(index, "j1", _face("a1", 1), _face("b1", 2))
    _add(index, "j2", _face("a2", 1))
    with psycopg.connect(pgvector) as conn:  # as the schema was before persons kept counters
        conn.execute(f"ALTER TABLE {PERSONS} DROP COLUMN faces, DROP COLUMN photos, DROP COLUMN best_face")
    newer = PostgresFaceIndex.connect(pgvector)
    try:
        assert [(p.person_id, p.faces, p.photos) for p in newer.persons()] == [(anna, 2, 2), (bob, 1, 1)]
        assert [p.best_face for p in newer.persons()] == [_counters(pgvector)[1][p][2] for p in (anna, bob)]
    finally:
        newer.close()
    with psycopg.connect(pgvector) as conn:
        indexes = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s",
                                              (PERSONS,)).fetchall()]
    assert f"{PERSONS}_listing" in indexes
