"""The ``table`` face index: the ``persistedfaces`` table (+ snapshots) searched in each worker's memory.

Links never race: a matcher holds a blob lease (one lock for every worker of the storage account) while
it reads the rows added since its last refresh, searches, assigns persons and writes the job's faces;
the next holder's refresh then sees them. Each job costs one lease, one incremental table query and
one entity-group transaction, so the lock is held for a few tens of milliseconds.

Persons: each face row carries the person facematch gave it; merges, names, hiding and a user's splits are
rows of their own in the same table, read with the faces (``face_store``). A user's change takes the same
lease as a matcher, so it never interleaves with a job's assignment. The People listing is computed from
the arrays in memory once per change of the index and then served from that cache.

Forgetting (``forget_job``, ``forget_batch``, ``forget_person``, ``forget_faces``) takes the same lease and
deletes the faces with the persons they leave behind, rows and snapshots (``face_erasure``). Every worker
reads the erasure generation under the lease before it searches and reloads its index when it changed,
so no worker matches a forgotten print after the erasure returned; a snapshot written from an index
older than the generation is deleted again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobLeaseClient, ContainerClient

from classifiers.backends.face_index import (
    IndexedFace,
    JobKey,
    MatchedFace,
    NewFace,
    Person,
    PersonPhoto,
    SearchHit,
    person_for_face,
)
from classifiers.backends.face_persons import assign_persons
from classifiers.backends.local.face_erasure import ErasureGeneration, TableErasure, forgotten
from classifiers.backends.local.face_index import FaceHit, FaceIndex, StoredFace
from classifiers.backends.local.face_store import Apart, FaceStore, Moved, PersonState, partition_for
from pipeline.errors import RetryableError

__all__ = ["TABLE_OVERLAP", "TableFaceIndex"]

# Matchers write one after another under the lease, so rows appear in Timestamp order and a refresh
# need re-read only a short overlap (it re-reads every row of that window at every job).
TABLE_OVERLAP = timedelta(seconds=2)
_LOCK_BLOB = "v1-matcher.lock"

_log = logging.getLogger(__name__)


class TableFaceIndex:
    """Faces in the ``persistedfaces`` table, one matcher at a time across workers (a blob lease)."""

    kind = "table"

    def __init__(self, *, store: FaceStore, lock_container: ContainerClient, lease_seconds: int = 15,
                 wait_seconds: float = 60.0) -> None:
        """``lease_seconds``: how long a crashed holder blocks the others; ``wait_seconds``: how long a
        matcher waits for the lock before the job is retried."""
        self._store = store
        self._lock_blob = lock_container.get_blob_client(_LOCK_BLOB)
        self._container = lock_container
        self._lease_seconds = lease_seconds
        self._wait = wait_seconds
        self._local = threading.Lock()  # threads of this worker queue here, not on the lease
        self.lock_wait_seconds = 0.0  # the last wait for the lease (for benchmarks)
        self._listing: tuple[int, int, list[_Listed]] | None = None  # (index id, layout version, persons sorted)
        self._typical: tuple[int, int, dict[str, int]] = (0, -1, {})  # (index id, layout version, person -> face)
        self._erasures = ErasureGeneration(container=lock_container)
        self._generation: str | None = None  # the erasure generation the index in memory reflects
        self._synced = False

    @contextmanager
    def _matcher_lock(self) -> Iterator[BlobLeaseClient]:
        with self._local:
            started = time.monotonic()
            lease = None
            while lease is None:
                try:
                    lease = self._lock_blob.acquire_lease(lease_duration=self._lease_seconds)
                except ResourceNotFoundError:
                    self._create_lock_blob()
                except HttpResponseError as e:
                    if e.status_code != 409:
                        raise RetryableError(f"face index lock: {e}") from e
                    if time.monotonic() - started > self._wait:
                        raise RetryableError("face index lock: another matcher held it too long") from e
                    time.sleep(random.uniform(0.005, 0.03))
            self.lock_wait_seconds = time.monotonic() - started
            try:
                yield lease
            finally:
                try:
                    lease.release()
                except AzureError as e:  # it expires by itself
                    _log.warning("face index lock: release failed: %s", e)

    def _create_lock_blob(self) -> None:
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        try:
            self._lock_blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass

    def _sync(self) -> None:
        """Drop the index in memory when faces were forgotten since it was loaded (read before the refresh)."""
        current = self._erasures.current()
        if self._synced and current == self._generation:
            return
        if self._synced:
            _log.info("face index: faces were forgotten elsewhere; reloading the index")
            self._store.reset()
        self._generation, self._synced = current, True

    def _refreshed(self) -> FaceIndex:
        """The index, synced and refreshed (under the matcher's lease)."""
        self._sync()
        self._store.refresh(force=True)
        return self._store.index

    def _snapshot_if_due(self) -> None:
        known = self._generation
        name = self._store.snapshot_if_due()
        snapshots = self._store.snapshots
        if name is not None and snapshots is not None and self._erasures.current() != known:
            # Written from an index that may hold faces forgotten meanwhile: the erasure may not have seen it.
            try:
                snapshots.container.delete_blob(name)
            except ResourceNotFoundError:
                pass
            _log.info("face index: deleted snapshot %s (faces were forgotten while it was written)", name)

    # --- facematch ---------------------------------------------------------------------------------

    def add_and_search(
        self, job: JobKey, faces: Sequence[NewFace], *, threshold: float, limit: int
    ) -> list[MatchedFace]:
        if not faces:
            return []
        prints = np.stack([face.print for face in faces])
        with self._matcher_lock():
            index = self._refreshed()
            hits = index.search(prints, threshold=threshold, limit=limit, exclude_job=job.job_id,
                                exclude_batch=job.batch_id)
            stored = index.job_faces(job.batch_id, job.job_id)
            if stored:  # a redelivery: the faces and their persons are in the table already
                persons = [stored.get(f.face_id, person_for_face(f.face_id)) for f in faces]
            else:
                assignment = assign_persons(
                    [[(hit.distance, hit.person_id) for hit in face_hits] for face_hits in hits],
                    new_person=lambda i: person_for_face(faces[i].face_id),
                    seen_together=lambda a, b: bool(index.jobs_of(a) & index.jobs_of(b)),
                    kept_apart=index.kept_apart,
                )
                persons = assignment.persons
                self._store.store([
                    StoredFace(face_id=f.face_id, job_id=job.job_id, batch_id=job.batch_id, image_url=job.image_url,
                               face_rectangle=f.face_rectangle, print=f.print, person_id=person)
                    for f, person in zip(faces, persons, strict=True)
                ], merges=assignment.merges, changes=_names_after(index, assignment.merges))
        self._snapshot_if_due()
        return [MatchedFace(face_id=f.face_id, person_id=person, hits=[_hit(h) for h in face_hits])
                for f, person, face_hits in zip(faces, persons, hits, strict=True)]

    # --- reads -------------------------------------------------------------------------------------

    def _fresh(self) -> FaceIndex:
        self._sync()
        self._store.refresh(force=False)
        return self._store.index

    def person_of(self, face_id: str) -> str | None:
        index = self._fresh()
        position = index.position(face_id)
        return None if position is None else index.person_at(position)

    def resolve(self, person_id: str) -> str | None:
        index = self._fresh()
        current = index.resolve(person_id)
        return current if index.positions_of(current) or current != person_id else None

    def faces_of(self, person_id: str) -> list[IndexedFace]:
        index = self._fresh()
        current = index.resolve(person_id)
        return [_indexed(index, position, current) for position in index.positions_of(current)]

    def photos_of(self, person_id: str, *, offset: int = 0, limit: int = 50) -> list[PersonPhoto]:
        index = self._fresh()
        current = index.resolve(person_id)
        positions = np.asarray(index.positions_of(current), dtype=np.int64)
        if not len(positions):
            return []
        jobs = index.job_numbers(positions)
        # Photos by their newest face (positions grow as faces are stored), newest first.
        order = np.lexsort((-positions, jobs))
        firsts = np.flatnonzero(np.r_[True, np.diff(jobs[order]) != 0])
        newest, photo_jobs = positions[order[firsts]], jobs[order[firsts]]
        page = photo_jobs[np.argsort(-newest, kind="stable")][offset:offset + limit].tolist()
        grouped: dict[int, list[IndexedFace]] = {job: [] for job in page}
        for position, job in zip(positions.tolist(), jobs.tolist(), strict=True):
            if job in grouped:
                grouped[job].append(_indexed(index, position, current))
        return [PersonPhoto(batch_id=faces[0].batch_id, job_id=faces[0].job_id, image_url=faces[0].image_url,
                            faces=faces) for faces in grouped.values()]

    def face(self, face_id: str) -> IndexedFace | None:
        index = self._fresh()
        position = index.position(face_id)
        return None if position is None else _indexed(index, position, index.person_at(position))

    def names(self) -> dict[str, str]:
        index = self._fresh()
        return {name: index.resolve(person) for person, name in index.names.items()}

    def person(self, person_id: str) -> Person | None:
        index = self._fresh()
        current = index.resolve(person_id)
        positions = index.positions_of(current)
        if not positions:
            return None
        best = self._typical_face(index, current)
        return Person(person_id=current, name=index.names.get(current), faces=len(positions),
                      photos=len(set(index.job_numbers(np.asarray(positions, dtype=np.int64)).tolist())),
                      hidden=current in index.hidden, best_face=index.face_at(best)[0],
                      best=_indexed(index, best, current))

    def persons(self, *, offset: int = 0, limit: int = 100, include_hidden: bool = False,
                name: str | None = None) -> list[Person]:
        index = self._fresh()
        needle = None if name is None else name.casefold()
        listed = [p for p in self._listed(index) if (include_hidden or p.person_id not in index.hidden)
                  and (needle is None or needle in (index.names.get(p.person_id) or "").casefold()
                       and p.person_id in index.names)]
        page = []
        for p in listed[offset:offset + limit]:
            best = self._typical_face(index, p.person_id)
            page.append(Person(person_id=p.person_id, name=index.names.get(p.person_id), faces=p.faces,
                               photos=p.photos, hidden=p.person_id in index.hidden, best_face=index.face_at(best)[0],
                               best=_indexed(index, best, p.person_id)))
        return page

    def _typical_face(self, index: FaceIndex, person: str) -> int:
        """The position of the person's face nearest the mean of its prints (a look-alike slip is never the
        cover), kept until faces are added or moved."""
        if self._typical[:2] != (id(index), index.layout_version):
            self._typical = (id(index), index.layout_version, {})
        found = self._typical[2]
        if person not in found:
            positions = np.asarray(index.positions_of(person), dtype=np.int64)
            prints = index.prints_at(positions)
            distances = np.linalg.norm(prints - prints.mean(axis=0), axis=1)
            found[person] = int(positions[np.lexsort((positions, distances))[0]])
        return found[person]

    def _listed(self, index: FaceIndex) -> list[_Listed]:
        """Every person, most faces first: numpy over the face arrays, once per layout of the index."""
        cached = self._listing
        if cached is not None and cached[0] == id(index) and cached[1] == index.layout_version:
            return cached[2]
        version = index.layout_version
        ids, codes, jobs = index.person_columns()
        if not len(codes):
            return []
        faces = np.bincount(codes, minlength=len(ids))
        pairs = np.unique(codes * (int(jobs.max()) + 1) + jobs)
        photos = np.bincount(pairs // (int(jobs.max()) + 1), minlength=len(ids))
        listed = [_Listed(person_id=ids[i], faces=int(faces[i]), photos=int(photos[i]))
                  for i in range(len(ids)) if faces[i]]
        listed.sort(key=lambda p: (-p.faces, p.person_id))
        self._listing = (id(index), version, listed)
        return listed

    # --- person operations (under the matcher's lease, after a refresh) -----------------------------

    def _current(self, index: FaceIndex, person_id: str) -> str:
        current = index.resolve(person_id)
        if not index.positions_of(current):
            raise KeyError(f"no person {person_id!r} in the face index")
        return current

    def merge(self, person_ids: Sequence[str], into: str) -> None:
        with self._matcher_lock():
            index = self._refreshed()
            target = self._current(index, into)
            merges = list(dict.fromkeys((self._current(index, p), target) for p in person_ids))
            merges = [(merged, target) for merged, _ in merges if merged != target]
            self._store.store([], merges=merges, changes=_names_after(index, merges))

    def rename(self, person_id: str, name: str | None) -> None:
        name = (name or "").strip() or None
        with self._matcher_lock():
            index = self._refreshed()
            current = self._current(index, person_id)
            if name is not None:
                for other, taken in index.names.items():
                    if taken == name and index.resolve(other) != current and index.positions_of(other):
                        raise ValueError(f"another person is already named {name!r}")
            self._store.store([], changes=[PersonState(current, name, current in index.hidden)])

    def hide(self, person_id: str, hidden: bool = True) -> None:
        with self._matcher_lock():
            index = self._refreshed()
            current = self._current(index, person_id)
            self._store.store([], changes=[PersonState(current, index.names.get(current), hidden)])

    def split(self, face_id: str, to_person: str | None = None) -> str:
        with self._matcher_lock():
            index = self._refreshed()
            position = index.position(face_id)
            if position is None:
                raise KeyError(f"no face {face_id!r} in the face index")
            old = index.person_at(position)
            target = str(uuid.uuid4()) if to_person is None else self._current(index, to_person)
            if target != old:
                self._store.store([], changes=[Moved(face_id, target), Apart(old, target)])
            return target

    # --- forgetting (under the matcher's lease, after a refresh) --------------------------------------

    def forget_job(self, batch_id: str, job_id: str) -> int:
        return self._forget(lambda index: (index.faces_of_jobs(batch_id, [job_id]), ()))

    def forget_batch(self, batch_id: str) -> int:
        return self._forget(lambda index: (index.faces_of_jobs(batch_id), ()))

    def forget_person(self, person_id: str) -> int:
        return self._forget(lambda index: ((), (person_id,)))

    def forget_faces(self, face_ids: Collection[str]) -> int:
        return self._forget(lambda index: (face_ids, ())) if face_ids else 0

    def faces_before(self, moment: datetime) -> list[IndexedFace]:
        # PartitionKey is the UTC hour a face was first stored (face_store.partition_for): a key range.
        try:
            rows = self._store.table.query_entities("PartitionKey lt @hour", select=["RowKey"],
                                                    parameters={"hour": partition_for(moment.astimezone(UTC))})
            keys = [str(row["RowKey"]) for row in rows]
        except ResourceNotFoundError:
            return []
        index = self._fresh()
        return [_indexed(index, position, index.person_at(position))
                for key in keys if (position := index.position(key)) is not None]

    def _forget(self, choose: Callable[[FaceIndex], tuple[Collection[str], Collection[str]]]) -> int:
        """Deletes the chosen faces and persons, and the persons they leave without a face; how many faces."""
        with self._matcher_lock() as lease:
            index = self._refreshed()
            faces, persons = choose(index)
            gone = forgotten(index, faces, persons)
            if not gone:
                return 0
            renewed = [time.monotonic()]

            def keep_alive() -> None:
                if time.monotonic() - renewed[0] > self._lease_seconds / 3:
                    lease.renew()
                    renewed[0] = time.monotonic()

            snapshots = self._store.snapshots
            TableErasure(table=self._store.table, snapshots=None if snapshots is None else snapshots.container,
                         generation=self._erasures, keep_alive=keep_alive).erase(gone)
            self._store.reset()
            self._generation = self._erasures.current()
        _log.info("face index: forgot %s faces and %s person ids", len(gone.faces), len(gone.persons))
        return len(gone.faces)


@dataclass(frozen=True)
class _Listed:
    person_id: str
    faces: int
    photos: int


def _names_after(index: FaceIndex, merges: Sequence[tuple[str, str]]) -> list[PersonState]:
    """A name follows a merged person into a nameless one; of two names, the one it joined stays."""
    changes: dict[str, PersonState] = {}
    names = dict(index.names)
    for merged, into in merges:
        name = names.pop(merged, None)
        if name is None:
            continue
        if into not in names:
            names[into] = name
            changes[into] = PersonState(into, name, into in index.hidden)
        changes[merged] = PersonState(merged, None, merged in index.hidden)
    return list(changes.values())


def _hit(hit: FaceHit) -> SearchHit:
    return SearchHit(face=IndexedFace(face_id=hit.face_id, batch_id=hit.batch_id, job_id=hit.job_id,
                                      image_url=hit.image_url, face_rectangle=hit.face_rectangle,
                                      person_id=hit.person_id), distance=hit.distance)


def _indexed(index: FaceIndex, position: int, person: str) -> IndexedFace:
    face_id, job_id, batch_id, image_url, rect = index.face_at(position)
    return IndexedFace(face_id=face_id, batch_id=batch_id, job_id=job_id, image_url=image_url,
                       face_rectangle=rect, person_id=person, pinned=face_id in index.pinned)
