"""Forgetting faces in the face index: the interface the eraser needs, and its ``table`` backend.

``FaceIndexEraser`` is all the eraser asks of a face index; the composition root passes the backend in use
(``TableFaceIndexEraser`` for the ``persistedfaces`` table and its snapshot blobs, another for PostgreSQL).

The table backend deletes the rows (one scan of the table's keys, deletes grouped per partition in
transactions of 100), then rewrites the newest snapshot without them and deletes every other snapshot,
so no forgotten print can be loaded again. It then writes ``erased.json`` beside the snapshots: the mark
a running worker can watch to drop the prints it already holds in memory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

from classifiers.backends.local.face_index import IndexArrays
from classifiers.backends.local.face_snapshot import FaceSnapshots

__all__ = ["ERASED_MARK", "FaceIndexEraser", "PersonFaces", "TableFaceIndexEraser"]

_log = logging.getLogger(__name__)

ERASED_MARK = "erased.json"
_TRANSACTION_LIMIT = 100
_PAGE = 1000


@dataclass(frozen=True)
class PersonFaces:
    """A person's faces and the jobs (batch id, job id) they are in."""

    face_ids: frozenset[str] = frozenset()
    jobs: frozenset[tuple[str, str]] = frozenset()


class FaceIndexEraser(Protocol):
    """What the eraser asks of a face index. Every method is idempotent."""

    name: str

    def forget_jobs(self, batch_id: str, job_ids: Collection[str] | None) -> int:
        """Delete the faces of these jobs of the batch (all its jobs for None); how many were deleted."""
        ...

    def person_faces(self, person_id: str) -> PersonFaces:
        """The person's faces and their jobs, deleting nothing."""
        ...

    def forget_faces(self, face_ids: Collection[str]) -> int:
        """Delete these faces (and, where the backend keeps persons, persons left without faces)."""
        ...

    def forget_person(self, person_id: str) -> PersonFaces:
        """Delete the person, her name and her faces; what was hers."""
        ...

    def faces_before(self, moment: datetime) -> PersonFaces:
        """The faces stored before ``moment`` (for FACE_RETENTION_DAYS), deleting nothing."""
        ...


PersonResolver = Callable[[str], PersonFaces]
"""Finds a person's faces where the index keeps no person ids (today's table: facematch's links)."""


@dataclass
class TableFaceIndexEraser:
    """The ``persistedfaces`` table (one row per face, ``batch_id``/``job_id`` properties) and its snapshots."""

    table: TableClient
    snapshots: ContainerClient
    people: PersonResolver | None = None
    name: str = "face index (table)"
    requests: int = field(default=0, init=False)

    def forget_jobs(self, batch_id: str, job_ids: Collection[str] | None) -> int:
        wanted = None if job_ids is None else set(job_ids)
        return self._delete(lambda row: row.get("batch_id") == batch_id
                            and (wanted is None or row.get("job_id") in wanted))

    def person_faces(self, person_id: str) -> PersonFaces:
        rows = [r for r in self._rows(("RowKey", "batch_id", "job_id", "person_id"))
                if r.get("person_id") == person_id]
        if rows:  # an index that records persons says it itself
            return PersonFaces(frozenset(str(r["RowKey"]) for r in rows),
                               frozenset((str(r.get("batch_id", "")), str(r.get("job_id", ""))) for r in rows))
        return self.people(person_id) if self.people is not None else PersonFaces()

    def forget_faces(self, face_ids: Collection[str]) -> int:
        wanted = set(face_ids)
        return self._delete(lambda row: row.get("RowKey") in wanted) if wanted else 0

    def faces_before(self, moment: datetime) -> PersonFaces:
        # PartitionKey is the UTC hour a face was first stored (face_store.partition_for): a key range.
        hour = moment.astimezone(UTC).strftime("%Y-%m-%dT%H")
        self.requests += 1
        try:
            rows = list(self.table.query_entities("PartitionKey lt @hour", parameters={"hour": hour},
                                                  select=["RowKey", "batch_id", "job_id"], results_per_page=_PAGE))
        except ResourceNotFoundError:
            return PersonFaces()
        return PersonFaces(frozenset(str(r["RowKey"]) for r in rows),
                           frozenset((str(r.get("batch_id", "")), str(r.get("job_id", ""))) for r in rows))

    def forget_person(self, person_id: str) -> PersonFaces:
        faces = self.person_faces(person_id)
        self.forget_faces(faces.face_ids)
        return faces

    def _rows(self, select: Iterable[str]) -> Iterable[Mapping[str, Any]]:
        self.requests += 1
        for page in self.table.list_entities(select=list(select), results_per_page=_PAGE).by_page():
            self.requests += 1
            yield from page

    def _delete(self, chosen: Callable[[Mapping[str, Any]], bool]) -> int:
        doomed: dict[str, list[str]] = {}
        try:
            for row in self._rows(("PartitionKey", "RowKey", "batch_id", "job_id")):
                if chosen(row):
                    doomed.setdefault(str(row["PartitionKey"]), []).append(str(row["RowKey"]))
        except ResourceNotFoundError:  # no table: no faces
            return 0
        deleted = 0
        for partition, keys in doomed.items():
            for start in range(0, len(keys), _TRANSACTION_LIMIT):
                chunk = keys[start:start + _TRANSACTION_LIMIT]
                self.table.submit_transaction([("delete", {"PartitionKey": partition, "RowKey": k}) for k in chunk])
                self.requests += 1
                deleted += len(chunk)
        gone = {k for keys in doomed.values() for k in keys}
        if gone:
            self._rewrite_snapshots(gone)
        return deleted

    def _rewrite_snapshots(self, gone: set[str]) -> None:
        """The newest snapshot again without ``gone``; every other snapshot deleted; the erased mark written."""
        store = FaceSnapshots(container=self.snapshots, keep=1)
        latest = store.load_latest()
        names = store.names()
        self.requests += 2
        # Old ones first: a rewritten snapshot holds fewer faces, so its name sorts below the one it replaces.
        for name in names:
            try:
                self.snapshots.delete_blob(name)
            except ResourceNotFoundError:
                pass
            self.requests += 1
        if latest is not None:
            store.save(_without(latest.index.to_arrays(), gone), latest.mark)
            self.requests += 2
        mark = json.dumps({"at": datetime.now(UTC).isoformat(), "faces": len(gone)})
        try:
            self.snapshots.upload_blob(ERASED_MARK, mark.encode(), overwrite=True)
        except ResourceNotFoundError:
            self.snapshots.create_container()
            self.snapshots.upload_blob(ERASED_MARK, mark.encode(), overwrite=True)
        self.requests += 1


def _without(arrays: IndexArrays, gone: set[str]) -> IndexArrays:
    """The arrays without the faces ``gone``, and without the jobs no remaining face belongs to."""
    keep = np.array([face_id not in gone for face_id in arrays.face_ids], dtype=bool)
    numbers = arrays.job_numbers[keep]
    used = sorted(set(int(n) for n in numbers))
    renumber = {old: new for new, old in enumerate(used)}
    return IndexArrays(
        face_ids=[f for f, k in zip(arrays.face_ids, keep, strict=True) if k],
        prints=np.ascontiguousarray(arrays.prints[keep]),
        job_numbers=np.array([renumber[int(n)] for n in numbers], dtype=np.int32),
        rectangles=np.ascontiguousarray(arrays.rectangles[keep]),
        jobs=[arrays.jobs[old] for old in used],
    )
