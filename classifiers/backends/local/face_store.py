"""The persisted faces: rows of the Azure Table ``persistedfaces``, mirrored in each worker's memory.

One row per face::

    PartitionKey    the UTC hour the face was first stored, "2026-11-24T16"
    RowKey          the face id (from faceprint)
    image_url       the job's image
    face_rectangle  JSON {"left", "top", "width", "height"}
    job_id, batch_id
    print           Edm.Binary: 128 little-endian float32 (512 bytes)
    person_id       the person facematch gave the face (missing on older rows: the face's own person)

and, read with the faces, one row per merge of two persons (RowKey ``merge-<person>``, ``merged_into``),
per named or hidden person (``person-<person>``: ``name``, ``hidden``), per face a user moved
(``moved-<face>``: ``moved_to``) and per pair of persons a user split (``apart-<a>+<b>``: ``apart_a``,
``apart_b``). These rows hold state, not deltas, so reading one twice (the overlap) changes nothing.

A cold worker first loads the newest snapshot of the index from a blob (``face_snapshot``) when one is
configured, then reads only the rows newer than it; a worker whose index grew by ``snapshot_every``
faces since the last snapshot it saw writes a new one.

Why hour partitions: the keys then grow with time, so "rows added since my last load" is
a range query on the primary key (``PartitionKey ge <hour>``) plus a ``Timestamp`` filter
inside those few partitions, never a scan of the whole table. The Timestamp filter starts
``overlap`` before the newest Timestamp already loaded (writes become visible slightly out
of Timestamp order) and rows seen twice are dropped by face id. A redelivered job is idempotent:
its faces are already in memory (loaded at the refresh before the search), so they are not
written again; an unknown face is upserted by (PartitionKey, RowKey).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from azure.core.exceptions import AzureError
from azure.data.tables import TableClient, UpdateMode

from classifiers.backends.local.face_index import PRINT_DIMENSIONS, FaceHit, FaceIndex, StoredFace
from classifiers.backends.local.face_snapshot import FaceSnapshots
from pipeline.errors import RetryableError

__all__ = ["DEFAULT_TABLE", "Apart", "FaceStore", "Moved", "PersonState", "partition_for"]

DEFAULT_TABLE = "persistedfaces"
_PRINT_DTYPE = np.dtype("<f4")
_PAGE = 1000
_TRANSACTION_LIMIT = 100  # operations per entity group transaction
_MERGE_PREFIX = "merge-"
_PERSON_PREFIX = "person-"
_MOVED_PREFIX = "moved-"
_APART_PREFIX = "apart-"

_log = logging.getLogger(__name__)


def partition_for(moment: datetime) -> str:
    """The PartitionKey of a face first stored at ``moment``: its UTC hour."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


class FaceStore:
    """Every stored face, loaded once per worker and then refreshed incrementally. Thread-safe."""

    def __init__(
        self,
        *,
        table: TableClient,
        overlap: timedelta = timedelta(seconds=10),
        clock_skew: timedelta = timedelta(minutes=15),
        refresh_interval: float = 1.0,
        snapshots: FaceSnapshots | None = None,
        snapshot_every: int = 10_000,
    ) -> None:
        """``overlap``: how far before the newest loaded Timestamp a refresh re-reads;
        ``clock_skew``: how far a writer's clock may be from the service's (picks partitions);
        ``refresh_interval``: least seconds between two refreshes before a search (0: every search);
        ``snapshots``: where index snapshots live (None: always load from the table);
        ``snapshot_every``: faces added since the last snapshot before this worker writes a new one."""
        self._table = table
        self._snapshots = snapshots
        self._snapshot_every = max(1, snapshot_every)
        self._snapshot_size = 0  # faces in the newest snapshot this worker loaded or wrote
        self._snapshot_lock = threading.Lock()
        self.loaded_from_snapshot: str | None = None
        self._overlap = overlap
        self._clock_skew = clock_skew
        self._refresh_interval = refresh_interval
        self._index = FaceIndex()
        self._lock = threading.RLock()
        self._newest: datetime | None = None  # newest service Timestamp among loaded rows
        self._loaded_at: float | None = None
        self.rows_read = 0  # rows the last refresh read, new or not: the cost of the overlap

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    @property
    def index(self) -> FaceIndex:
        return self._index

    @property
    def table(self) -> TableClient:
        return self._table

    @property
    def snapshots(self) -> FaceSnapshots | None:
        return self._snapshots

    def reset(self) -> None:
        """Forget what is in memory: the next refresh loads the newest snapshot and the table again (after an
        erasure, whose faces this worker may still hold)."""
        with self._lock:
            self._index = FaceIndex()
            self._newest = None
            self._loaded_at = None
            self._snapshot_size = 0

    def refresh(self, *, force: bool = True) -> int:
        """Load the rows added since the last load (all rows the first time); returns how many were new."""
        with self._lock:
            now = time.monotonic()
            if not force and self._loaded_at is not None and now - self._loaded_at < self._refresh_interval:
                return 0
            started = time.perf_counter()
            if self._newest is None and self._snapshots is not None and not len(self._index):
                self._load_snapshot()
            newest = self._newest
            added = read = 0
            try:
                for batch in self._pages(self._query()):
                    read += len(batch)
                    added += self._index.add(item for item, _ in batch if isinstance(item, StoredFace))
                    for item, _ in batch:
                        if not isinstance(item, StoredFace):
                            _apply(self._index, item)
                    for _, stamp in batch:
                        if newest is None or stamp > newest:
                            newest = stamp
            except AzureError as e:
                raise RetryableError(f"reading the face store {self._table.table_name}: {e}") from e
            # Only a complete read may move the mark: rows come in key order, not Timestamp order.
            self._newest = newest
            self._loaded_at = now
            self.rows_read = read
            _log.info("face store %s: read %s rows, %s new faces, %s in all, %.0f ms", self._table.table_name,
                      read, added, len(self._index), (time.perf_counter() - started) * 1000)
            return added

    def search(
        self, prints: np.ndarray, *, threshold: float, limit: int, exclude_job: str, exclude_batch: str = ""
    ) -> list[list[FaceHit]]:
        """Refresh (unless done within ``refresh_interval``), then search every print."""
        with self._lock:
            self.refresh(force=False)
            hits = self._index.search(prints, threshold=threshold, limit=limit, exclude_job=exclude_job,
                                      exclude_batch=exclude_batch)
        self.snapshot_if_due()
        return hits

    def snapshot_if_due(self) -> str | None:
        """Write a snapshot when the index grew by ``snapshot_every`` faces since the last one; its name or None.

        The arrays are copied under the lock and uploaded outside it, so searches go on meanwhile.
        A failed upload is logged and tried again after the next growth: the table stays the truth.
        """
        if self._snapshots is None or not self._snapshot_lock.acquire(blocking=False):
            return None
        try:
            with self._lock:
                if self._newest is None or len(self._index) - self._snapshot_size < self._snapshot_every:
                    return None
                arrays, mark = self._index.to_arrays(), self._newest
            try:
                name = self._snapshots.save(arrays, mark)
            except AzureError as e:
                _log.warning("face store: could not write a snapshot: %s", e)
                return None
            self._snapshot_size = len(arrays.face_ids)
            _log.info("face store: wrote snapshot %s (%s faces)", name, self._snapshot_size)
            return name
        finally:
            self._snapshot_lock.release()

    def _load_snapshot(self) -> None:
        assert self._snapshots is not None
        snapshot = self._snapshots.load_latest()
        if snapshot is None:
            return
        self._index = snapshot.index
        self._newest = snapshot.mark
        self._snapshot_size = len(snapshot.index)
        self.loaded_from_snapshot = snapshot.name

    def store(self, faces: Sequence[StoredFace], merges: Sequence[tuple[str, str]] = (),
              changes: Sequence[PersonState | Moved | Apart] = ()) -> int:
        """Persist the faces not stored yet (idempotent), the merges of persons and a user's changes (in that
        order, in one transaction up to 100 rows), and add them to memory; returns how many faces were new."""
        with self._lock:
            new = [face for face in faces if face.face_id not in self._index]
            if not new and not merges and not changes:
                return 0
            partition = partition_for(datetime.now(UTC))
            entities = [_entity(face, partition) for face in new]
            entities += [{"PartitionKey": partition, "RowKey": f"{_MERGE_PREFIX}{merged}", "merged_into": into}
                         for merged, into in merges]
            entities += [_change_entity(change, partition) for change in changes]
            try:
                for start in range(0, len(entities), _TRANSACTION_LIMIT):
                    self._table.submit_transaction(
                        [("upsert", e, {"mode": UpdateMode.REPLACE})
                         for e in entities[start:start + _TRANSACTION_LIMIT]]
                    )
            except AzureError as e:
                raise RetryableError(f"storing {len(new)} faces in {self._table.table_name}: {e}") from e
            for merged, into in merges:
                self._index.merge(merged, into)
            added = self._index.add(new)
            for change in changes:
                _apply(self._index, change)
            return added

    def _query(self) -> Iterable[Mapping[str, Any]]:
        if self._newest is None:
            return self._table.list_entities(results_per_page=_PAGE)
        return self._table.query_entities(
            "PartitionKey ge @partition and Timestamp ge @since",
            parameters={
                "partition": partition_for(self._newest - self._clock_skew),
                "since": self._newest - self._overlap,
            },
            results_per_page=_PAGE,
        )

    def _pages(self, entities: Iterable[Mapping[str, Any]]) -> Iterator[list[tuple[_Row, datetime]]]:
        batch: list[tuple[_Row, datetime]] = []
        for entity in entities:
            row = _row(entity)
            if row is not None:
                batch.append(row)
            if len(batch) >= _PAGE:
                yield batch
                batch = []
        if batch:
            yield batch


def _entity(face: StoredFace, partition: str) -> dict[str, Any]:
    left, top, width, height = face.face_rectangle
    return {
        "PartitionKey": partition,
        "RowKey": face.face_id,
        "image_url": face.image_url,
        "face_rectangle": json.dumps({"left": left, "top": top, "width": width, "height": height}),
        "job_id": face.job_id,
        "batch_id": face.batch_id,
        "print": np.asarray(face.print, dtype=_PRINT_DTYPE).tobytes(),
        "person_id": face.person_id,
    }


@dataclass(frozen=True)
class _Merge:
    merged: str
    into: str


@dataclass(frozen=True)
class PersonState:
    """A person's name (None: unnamed) and whether it is hidden, as a user set them."""

    person_id: str
    name: str | None
    hidden: bool


@dataclass(frozen=True)
class Moved:
    """A face a user moved to a person."""

    face_id: str
    person_id: str


@dataclass(frozen=True)
class Apart:
    """Two persons a user split: no automatic merge joins them."""

    a: str
    b: str


_Row = StoredFace | _Merge | PersonState | Moved | Apart


def _apply(index: FaceIndex, row: _Merge | PersonState | Moved | Apart) -> None:
    match row:
        case _Merge(merged=merged, into=into):
            index.merge(merged, into)
        case PersonState(person_id=person, name=name, hidden=hidden):
            index.set_person(person, name, hidden)
        case Moved(face_id=face, person_id=person):
            index.move(face, person)
        case Apart(a=a, b=b):
            index.keep_apart(a, b)


def _change_entity(change: PersonState | Moved | Apart, partition: str) -> dict[str, Any]:
    match change:
        case PersonState(person_id=person, name=name, hidden=hidden):
            return {"PartitionKey": partition, "RowKey": f"{_PERSON_PREFIX}{person}", "name": name or "",
                    "hidden": hidden}
        case Moved(face_id=face, person_id=person):
            return {"PartitionKey": partition, "RowKey": f"{_MOVED_PREFIX}{face}", "moved_to": person}
        case Apart(a=a, b=b):
            return {"PartitionKey": partition, "RowKey": f"{_APART_PREFIX}{min(a, b)}+{max(a, b)}",
                    "apart_a": a, "apart_b": b}


def _change_row(key: str, entity: Mapping[str, Any]) -> _Merge | PersonState | Moved | Apart | None:
    if key.startswith(_MERGE_PREFIX) and "merged_into" in entity:
        return _Merge(merged=key[len(_MERGE_PREFIX):], into=str(entity["merged_into"]))
    if key.startswith(_PERSON_PREFIX) and "name" in entity:
        return PersonState(person_id=key[len(_PERSON_PREFIX):], name=str(entity["name"]) or None,
                           hidden=bool(entity.get("hidden", False)))
    if key.startswith(_MOVED_PREFIX) and "moved_to" in entity:
        return Moved(face_id=key[len(_MOVED_PREFIX):], person_id=str(entity["moved_to"]))
    if key.startswith(_APART_PREFIX) and "apart_a" in entity and "apart_b" in entity:
        return Apart(a=str(entity["apart_a"]), b=str(entity["apart_b"]))
    return None


def _row(entity: Mapping[str, Any]) -> tuple[_Row, datetime] | None:
    """The stored face (or person change) and its service Timestamp, or None (logged) for neither."""
    face_id = entity.get("RowKey", "?")
    change = _change_row(str(face_id), entity)
    if change is not None:
        return change, entity.metadata["timestamp"]  # type: ignore[attr-defined]
    if "print" not in entity:  # a face persisted by the Azure backend (a face list entry): not ours
        _log.debug("face store: row %s has no print; skipped", face_id)
        return None
    try:
        raw = entity["print"]
        vector = np.frombuffer(raw, dtype=_PRINT_DTYPE)
        if vector.size != PRINT_DIMENSIONS:
            raise ValueError(f"print has {vector.size} numbers")
        rect = json.loads(entity["face_rectangle"])
        face = StoredFace(
            face_id=str(face_id),
            job_id=str(entity["job_id"]),
            batch_id=str(entity.get("batch_id", "")),
            image_url=str(entity["image_url"]),
            face_rectangle=(int(rect["left"]), int(rect["top"]), int(rect["width"]), int(rect["height"])),
            print=vector,
            person_id=str(entity.get("person_id", "")),
        )
        stamp = entity.metadata["timestamp"]  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        _log.warning("face store: skipping row %s: %s", face_id, e)
        return None
    return face, stamp
