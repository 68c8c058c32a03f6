"""The ``table`` face index: the ``persistedfaces`` table (+ snapshots) searched in each worker's memory.

Links never race: a matcher holds a blob lease (one lock for every worker of the storage account) while
it reads the rows added since its last refresh, searches, assigns persons and writes the job's faces;
the next holder's refresh then sees them. Each job costs one lease, one incremental table query and
one entity-group transaction, so the lock is held for a few tens of milliseconds.

Persons: each face row carries the person facematch gave it; merges are rows of their own in the same
table, read with the faces. Names and hiding need the ``postgresql`` backend.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from classifiers.backends.face_index import (
    IndexedFace,
    JobKey,
    MatchedFace,
    NewFace,
    Person,
    SearchHit,
    person_for_face,
)
from classifiers.backends.face_persons import assign_persons
from classifiers.backends.local.face_index import FaceHit, FaceIndex, StoredFace
from classifiers.backends.local.face_store import FaceStore
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

    @contextmanager
    def _matcher_lock(self) -> Iterator[None]:
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
                yield
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

    # --- facematch ---------------------------------------------------------------------------------

    def add_and_search(
        self, job: JobKey, faces: Sequence[NewFace], *, threshold: float, limit: int
    ) -> list[MatchedFace]:
        if not faces:
            return []
        prints = np.stack([face.print for face in faces])
        with self._matcher_lock():
            self._store.refresh(force=True)
            index = self._store.index
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
                )
                persons = assignment.persons
                self._store.store([
                    StoredFace(face_id=f.face_id, job_id=job.job_id, batch_id=job.batch_id, image_url=job.image_url,
                               face_rectangle=f.face_rectangle, print=f.print, person_id=person)
                    for f, person in zip(faces, persons, strict=True)
                ], merges=assignment.merges)
        self._store.snapshot_if_due()
        return [MatchedFace(face_id=f.face_id, person_id=person, hits=[_hit(h) for h in face_hits])
                for f, person, face_hits in zip(faces, persons, hits, strict=True)]

    # --- reads -------------------------------------------------------------------------------------

    def _fresh(self) -> FaceIndex:
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

    def persons(self, *, offset: int = 0, limit: int = 100, include_hidden: bool = False) -> list[Person]:
        index = self._fresh()
        by_person: dict[str, list[int]] = {}
        for position in range(len(index)):
            by_person.setdefault(index.person_at(position), []).append(position)
        listed = []
        for person, positions in by_person.items():
            faces = [index.face_at(p) for p in positions]
            best = max(faces, key=lambda f: (f[4][2] * f[4][3], f[0]))
            listed.append(Person(person_id=person, name=None, faces=len(faces), hidden=False,
                                 photos=len({(f[2], f[1]) for f in faces}), best_face=best[0]))
        listed.sort(key=lambda p: (-p.faces, p.person_id))
        return listed[offset:offset + limit]

    # --- person operations -------------------------------------------------------------------------

    def merge(self, person_ids: Sequence[str], into: str) -> None:
        with self._matcher_lock():
            index = self._fresh()
            target = index.resolve(into)
            merges = [(index.resolve(p), target) for p in person_ids if index.resolve(p) != target]
            self._store.store([], merges=merges)

    def rename(self, person_id: str, name: str | None) -> None:
        raise NotImplementedError("names of persons need the postgresql face index")

    def split(self, face_id: str, to_person: str | None = None) -> str:
        raise NotImplementedError("splitting a person needs the postgresql face index")

    def hide(self, person_id: str, hidden: bool = True) -> None:
        raise NotImplementedError("hiding a person needs the postgresql face index")

    def forget_job(self, batch_id: str, job_id: str) -> int:
        raise NotImplementedError("forgetting faces in the table face index is not built yet")

    def forget_batch(self, batch_id: str) -> int:
        raise NotImplementedError("forgetting faces in the table face index is not built yet")

    def forget_person(self, person_id: str) -> int:
        raise NotImplementedError("forgetting faces in the table face index is not built yet")


def _hit(hit: FaceHit) -> SearchHit:
    return SearchHit(face=IndexedFace(face_id=hit.face_id, batch_id=hit.batch_id, job_id=hit.job_id,
                                      image_url=hit.image_url, face_rectangle=hit.face_rectangle,
                                      person_id=hit.person_id), distance=hit.distance)


def _indexed(index: FaceIndex, position: int, person: str) -> IndexedFace:
    face_id, job_id, batch_id, image_url, rect = index.face_at(position)
    return IndexedFace(face_id=face_id, batch_id=batch_id, job_id=job_id, image_url=image_url,
                       face_rectangle=rect, person_id=person)
