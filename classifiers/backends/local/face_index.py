"""The in-memory index of stored face prints: a float32 matrix searched in one pass.

Prints live in fixed-size chunks (no copy of the whole matrix when it grows, and no
doubling of memory at a million prints), each with its squared norms precomputed so a
search is one matrix product per chunk: ||a - q||² = ||a||² + ||q||² - 2 a·q.
Per face the index keeps only its id, a job number and its rectangle; the job's id,
batch and image URL are kept once per job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from classifiers.backends.face_index import person_for_face

__all__ = ["PRINT_DIMENSIONS", "FaceHit", "FaceIndex", "IndexArrays", "StoredFace"]

PRINT_DIMENSIONS = 128
_CHUNK_ROWS = 1 << 16  # 32 MiB of prints per chunk

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class StoredFace:
    """One face as stored: its id, where it came from, and its print."""

    face_id: str
    job_id: str
    batch_id: str
    image_url: str
    face_rectangle: tuple[int, int, int, int]  # left, top, width, height
    print: FloatArray
    person_id: str = ""  # as assigned when stored; "" (rows older than persons): the face's own new person


@dataclass(frozen=True)
class FaceHit:
    """A stored face within the threshold of a query print."""

    face_id: str
    job_id: str
    batch_id: str
    image_url: str
    face_rectangle: tuple[int, int, int, int]
    distance: float
    person_id: str = ""  # the face's person now (merges followed)


class _Chunk:
    def __init__(self) -> None:
        self.prints = np.zeros((_CHUNK_ROWS, PRINT_DIMENSIONS), dtype=np.float32)
        self.norms = np.zeros(_CHUNK_ROWS, dtype=np.float32)
        self.jobs = np.zeros(_CHUNK_ROWS, dtype=np.int32)
        self.rects = np.zeros((_CHUNK_ROWS, 4), dtype=np.int32)
        self.size = 0

    @classmethod
    def full(cls, prints: FloatArray, jobs: npt.NDArray[np.int32], rects: npt.NDArray[np.int32]) -> _Chunk:
        """A full chunk over existing arrays (views of a snapshot buffer: no copy)."""
        chunk = cls.__new__(cls)
        chunk.prints, chunk.jobs, chunk.rects = prints, jobs, rects
        chunk.norms = np.einsum("ij,ij->i", prints, prints)
        chunk.size = len(prints)
        return chunk


class FaceIndex:
    """Face prints in memory, deduplicated by face id. Not thread-safe: its owner locks."""

    def __init__(self) -> None:
        self._chunks: list[_Chunk] = []
        self._face_ids: list[str] = []
        self._positions: dict[str, int] = {}
        self._jobs: list[tuple[str, str, str]] = []  # (job id, batch id, image url) by job number
        self._job_numbers: dict[tuple[str, str], int] = {}  # (batch id, job id): a job is both
        self._persons: list[str] = []  # by position: the person each face was stored with
        self._person_faces: dict[str, list[int]] = {}  # stored person -> positions
        self.merges: dict[str, str] = {}  # merged person -> the person it joined
        self.names: dict[str, str] = {}  # person (current when named) -> its name
        self.hidden: set[str] = set()
        self.apart: set[tuple[str, str]] = set()  # pairs of persons a user split: never merged automatically
        self.pinned: dict[str, str] = {}  # face id -> the person a user moved it to
        self.version = 0  # bumped by every change, so summaries can be cached
        self.layout_version = 0  # bumped when faces are added or change person (not by names or hiding)

    def resolve(self, person_id: str) -> str:
        """The person an id names now (merges followed)."""
        seen = 0
        while person_id in self.merges and seen < 1000:  # a cycle would be a bug; never loop forever
            person_id, seen = self.merges[person_id], seen + 1
        return person_id

    def merge(self, merged: str, into: str) -> None:
        if self.resolve(into) != merged:
            self.merges[merged] = into
            self.version += 1
            self.layout_version += 1

    def move(self, face_id: str, person_id: str) -> None:
        """A user's move of one face to a person (kept for a face loaded later, too)."""
        self.pinned[face_id] = person_id
        position = self._positions.get(face_id)
        if position is not None and self._persons[position] != person_id:
            self._person_faces[self._persons[position]].remove(position)
            self._person_faces.setdefault(person_id, []).append(position)
            self._persons[position] = person_id
        self.version += 1
        self.layout_version += 1

    def set_person(self, person_id: str, name: str | None, hidden: bool) -> None:
        if name:
            self.names[person_id] = name
        else:
            self.names.pop(person_id, None)
        if hidden:
            self.hidden.add(person_id)
        else:
            self.hidden.discard(person_id)
        self.version += 1

    def keep_apart(self, a: str, b: str) -> None:
        self.apart.add((min(a, b), max(a, b)))
        self.version += 1

    def kept_apart(self, a: str, b: str) -> bool:
        """Whether a user split persons ``a`` and ``b`` (as they are now) apart."""
        wanted = {self.resolve(a), self.resolve(b)}
        return len(wanted) == 2 and any({self.resolve(x), self.resolve(y)} == wanted for x, y in self.apart)

    def person_columns(self) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """Per face position: its current person as a number into the returned ids, and its job number."""
        ids: list[str] = []
        numbers: dict[str, int] = {}
        stored: dict[str, int] = {}
        for person in self._person_faces:
            current = self.resolve(person)
            if current not in numbers:
                numbers[current] = len(ids)
                ids.append(current)
            stored[person] = numbers[current]
        codes = np.fromiter((stored[p] for p in self._persons), dtype=np.int64, count=len(self._persons))
        jobs = np.concatenate([c.jobs[:c.size] for c in self._chunks]) if self._chunks else np.zeros(0, np.int32)
        return ids, codes, jobs

    def person_at(self, position: int) -> str:
        return self.resolve(self._persons[position])

    def position(self, face_id: str) -> int | None:
        return self._positions.get(face_id)

    def positions_of(self, person_id: str) -> list[int]:
        """Positions of every face of a person now, including faces stored under ids merged into it."""
        current = self.resolve(person_id)
        members = {current} | {p for p in self.merges if self.resolve(p) == current}
        return sorted(pos for member in members for pos in self._person_faces.get(member, ()))

    def face_at(self, position: int) -> tuple[str, str, str, str, tuple[int, int, int, int]]:
        """(face id, job id, batch id, image url, rectangle) of the face at ``position``."""
        chunk = self._chunks[position // _CHUNK_ROWS]
        row = position % _CHUNK_ROWS
        job_id, batch_id, image_url = self._jobs[int(chunk.jobs[row])]
        left, top, width, height = (int(v) for v in chunk.rects[row])
        return self._face_ids[position], job_id, batch_id, image_url, (left, top, width, height)

    def job_faces(self, batch_id: str, job_id: str) -> dict[str, str]:
        """The faces stored for a job: face id -> person now (a linear scan: for redeliveries only)."""
        number = self._job_numbers.get((batch_id, job_id))
        if number is None:
            return {}
        found: dict[str, str] = {}
        base = 0
        for chunk in self._chunks:
            for row in np.flatnonzero(chunk.jobs[:chunk.size] == number).tolist():
                found[self._face_ids[base + row]] = self.person_at(base + row)
            base += chunk.size
        return found

    def faces_of_jobs(self, batch_id: str, job_ids: Iterable[str] | None = None) -> list[str]:
        """The face ids of these jobs of a batch (every job of it for None)."""
        wanted = None if job_ids is None else set(job_ids)
        numbers = [n for (b, j), n in self._job_numbers.items() if b == batch_id and (wanted is None or j in wanted)]
        if not numbers:
            return []
        found: list[str] = []
        base = 0
        for chunk in self._chunks:
            rows = np.flatnonzero(np.isin(chunk.jobs[:chunk.size], numbers))
            found += [self._face_ids[base + row] for row in rows.tolist()]
            base += chunk.size
        return found

    def job_numbers(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The job number of the face at each position."""
        found = np.empty(len(positions), dtype=np.int64)
        chunk_of = positions // _CHUNK_ROWS
        for number in np.unique(chunk_of).tolist():
            rows = chunk_of == number
            found[rows] = self._chunks[number].jobs[positions[rows] % _CHUNK_ROWS]
        return found

    def prints_at(self, positions: npt.NDArray[np.int64]) -> FloatArray:
        """The prints at these positions (a copy)."""
        found = np.empty((len(positions), PRINT_DIMENSIONS), dtype=np.float32)
        chunk_of = positions // _CHUNK_ROWS
        for number in np.unique(chunk_of).tolist():
            rows = chunk_of == number
            found[rows] = self._chunks[number].prints[positions[rows] % _CHUNK_ROWS]
        return found

    def jobs_of(self, person_id: str) -> set[int]:
        """Job numbers of the photos a person is in."""
        return {int(self._chunks[p // _CHUNK_ROWS].jobs[p % _CHUNK_ROWS]) for p in self.positions_of(person_id)}

    def _add_person(self, face_id: str, person_id: str) -> None:
        person = self.pinned.get(face_id) or person_id or person_for_face(face_id)
        self._person_faces.setdefault(person, []).append(len(self._persons))
        self._persons.append(person)

    def __len__(self) -> int:
        return len(self._face_ids)

    def __contains__(self, face_id: object) -> bool:
        return face_id in self._positions

    @property
    def nbytes(self) -> int:
        """Bytes held by the numpy arrays (the prints dominate: 512 bytes a face)."""
        return sum(c.prints.nbytes + c.norms.nbytes + c.jobs.nbytes + c.rects.nbytes for c in self._chunks)

    def add(self, faces: Iterable[StoredFace]) -> int:
        """Add faces not already in the index; returns how many were new."""
        added = 0
        for face in faces:
            if face.face_id in self._positions:
                continue
            vector = np.asarray(face.print, dtype=np.float32).reshape(-1)
            if vector.shape != (PRINT_DIMENSIONS,):
                raise ValueError(f"face {face.face_id}: a print has {PRINT_DIMENSIONS} numbers, not {vector.size}")
            chunk = self._chunks[-1] if self._chunks and self._chunks[-1].size < _CHUNK_ROWS else None
            if chunk is None:
                chunk = _Chunk()
                self._chunks.append(chunk)
            row = chunk.size
            chunk.prints[row] = vector
            chunk.norms[row] = float(vector @ vector)
            chunk.jobs[row] = self._job_number(face.job_id, face.batch_id, face.image_url)
            chunk.rects[row] = face.face_rectangle
            chunk.size += 1
            self._add_person(face.face_id, face.person_id)
            self._positions[face.face_id] = len(self._face_ids)
            self._face_ids.append(face.face_id)
            added += 1
        self.version += added
        self.layout_version += added
        return added

    def add_arrays(
        self,
        *,
        face_ids: Sequence[str],
        prints: FloatArray,
        job_id: str,
        batch_id: str,
        image_url: str,
        rectangles: npt.NDArray[np.int32],
    ) -> None:
        """Bulk add for synthetic data (benchmarks): one job, many faces, no dedupe check per row."""
        number = self._job_number(job_id, batch_id, image_url)
        start = 0
        while start < len(face_ids):
            if not self._chunks or self._chunks[-1].size == _CHUNK_ROWS:
                self._chunks.append(_Chunk())
            chunk = self._chunks[-1]
            take = min(_CHUNK_ROWS - chunk.size, len(face_ids) - start)
            rows = slice(chunk.size, chunk.size + take)
            block = prints[start:start + take]
            chunk.prints[rows] = block
            chunk.norms[rows] = np.einsum("ij,ij->i", block, block)
            chunk.jobs[rows] = number
            chunk.rects[rows] = rectangles[start:start + take]
            chunk.size += take
            for face_id in face_ids[start:start + take]:
                self._add_person(face_id, "")
                self._positions[face_id] = len(self._face_ids)
                self._face_ids.append(face_id)
            start += take
        self.version += 1
        self.layout_version += 1

    def search(
        self,
        queries: FloatArray,
        *,
        threshold: float,
        limit: int,
        exclude_job: str | None = None,
        exclude_batch: str = "",
    ) -> list[list[FaceHit]]:
        """For each query print, the stored faces within ``threshold`` (Euclidean), nearest first.

        At most ``limit`` hits per query; faces of the job (``exclude_batch``, ``exclude_job``) are never
        returned.
        """
        if limit < 1:
            raise ValueError(f"limit {limit} must be at least 1")
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, PRINT_DIMENSIONS)
        if not len(queries) or not self._chunks:
            return [[] for _ in range(len(queries))]
        excluded = self._job_numbers.get((exclude_batch, exclude_job), -1) if exclude_job is not None else -1
        query_norms = np.einsum("ij,ij->i", queries, queries)
        # ||a||² + ||q||² - 2a·q <= t²  ⇔  ||a||² - 2a·q <= t² - ||q||²: one pass less over the scores.
        bounds = np.float32(threshold * threshold) - query_norms
        scaled = np.float32(-2.0) * queries
        found: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
        base = 0
        for chunk in self._chunks:
            n = chunk.size
            # One product for all of the job's faces, so the chunk is read from memory once.
            scores = scaled @ chunk.prints[:n].T
            scores += chunk.norms[None, :n]
            for i in range(len(queries)):
                row_scores = scores[i]
                rows = np.flatnonzero(row_scores <= bounds[i])
                if excluded >= 0 and len(rows):
                    rows = rows[chunk.jobs[rows] != excluded]
                if len(rows) > limit:
                    rows = rows[np.argpartition(row_scores[rows], limit - 1)[:limit]]
                squared = row_scores[rows] + query_norms[i]
                found[i].extend(zip(squared.tolist(), (rows + base).tolist(), strict=True))
            base += n
        return [self._hits(candidates, limit, query) for candidates, query in zip(found, queries, strict=True)]

    def _hits(self, candidates: list[tuple[float, int]], limit: int, query: FloatArray) -> list[FaceHit]:
        # The expanded form ||a||² + ||q||² - 2a·q loses digits in float32 (identical prints come out
        # ~3e-4 apart): the few hits kept get their distance again, exactly, in float64.
        exact = []
        for _, position in candidates:
            chunk = self._chunks[position // _CHUNK_ROWS]
            stored = chunk.prints[position % _CHUNK_ROWS].astype(np.float64)
            exact.append((float(np.linalg.norm(stored - query.astype(np.float64))), position))
        exact.sort(key=lambda c: (round(c[0], 6), self._face_ids[c[1]]))
        hits = []
        for distance, position in exact[:limit]:
            chunk = self._chunks[position // _CHUNK_ROWS]
            row = position % _CHUNK_ROWS
            job_id, batch_id, image_url = self._jobs[int(chunk.jobs[row])]
            left, top, width, height = (int(v) for v in chunk.rects[row])
            hits.append(FaceHit(
                face_id=self._face_ids[position],
                job_id=job_id,
                batch_id=batch_id,
                image_url=image_url,
                face_rectangle=(left, top, width, height),
                distance=distance,
                person_id=self.person_at(position),
            ))
        return hits

    def _job_number(self, job_id: str, batch_id: str, image_url: str) -> int:
        number = self._job_numbers.get((batch_id, job_id))
        if number is None:
            number = len(self._jobs)
            self._jobs.append((job_id, batch_id, image_url))
            self._job_numbers[(batch_id, job_id)] = number
        return number

    def to_arrays(self) -> IndexArrays:
        """Everything in the index as flat arrays (for a snapshot)."""
        n = len(self._face_ids)
        prints = np.empty((n, PRINT_DIMENSIONS), dtype=np.float32)
        jobs = np.empty(n, dtype=np.int32)
        rects = np.empty((n, 4), dtype=np.int32)
        start = 0
        for chunk in self._chunks:
            rows = slice(start, start + chunk.size)
            prints[rows], jobs[rows], rects[rows] = (chunk.prints[:chunk.size], chunk.jobs[:chunk.size],
                                                     chunk.rects[:chunk.size])
            start += chunk.size
        return IndexArrays(face_ids=list(self._face_ids), prints=prints, job_numbers=jobs, rectangles=rects,
                           jobs=list(self._jobs), persons=list(self._persons), merges=dict(self.merges),
                           names=dict(self.names), hidden=sorted(self.hidden), apart=sorted(self.apart),
                           pinned=dict(self.pinned))

    @classmethod
    def from_arrays(cls, arrays: IndexArrays) -> FaceIndex:
        """An index holding exactly ``arrays`` (from ``to_arrays``), built in bulk.

        Full chunks keep writable input arrays as they are (a snapshot's buffer is not copied);
        the last, partly filled chunk is copied so it can grow."""
        n = len(arrays.face_ids)
        if not (arrays.prints.shape == (n, PRINT_DIMENSIONS) and arrays.job_numbers.shape == (n,)
                and arrays.rectangles.shape == (n, 4)):
            raise ValueError("snapshot arrays disagree in length or shape")
        if n and not (0 <= int(arrays.job_numbers.min()) and int(arrays.job_numbers.max()) < len(arrays.jobs)):
            raise ValueError("snapshot job numbers point past its job list")
        index = cls()
        index._jobs = [(str(j), str(b), str(u)) for j, b, u in arrays.jobs]
        index._job_numbers = {(b, j): number for number, (j, b, _) in enumerate(index._jobs)}
        index._face_ids = list(arrays.face_ids)
        index._positions = dict(zip(index._face_ids, range(n), strict=True))
        if len(index._positions) != n:
            raise ValueError("snapshot repeats a face id")
        persons = arrays.persons if len(arrays.persons) == n else [""] * n  # older snapshots: no persons
        index.names, index.hidden, index.pinned = dict(arrays.names), set(arrays.hidden), dict(arrays.pinned)
        index.apart = {(min(a, b), max(a, b)) for a, b in arrays.apart}
        for face_id, person in zip(index._face_ids, persons, strict=True):
            index._add_person(face_id, person)
        index.merges = dict(arrays.merges)
        for start in range(0, n, _CHUNK_ROWS):
            rows = slice(start, min(n, start + _CHUNK_ROWS))
            size = rows.stop - rows.start
            block = arrays.prints[rows]
            if size == _CHUNK_ROWS and block.flags.writeable:
                index._chunks.append(_Chunk.full(block, arrays.job_numbers[rows], arrays.rectangles[rows]))
                continue
            chunk = _Chunk()
            chunk.prints[:size] = block
            chunk.norms[:size] = np.einsum("ij,ij->i", block, block)
            chunk.jobs[:size] = arrays.job_numbers[rows]
            chunk.rects[:size] = arrays.rectangles[rows]
            chunk.size = size
            index._chunks.append(chunk)
        return index


@dataclass(frozen=True)
class IndexArrays:
    """A face index as flat arrays: row i is face ``face_ids[i]`` of job ``jobs[job_numbers[i]]``."""

    face_ids: list[str]
    prints: FloatArray
    job_numbers: npt.NDArray[np.int32]
    rectangles: npt.NDArray[np.int32]
    jobs: list[tuple[str, str, str]]  # (job id, batch id, image url)
    persons: list[str] = field(default_factory=list)  # by row: the person the face was stored with
    merges: dict[str, str] = field(default_factory=dict)  # merged person -> the person it joined
    names: dict[str, str] = field(default_factory=dict)  # person -> name
    hidden: list[str] = field(default_factory=list)
    apart: list[tuple[str, str]] = field(default_factory=list)
    pinned: dict[str, str] = field(default_factory=dict)  # face id -> the person a user moved it to
