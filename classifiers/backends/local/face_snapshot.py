"""Snapshots of the face index in a blob, so a cold worker loads a million prints in seconds.

Reading ``persistedfaces`` row by row costs minutes at a million faces; a snapshot is the whole index
as flat arrays in one blob, read in a few large ranges. The table stays the truth: a worker loads the
newest snapshot, then reads from the table only the rows newer than the snapshot's mark (the newest
table Timestamp it holds), exactly as a warm worker refreshes.

Safe with many instances writing: every snapshot is a new blob with a unique name, written with
``if_none_match="*"`` (never overwritten), named so that names sort by their mark::

    faceindex/v1/<mark, UTC, 20261201T201500.123456Z>-<faces, 12 digits>-<random>.idx

Readers take the newest name that loads; a snapshot deleted or damaged while being read is
skipped for the next one, and with none left the worker reads the table. Writers prune all but
the newest ``keep``.

Blob layout: ``IMGNFIDX`` + version (u32) + header length (u32) + header JSON
(``count``, ``mark``, ``jobs``) + prints (count×128 float32) + job numbers (count int32)
+ rectangles (count×4 int32) + face ids (UTF-8, newline-separated), all little-endian.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from classifiers.backends.local.face_index import PRINT_DIMENSIONS, FaceIndex, IndexArrays

__all__ = ["DEFAULT_CONTAINER", "FaceSnapshots", "Snapshot"]

DEFAULT_CONTAINER = "faceindex"
_PREFIX = "v1/"
_MAGIC = b"IMGNFIDX"
_VERSION = 1
_HEAD = struct.Struct("<8sII")
_MARK_FORMAT = "%Y%m%dT%H%M%S.%fZ"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: the index and the newest table Timestamp it holds."""

    name: str
    index: FaceIndex
    mark: datetime
    seconds: float  # download and build


class FaceSnapshots:
    """Reads and writes face index snapshots in one blob container."""

    def __init__(self, *, container: ContainerClient, keep: int = 3, max_concurrency: int = 8) -> None:
        self._container = container
        self._keep = max(1, keep)
        self._concurrency = max_concurrency

    @property
    def container(self) -> ContainerClient:
        return self._container

    def names(self) -> list[str]:
        """Snapshot blob names, newest mark first."""
        try:
            names = [b.name for b in self._container.list_blobs(name_starts_with=_PREFIX)]
        except ResourceNotFoundError:
            return []
        return sorted((n for n in names if n.endswith(".idx")), reverse=True)

    def load_latest(self) -> Snapshot | None:
        """The newest snapshot that loads, or None (no snapshot, or none usable)."""
        try:
            names = self.names()
        except AzureError as e:
            _log.warning("face snapshots: cannot list %s: %s; reading the table", self._container.container_name, e)
            return None
        for name in names:
            started = time.perf_counter()
            try:
                data = self._download(name)
                arrays, mark = _decode(data)
                index = FaceIndex.from_arrays(arrays)
            except ResourceNotFoundError:
                _log.info("face snapshots: %s was pruned while loading; trying an older one", name)
                continue
            except (AzureError, ValueError, KeyError, TypeError) as e:
                _log.warning("face snapshots: skipping %s: %s", name, e)
                continue
            seconds = time.perf_counter() - started
            _log.info("face snapshots: loaded %s (%s faces) in %.1f s", name, len(index), seconds)
            return Snapshot(name=name, index=index, mark=mark, seconds=seconds)
        return None

    def _download(self, name: str) -> bytearray:
        """The blob into one writable buffer, which the index then uses in place (no second copy)."""
        downloader = self._container.download_blob(name, max_concurrency=self._concurrency)
        buffer = bytearray(downloader.size)
        downloader.readinto(_BufferWriter(buffer))  # type: ignore[arg-type]  # a seekable binary stream
        return buffer

    def save(self, arrays: IndexArrays, mark: datetime) -> str:
        """Write a new snapshot of the index ``arrays``, complete for table rows up to ``mark``; prune old ones."""
        name = f"{_PREFIX}{mark.astimezone(UTC).strftime(_MARK_FORMAT)}-{len(arrays.face_ids):012d}-" \
               f"{uuid.uuid4().hex[:12]}.idx"
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        try:
            self._container.upload_blob(name, _encode(arrays, mark), overwrite=False, if_none_match="*",
                                        max_concurrency=self._concurrency)
        except ResourceExistsError:  # the same name twice is only possible if uuid4 repeats
            return name
        self.prune()
        return name

    def prune(self) -> None:
        for old in self.names()[self._keep:]:
            try:
                self._container.delete_blob(old)
            except ResourceNotFoundError:  # another instance pruned it first
                pass


class _BufferWriter(io.RawIOBase):
    """A seekable stream over a preallocated buffer, for parallel ranged downloads."""

    def __init__(self, buffer: bytearray) -> None:
        self._view = memoryview(buffer)
        self._position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = base + offset
        return self._position

    def write(self, data: Any) -> int:
        chunk = memoryview(data).cast("B")
        end = self._position + len(chunk)
        if end > len(self._view):
            raise ValueError("the blob grew while it was being read")
        self._view[self._position:end] = chunk
        self._position = end
        return len(chunk)


def _encode(arrays: IndexArrays, mark: datetime) -> bytes:
    header = json.dumps({"count": len(arrays.face_ids), "mark": mark.astimezone(UTC).isoformat(),
                         "dims": PRINT_DIMENSIONS, "jobs": arrays.jobs,
                         "persons": arrays.persons, "merges": arrays.merges, "names": arrays.names,
                         "hidden": arrays.hidden, "apart": arrays.apart, "pinned": arrays.pinned},
                        separators=(",", ":")).encode()
    ids = "\n".join(arrays.face_ids).encode()
    return b"".join([
        _HEAD.pack(_MAGIC, _VERSION, len(header)), header,
        np.ascontiguousarray(arrays.prints, dtype="<f4").tobytes(),
        np.ascontiguousarray(arrays.job_numbers, dtype="<i4").tobytes(),
        np.ascontiguousarray(arrays.rectangles, dtype="<i4").tobytes(),
        ids,
    ])


def _decode(data: bytes | bytearray) -> tuple[IndexArrays, datetime]:
    if len(data) < _HEAD.size:
        raise ValueError("snapshot is truncated")
    magic, version, header_length = _HEAD.unpack_from(data)
    if magic != _MAGIC or version != _VERSION:
        raise ValueError(f"not a version {_VERSION} face index snapshot")
    offset = _HEAD.size
    header = json.loads(data[offset:offset + header_length])
    offset += header_length
    count, dims = int(header["count"]), int(header["dims"])
    if dims != PRINT_DIMENSIONS:
        raise ValueError(f"snapshot prints have {dims} numbers, not {PRINT_DIMENSIONS}")
    sizes = (count * dims * 4, count * 4, count * 16)
    if len(data) < offset + sum(sizes):
        raise ValueError("snapshot is truncated")
    prints = np.frombuffer(data, dtype="<f4", count=count * dims, offset=offset).reshape(count, dims)
    offset += sizes[0]
    job_numbers = np.frombuffer(data, dtype="<i4", count=count, offset=offset)
    offset += sizes[1]
    rectangles = np.frombuffer(data, dtype="<i4", count=count * 4, offset=offset).reshape(count, 4)
    offset += sizes[2]
    ids = bytes(data[offset:]).decode().split("\n") if count else []
    if len(ids) != count:
        raise ValueError(f"snapshot holds {len(ids)} face ids for {count} prints")
    jobs = [(str(j), str(b), str(u)) for j, b, u in header["jobs"]]
    mark = datetime.fromisoformat(header["mark"])
    persons = [str(p) for p in header.get("persons", [])]  # snapshots before persons have none
    merges = {str(k): str(v) for k, v in header.get("merges", {}).items()}
    # Snapshots before names, hiding and splits have none of them.
    names = {str(k): str(v) for k, v in header.get("names", {}).items()}
    apart = [(str(a), str(b)) for a, b in header.get("apart", [])]
    pinned = {str(k): str(v) for k, v in header.get("pinned", {}).items()}
    return IndexArrays(face_ids=ids, prints=prints, job_numbers=job_numbers, rectangles=rectangles,
                       jobs=jobs, persons=persons, merges=merges, names=names,
                       hidden=[str(h) for h in header.get("hidden", [])], apart=apart, pinned=pinned), mark
