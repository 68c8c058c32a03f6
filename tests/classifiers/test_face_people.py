"""A user's work on persons, on both face index backends (table on Azurite, postgresql on a real
PostgreSQL with pgvector): names, merges, splits and hiding survive new photos, re-runs and other workers,
and a face a user moved out is never pulled back by an automatic merge."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.backends.face_persons import assign_persons
from classifiers.backends.local.face_snapshot import FaceSnapshots
from classifiers.backends.local.face_store import FaceStore
from classifiers.backends.local.table_face_index import TableFaceIndex
from pipeline.services import Services
from tests.classifiers import test_face_index as shared
from tests.classifiers.test_face_index import Worker, add, near, new_face, unit

workers = shared.workers  # the same fixtures: a factory of workers over one index, per backend
rng = shared.rng

pytestmark = [pytest.mark.azurite, pytest.mark.pgvector]


def test_names_are_unique_and_follow_merges(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    [a] = add(index, "ja", new_face("a", unit(rng)))
    [b] = add(index, "jb", new_face("b", unit(rng)))
    index.rename(a.person_id, " Alice ")
    with pytest.raises(ValueError, match="already named"):
        index.rename(b.person_id, "Alice")
    other = workers()
    assert other.names() == {"Alice": a.person_id}
    other.merge([a.person_id], into=b.person_id)  # the name follows into the nameless person
    assert workers().names() == {"Alice": b.person_id}
    person = workers().person(a.person_id)
    assert person is not None and (person.person_id, person.name, person.faces) == (b.person_id, "Alice", 2)
    with pytest.raises(KeyError):
        index.rename("nobody", "Bob")


def test_a_name_survives_new_photos_and_a_rerun(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    [a] = add(index, "j1", new_face("a1", v))
    index.rename(a.person_id, "Alice")
    [again] = add(index, "j1", new_face("a1", v))  # redelivered
    [rerun] = add(index, "j1", new_face("a1-rerun", v), batch="b2")  # the same photo in a new batch
    [new] = add(index, "j2", new_face("a2", near(v, 0.3, rng)))
    assert again.person_id == rerun.person_id == new.person_id == a.person_id
    assert workers().names() == {"Alice": a.person_id}
    listed = workers().persons()
    assert [(p.name, p.faces, p.photos) for p in listed] == [("Alice", 3, 3)]
    assert listed[0].best is not None and listed[0].best.image_url.endswith(".jpg")


def test_a_split_face_is_never_pulled_back(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    w = near(v, 0.45, rng)  # a look-alike, within the threshold
    [a] = add(index, "j1", new_face("alice", v))
    [b] = add(index, "j2", new_face("lookalike", w))
    assert b.person_id == a.person_id
    moved_to = index.split("lookalike")
    assert moved_to != a.person_id and workers().person_of("lookalike") == moved_to
    face = workers().face("lookalike")
    assert face is not None and face.pinned and face.person_id == moved_to
    # A new face between both would join the two persons; the user's split keeps them apart.
    [bridge] = add(index, "j3", new_face("between", ((v + w) / 2).astype(np.float32)))
    assert {h.face.face_id for h in bridge.hits} == {"alice", "lookalike"}
    other = workers()
    assert other.person_of("alice") != other.person_of("lookalike")
    # The user may still join them on purpose, and move a face to a person they name.
    index.split("between", to_person=moved_to)
    assert workers().person_of("between") == moved_to
    index.merge([moved_to], into=a.person_id)
    assert {f.face_id for f in workers().faces_of(a.person_id)} == {"alice", "lookalike", "between"}
    with pytest.raises(KeyError):
        index.split("no-such-face")


def test_hidden_persons_are_left_out_unless_asked_for(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    a, _ = add(index, "j1", new_face("a", unit(rng)), new_face("a2", unit(rng)))
    [b] = add(index, "j2", new_face("b", unit(rng)))
    index.hide(b.person_id)
    assert b.person_id not in {p.person_id for p in workers().persons()}
    hidden = {p.person_id: p.hidden for p in workers().persons(include_hidden=True)}
    assert hidden[b.person_id] and not hidden[a.person_id]
    index.hide(b.person_id, hidden=False)
    assert b.person_id in {p.person_id for p in workers().persons()}


def test_persons_are_found_by_part_of_their_name(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    [a] = add(index, "j1", new_face("a", v))
    add(index, "j1b", new_face("a2", near(v, 0.3, rng)))  # Alice has the most faces: she comes first
    [b] = add(index, "j2", new_face("b", unit(rng)))
    [c] = add(index, "j3", new_face("c", unit(rng)))
    add(index, "j4", new_face("d", unit(rng)))
    index.rename(a.person_id, "Alice Martin")
    index.rename(b.person_id, "MARTINA")
    index.rename(c.person_id, "Bob 100%_")
    other = workers()
    assert [p.name for p in other.persons(name="martin")] == ["Alice Martin", "MARTINA"]
    assert [p.name for p in other.persons(name="martin", offset=1, limit=1)] == ["MARTINA"]
    assert [p.name for p in other.persons(name="%_")] == ["Bob 100%_"]  # no wildcards
    assert other.persons(name="zed") == []
    index.hide(b.person_id)
    assert [p.name for p in workers().persons(name="martin")] == ["Alice Martin"]
    assert len(workers().persons(name="")) == 2  # the shown named persons; the unnamed one is left out


def test_the_table_index_keeps_persons_in_its_snapshot(services: Services, unique: str,
                                                       rng: np.random.Generator) -> None:
    def worker() -> TableFaceIndex:
        snapshots = FaceSnapshots(container=services.storage.container(f"snap{unique}"))
        store = FaceStore(table=services.storage.table(f"faces{unique}"), refresh_interval=0, snapshots=snapshots,
                          snapshot_every=1)
        return TableFaceIndex(store=store, lock_container=services.storage.container(f"lock{unique}"))

    index = worker()
    v = unit(rng)
    [a] = add(index, "j1", new_face("a", v))
    [b] = add(index, "j2", new_face("b", near(v, 0.45, rng)))
    index.rename(a.person_id, "Alice")
    moved = index.split("b")
    index.hide(moved)
    add(index, "j3", new_face("c", unit(rng)))  # grows the index: a snapshot with the changes above
    cold = worker()
    assert cold.names() == {"Alice": a.person_id}
    assert cold.person_of("b") == moved and cold.person(moved) is not None
    assert moved not in {p.person_id for p in cold.persons()}
    face = cold.face("b")
    assert face is not None and face.pinned


def test_assign_persons_never_merges_persons_kept_apart() -> None:
    found = assign_persons([[(0.2, "A"), (0.3, "B")]], new_person=lambda i: "new",
                           seen_together=lambda a, b: False, kept_apart=lambda a, b: {a, b} == {"A", "B"})
    assert found.persons == ["A"] and found.merges == []


def test_a_persons_face_is_its_most_typical_not_a_large_slip(workers: Worker, rng: np.random.Generator) -> None:
    index = workers()
    v = unit(rng)
    add(index, "j1", new_face("her-1", v, rect=(0, 0, 40, 40)))
    add(index, "j2", new_face("her-2", near(v, 0.1, rng), rect=(0, 0, 40, 40)))
    add(index, "j3", new_face("slip", near(v, 0.45, rng), rect=(0, 0, 400, 400)))  # within the threshold, larger
    person = index.person_of("her-1")
    assert person and index.person_of("slip") == person
    found = workers().person(person)
    assert found is not None and found.best_face in ("her-1", "her-2")
    assert workers().persons()[0].best_face == found.best_face
