"""Face index snapshots in a real Azurite blob container: cold loads, increments, damage, many writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from classifiers.backends.local.face_index import FaceIndex, StoredFace
from classifiers.backends.local.face_snapshot import FaceSnapshots, _decode, _encode
from classifiers.backends.local.face_store import FaceStore
from pipeline.services import Services

pytestmark = pytest.mark.azurite


def faces(rng: np.random.Generator, n: int, *, job: str, batch: str = "b1", start: int = 0) -> list[StoredFace]:
    prints = rng.standard_normal((n, 128)).astype(np.float32)
    prints /= np.linalg.norm(prints, axis=1, keepdims=True)
    return [StoredFace(face_id=f"{job}-f{start + i}", job_id=job, batch_id=batch, image_url=f"https://x/{job}.jpg",
                       face_rectangle=(i, i + 1, 10, 12), print=prints[i]) for i in range(n)]


@pytest.fixture
def rng(unique: str) -> np.random.Generator:
    return np.random.default_rng(int(unique, 16))


@pytest.fixture
def snapshots(services: Services, unique: str) -> FaceSnapshots:
    return FaceSnapshots(container=services.storage.container(f"faceindex{unique}"), keep=2)


def store(services: Services, unique: str, snapshots: FaceSnapshots | None, every: int = 1) -> FaceStore:
    return FaceStore(table=services.storage.table(f"faces{unique}"), refresh_interval=0, snapshots=snapshots,
                     snapshot_every=every)


def test_arrays_round_trip_through_the_blob_format(rng: np.random.Generator) -> None:
    index = FaceIndex()
    index.add(faces(rng, 5, job="j1") + faces(rng, 3, job="j2", batch="b2"))
    arrays, _ = _decode(_encode(index.to_arrays(), datetime.now(UTC)))
    again = FaceIndex.from_arrays(arrays)
    query = index.to_arrays().prints[:2]
    assert len(again) == 8
    def found(i: FaceIndex) -> list[list[tuple[str, str, tuple[int, int, int, int], float]]]:
        return [[(h.face_id, h.batch_id, h.face_rectangle, round(h.distance, 2)) for h in hits]
                for hits in i.search(query, threshold=0.5, limit=3)]

    assert found(again) == found(index)


def test_a_cold_worker_loads_the_snapshot_then_only_the_newer_rows(
    services: Services, unique: str, snapshots: FaceSnapshots, rng: np.random.Generator
) -> None:
    writer = store(services, unique, snapshots)
    writer.store(faces(rng, 40, job="early"))
    writer.search(np.zeros((1, 128), np.float32), threshold=0.1, limit=1, exclude_job="x")  # refresh → snapshot
    assert len(snapshots.names()) == 1
    writer.store(faces(rng, 7, job="late"))  # after the snapshot: only in the table

    cold = store(services, unique, snapshots, every=10_000)
    cold.refresh()
    assert cold.loaded_from_snapshot == snapshots.names()[0]
    assert len(cold) == 47
    table_only = store(services, unique, None)
    table_only.refresh()
    probe = faces(np.random.default_rng(7), 3, job="probe")
    queries = np.stack([f.print for f in probe] + [writer.index.to_arrays().prints[45]])
    def found(s: FaceStore) -> list[list[tuple[str, float]]]:
        return [[(h.face_id, round(h.distance, 3)) for h in hits]
                for hits in s.search(queries, threshold=1.2, limit=5, exclude_job="probe")]

    assert found(cold) == found(table_only)


def test_a_damaged_newest_snapshot_is_skipped_for_an_older_one(
    services: Services, unique: str, snapshots: FaceSnapshots, rng: np.random.Generator
) -> None:
    writer = store(services, unique, snapshots)
    writer.store(faces(rng, 10, job="a"))
    writer.refresh()
    assert writer.snapshot_if_due()
    [good] = snapshots.names()
    container = services.storage.container(f"faceindex{unique}")
    container.upload_blob("v1/99991231T000000.000000Z-000000000010-broken.idx", b"IMGNFIDX garbage")

    cold = store(services, unique, snapshots, every=10_000)
    cold.refresh()
    assert cold.loaded_from_snapshot == good and len(cold) == 10


def test_with_no_usable_snapshot_the_table_is_read(
    services: Services, unique: str, snapshots: FaceSnapshots, rng: np.random.Generator
) -> None:
    writer = store(services, unique, None)
    writer.store(faces(rng, 12, job="a"))
    services.storage.container(f"faceindex{unique}").upload_blob("v1/20260101T000000.000000Z-0-x.idx", b"short")
    cold = store(services, unique, snapshots, every=10_000)
    cold.refresh()
    assert cold.loaded_from_snapshot is None and len(cold) == 12


def test_many_writers_never_overwrite_and_old_snapshots_are_pruned(
    services: Services, unique: str, snapshots: FaceSnapshots, rng: np.random.Generator
) -> None:
    workers = [store(services, unique, snapshots) for _ in range(4)]
    for i, worker in enumerate(workers):
        worker.store(faces(rng, 5, job=f"w{i}"))
    for worker in workers:
        worker.refresh()
    names: list[str | None] = []
    threads = [threading.Thread(target=lambda w=w: names.append(w.snapshot_if_due())) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 4 and None not in names
    assert len(snapshots.names()) == 2  # keep=2
    cold = store(services, unique, snapshots, every=10_000)
    cold.refresh()
    assert cold.loaded_from_snapshot is not None and len(cold) == 20


def test_the_same_job_id_in_two_batches_is_two_jobs(rng: np.random.Generator) -> None:
    index = FaceIndex()
    [mine] = faces(rng, 1, job="job-1", batch="b1")
    other = StoredFace(face_id="other", job_id="job-1", batch_id="b2", image_url="https://x/b2.jpg",
                       face_rectangle=(0, 0, 1, 1), print=mine.print)
    index.add([mine, other])
    [hits] = index.search(mine.print[None, :], threshold=0.5, limit=5, exclude_job="job-1", exclude_batch="b1")
    assert [(h.face_id, h.batch_id, h.image_url) for h in hits] == [("other", "b2", "https://x/b2.jpg")]


def test_a_snapshot_past_one_chunk_is_used_in_place_and_still_grows(rng: np.random.Generator) -> None:
    n = 65_536 + 10  # one full chunk (a view of the buffer) and a partial one (a copy that can grow)
    prints = rng.standard_normal((n, 128)).astype(np.float32)
    index = FaceIndex()
    index.add_arrays(face_ids=[f"s{i}" for i in range(n)], prints=prints, job_id="j", batch_id="b",
                     image_url="u", rectangles=np.zeros((n, 4), dtype=np.int32))
    arrays, _ = _decode(bytearray(_encode(index.to_arrays(), datetime.now(UTC))))
    loaded = FaceIndex.from_arrays(arrays)
    [extra] = faces(rng, 1, job="later")
    assert loaded.add([extra]) == 1 and len(loaded) == n + 1
    for target in (0, 65_535, 65_536, n - 1):
        [hits] = loaded.search(prints[target][None, :], threshold=0.01, limit=2)
        assert [h.face_id for h in hits] == [f"s{target}"]
    [hits] = loaded.search(extra.print[None, :], threshold=0.01, limit=2)
    assert [h.face_id for h in hits] == [extra.face_id]
