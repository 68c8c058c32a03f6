"""Forgetting in the ``table`` face index: the rows deleted, the snapshots rewritten, the generation bumped.

What goes (``Forgotten``): the chosen faces, and every person left without a face by them (or named to
go), under every id she had (merged ids too). In the ``persistedfaces`` table that is her face rows, the
``merge-``, ``person-`` (name, hidden), ``moved-`` and ``apart-`` rows that name her or her faces; the rows
are found with one scan of the table's keys (a face's partition is the hour it was stored, which nothing
else knows) and deleted per partition in transactions of 100. Then the newest snapshot is rewritten
without her and every other snapshot deleted, so no forgotten print can be loaded again.

The erasure generation is the ETag of ``erased.json`` beside the snapshots: bumped before the snapshots
are rewritten and once more after. A worker compares it, under the matcher's lease, before each search
and reloads its index when it changed; a worker that wrote a snapshot from an index older than the
current generation deletes that snapshot again (``TableFaceIndex``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

from classifiers.backends.local.face_index import FaceIndex, IndexArrays
from classifiers.backends.local.face_snapshot import FaceSnapshots

__all__ = ["ERASED_MARK", "ErasureGeneration", "Forgotten", "TableErasure", "forgotten"]

ERASED_MARK = "erased.json"
_TRANSACTION_LIMIT = 100
_PAGE = 1000
_KEYS = ["PartitionKey", "RowKey", "merged_into", "moved_to", "apart_a", "apart_b"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forgotten:
    """Faces to delete, and every id of the persons that go with them."""

    faces: frozenset[str]
    persons: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.faces or self.persons)


def forgotten(index: FaceIndex, faces: Iterable[str], persons: Iterable[str] = ()) -> Forgotten:
    """``faces`` and the faces of ``persons``, and the persons (as they are now) left with no face."""
    named = {index.resolve(p) for p in persons}
    gone = {f for f in faces if f in index}
    for person in named:
        gone |= {index.face_at(position)[0] for position in index.positions_of(person)}
    touched = named | {index.person_at(position) for f in gone if (position := index.position(f)) is not None}
    erased = {p for p in touched
              if all(index.face_at(position)[0] in gone for position in index.positions_of(p))}
    known = set(index.merges) | set(index.merges.values()) | set(index.names) | index.hidden \
        | {p for pair in index.apart for p in pair} | set(index.pinned.values())
    # An unknown id names nothing to delete; an id with faces or rows of its own does.
    ids = {p for p in known if index.resolve(p) in erased} | {p for p in erased if index.positions_of(p)}
    return Forgotten(frozenset(gone), frozenset(ids))


class ErasureGeneration:
    """The ETag of ``erased.json``: changes at every erasure, so a worker knows its prints may be stale."""

    def __init__(self, *, container: ContainerClient) -> None:
        self._blob = container.get_blob_client(ERASED_MARK)
        self._container = container

    def current(self) -> str | None:
        try:
            return str(self._blob.get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    def bump(self, faces: int) -> None:
        mark = json.dumps({"at": datetime.now(UTC).isoformat(), "faces": faces}).encode()
        try:
            self._blob.upload_blob(mark, overwrite=True)
        except ResourceNotFoundError:
            try:
                self._container.create_container()
            except ResourceExistsError:
                pass
            self._blob.upload_blob(mark, overwrite=True)


@dataclass
class TableErasure:
    """Deletes what ``Forgotten`` names from the table and the snapshots. Idempotent."""

    table: TableClient
    snapshots: ContainerClient | None
    generation: ErasureGeneration
    keep_alive: Callable[[], None] = lambda: None
    """Called between requests (the caller renews its lease)."""

    def erase(self, gone: Forgotten) -> int:
        """Deletes the rows and rewrites the snapshots; how many rows were deleted."""
        deleted = self._delete_rows(gone)
        self.generation.bump(len(gone.faces))
        self._rewrite_snapshots(gone)
        self.generation.bump(len(gone.faces))
        return deleted

    def _doomed(self, row: Mapping[str, Any], gone: Forgotten) -> bool:
        key = str(row["RowKey"])
        kind, _, rest = key.partition("-")
        match kind:
            case "merge":
                return rest in gone.persons or row.get("merged_into") in gone.persons
            case "person":
                return rest in gone.persons
            case "moved":
                return rest in gone.faces or row.get("moved_to") in gone.persons
            case "apart":
                return row.get("apart_a") in gone.persons or row.get("apart_b") in gone.persons
        return key in gone.faces

    def _delete_rows(self, gone: Forgotten) -> int:
        doomed: dict[str, list[str]] = {}
        try:
            for page in self.table.list_entities(select=_KEYS, results_per_page=_PAGE).by_page():
                for row in page:
                    if self._doomed(row, gone):
                        doomed.setdefault(str(row["PartitionKey"]), []).append(str(row["RowKey"]))
                self.keep_alive()
        except ResourceNotFoundError:  # no table: no rows
            return 0
        deleted = 0
        for partition, keys in doomed.items():
            for start in range(0, len(keys), _TRANSACTION_LIMIT):
                chunk = keys[start:start + _TRANSACTION_LIMIT]
                self.table.submit_transaction([("delete", {"PartitionKey": partition, "RowKey": k}) for k in chunk])
                deleted += len(chunk)
                self.keep_alive()
        return deleted

    def _rewrite_snapshots(self, gone: Forgotten) -> None:
        """The newest snapshot again without ``gone``; every other snapshot deleted."""
        if self.snapshots is None:
            return
        store = FaceSnapshots(container=self.snapshots, keep=1)
        latest = store.load_latest()
        # Old ones first: a rewritten snapshot may sort below the one it replaces (fewer faces, same mark).
        for name in store.names():
            try:
                self.snapshots.delete_blob(name)
            except ResourceNotFoundError:
                pass
            self.keep_alive()
        if latest is not None:
            store.save(without(latest.index.to_arrays(), gone), latest.mark)


def without(arrays: IndexArrays, gone: Forgotten) -> IndexArrays:
    """The arrays without the faces and persons ``gone``, and without jobs no remaining face is in."""
    keep = np.array([face_id not in gone.faces for face_id in arrays.face_ids], dtype=bool)
    numbers = arrays.job_numbers[keep]
    used = sorted(set(int(n) for n in numbers))
    renumber = np.zeros(len(arrays.jobs), dtype=np.int32)
    renumber[used] = np.arange(len(used), dtype=np.int32)
    persons = arrays.persons if len(arrays.persons) == len(arrays.face_ids) else []
    out = gone.persons

    def kept(person: str) -> bool:
        return person not in out

    return IndexArrays(
        face_ids=[f for f, k in zip(arrays.face_ids, keep, strict=True) if k],
        prints=np.ascontiguousarray(arrays.prints[keep]),
        job_numbers=renumber[numbers] if len(numbers) else np.zeros(0, dtype=np.int32),
        rectangles=np.ascontiguousarray(arrays.rectangles[keep]),
        jobs=[arrays.jobs[old] for old in used],
        persons=[p for p, k in zip(persons, keep, strict=True) if k],
        merges={m: into for m, into in arrays.merges.items() if kept(m) and kept(into)},
        names={p: n for p, n in arrays.names.items() if kept(p)},
        hidden=[p for p in arrays.hidden if kept(p)],
        apart=[(a, b) for a, b in arrays.apart if kept(a) and kept(b)],
        pinned={f: p for f, p in arrays.pinned.items() if f not in gone.faces and kept(p)},
    )

