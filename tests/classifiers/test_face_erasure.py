"""What the ``table`` face index forgets: the chosen faces, the persons they leave without a face under
every id they had, and a snapshot's arrays without any of it (no Azure needed)."""

from __future__ import annotations

import numpy as np

from classifiers.backends.local.face_erasure import forgotten, without
from classifiers.backends.local.face_index import FaceIndex, StoredFace


def _index() -> FaceIndex:
    rng = np.random.default_rng(3)
    index = FaceIndex()
    index.add(StoredFace(face_id=face, job_id=job, batch_id="b", image_url=f"u/{job}", face_rectangle=(0, 0, 4, 4),
                         print=rng.standard_normal(128).astype(np.float32), person_id=person)
              for face, job, person in (("a1", "j1", "A"), ("a2", "j2", "B"), ("c1", "j2", "C"), ("d1", "j3", "D")))
    index.merge("B", "A")  # B's face joined A
    index.set_person("A", "Ann", hidden=True)
    index.set_person("C", "Cy", hidden=False)
    index.keep_apart("A", "C")
    index.move("d1", "D")
    return index


def test_a_person_goes_with_every_id_name_split_and_face_of_hers() -> None:
    index = _index()
    gone = forgotten(index, [], ["B"])  # a merged id names her

    assert gone.faces == {"a1", "a2"} and gone.persons == {"A", "B"}
    arrays = without(index.to_arrays(), gone)
    assert arrays.face_ids == ["c1", "d1"] and arrays.persons == ["C", "D"]
    assert arrays.merges == {} and arrays.names == {"C": "Cy"} and arrays.hidden == [] and arrays.apart == []
    assert arrays.pinned == {"d1": "D"}
    assert arrays.jobs == [("j2", "b", "u/j2"), ("j3", "b", "u/j3")] and arrays.job_numbers.tolist() == [0, 1]
    kept = FaceIndex.from_arrays(arrays)
    assert kept.positions_of("C") == [0] and kept.resolve("B") == "B" and not kept.positions_of("A")


def test_a_job_takes_the_persons_it_leaves_without_a_face_and_only_those() -> None:
    index = _index()
    gone = forgotten(index, index.faces_of_jobs("b", ["j2"]))

    assert gone.faces == {"a2", "c1"} and gone.persons == {"C"}  # A keeps a1
    arrays = without(index.to_arrays(), gone)
    assert arrays.face_ids == ["a1", "d1"] and arrays.names == {"A": "Ann"} and arrays.apart == []
    assert not forgotten(index, [], ["nobody"])  # an unknown id names nothing to delete
    assert sorted(index.faces_of_jobs("b")) == ["a1", "a2", "c1", "d1"]
