"""The face index: every stored face with its print and its person, behind one interface, two backends.

- ``table`` (default): the ``persistedfaces`` table + blob snapshots, searched in each worker's memory
  (``classifiers.backends.local.table_face_index``); runs on Azurite alone.
- ``postgresql``: one PostgreSQL database with pgvector, searched by the database
  (``classifiers.backends.postgres.face_index``); chosen when ``FACE_INDEX_CONNECTION_STRING`` is set.
- ``azure``: the Face service's face lists (``classifiers.backends.azure.face_index``), when facematch runs on
  the Face service; it keeps faces only, no persons.

Both store a job's faces atomically with its search (one matcher at a time holds the index's lock), so of
two jobs at the same moment the later one always finds the earlier one, and both assign persons with
``face_persons.assign_persons``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["FaceIndexBackend", "IndexedFace", "JobKey", "MatchedFace", "NewFace", "Person", "PersonPhoto",
           "PersonsUnsupportedError", "SearchHit", "person_for_face"]

_PERSON_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "imaginem:person")


class PersonsUnsupportedError(Exception):
    """A person operation on a backend that keeps no persons (the Face service's face lists): the CLI says so
    with exit 2, the People API with a 501."""


def person_for_face(face_id: str) -> str:
    """The id of the new person a face starts: derived from the face, so every worker and a retry agree."""
    return str(uuid.uuid5(_PERSON_NAMESPACE, face_id))


@dataclass(frozen=True)
class JobKey:
    """The job whose faces are stored: a job is (batch id, job id) everywhere."""

    batch_id: str
    job_id: str
    image_url: str


@dataclass(frozen=True)
class NewFace:
    """A face of the job, as faceprint gave it."""

    face_id: str
    face_rectangle: tuple[int, int, int, int]  # left, top, width, height
    print: npt.NDArray[np.float32]
    service_id: str = ""  # the Face service's faceId: the azure backend's print (``print`` is then empty)


@dataclass(frozen=True)
class IndexedFace:
    """A stored face and the person it belongs to now."""

    face_id: str
    batch_id: str
    job_id: str
    image_url: str
    face_rectangle: tuple[int, int, int, int]
    person_id: str
    pinned: bool = False  # a user moved it to this person (``split``)


@dataclass(frozen=True)
class SearchHit:
    """A stored face within the threshold of a new face."""

    face: IndexedFace
    distance: float
    confidence: float | None = None  # the Face service's own (azure backend; distance is then 1 - it)


@dataclass(frozen=True)
class MatchedFace:
    """A new face after ``add_and_search``: its person (at match time) and its matches, nearest first."""

    face_id: str
    person_id: str
    hits: list[SearchHit]


@dataclass(frozen=True)
class Person:
    """A person as listed: faces and photos (jobs) counted, the face to show for them."""

    person_id: str
    name: str | None
    faces: int
    photos: int
    hidden: bool
    best_face: str  # the largest face
    best: IndexedFace | None = None  # that face, where the listing has it at hand (for its crop)


@dataclass(frozen=True)
class PersonPhoto:
    """A photo (job) a person is in, with that person's faces in it."""

    batch_id: str
    job_id: str
    image_url: str
    faces: list[IndexedFace]


class FaceIndexBackend(Protocol):
    """Where faces and persons live. Every method is safe to call from many threads and processes."""

    kind: str

    def add_and_search(
        self, job: JobKey, faces: Sequence[NewFace], *, threshold: float, limit: int
    ) -> list[MatchedFace]:
        """Store the job's faces with a person each and return, per face in order, its person and the other
        jobs' faces within ``threshold`` (at most ``limit``). Atomic with respect to other calls; a
        redelivered job stores nothing new and gets the persons it had."""
        ...

    def person_of(self, face_id: str) -> str | None:
        """The current person of a face (merges followed), None for an unknown face."""
        ...

    def faces_of(self, person_id: str) -> list[IndexedFace]:
        """The faces of a person now; a merged person's old id gives the faces of the person it joined."""
        ...

    def resolve(self, person_id: str) -> str | None:
        """The person an id names now (merges followed), None for an unknown id."""
        ...

    def persons(self, *, offset: int = 0, limit: int = 100, include_hidden: bool = False,
                name: str | None = None) -> list[Person]:
        """Current persons, most faces first (then by id), one page, each with its ``best`` face; with ``name``,
        only the named persons whose name holds it (any case)."""
        ...

    def photos_of(self, person_id: str, *, offset: int = 0, limit: int = 50) -> list[PersonPhoto]:
        """One page of the photos a person is in now, the photo with its newest stored face first."""
        ...

    def person(self, person_id: str) -> Person | None:
        """One person now (merges followed), hidden or not; None for an unknown id."""
        ...

    def face(self, face_id: str) -> IndexedFace | None:
        """One stored face with its person now; None for an unknown face."""
        ...

    def names(self) -> dict[str, str]:
        """Every name given, with the person it names now."""
        ...

    def rename(self, person_id: str, name: str | None) -> None:
        """Name a person (names are unique; None clears it). Raises ValueError for a name taken."""
        ...

    def merge(self, person_ids: Sequence[str], into: str) -> None:
        """Move every face of ``person_ids`` to ``into``; the old ids then resolve to ``into``."""
        ...

    def split(self, face_id: str, to_person: str | None = None) -> str:
        """Move one face to ``to_person`` (a new person when None); returns the face's person. The face is
        pinned there and the two persons are kept apart: no automatic merge joins them again."""
        ...

    def hide(self, person_id: str, hidden: bool = True) -> None:
        """Leave a person out of ``persons()`` unless asked for (faces still match)."""
        ...

    # Forgetting: every method is idempotent; a person left without a face goes too, with her name, the ids
    # merged into her and the splits that name her, so no id or name of hers stays in the index.

    def forget_job(self, batch_id: str, job_id: str) -> int:
        """Delete the faces of one job; returns how many."""
        ...

    def forget_batch(self, batch_id: str) -> int:
        """Delete the faces of every job of a batch; returns how many."""
        ...

    def forget_person(self, person_id: str) -> int:
        """Delete a person (merged ids resolved) with every face of hers; returns how many faces."""
        ...

    def forget_faces(self, face_ids: Collection[str]) -> int:
        """Delete these faces (retention); returns how many."""
        ...

    def faces_before(self, moment: datetime) -> list[IndexedFace]:
        """The faces first stored before ``moment`` (FACE_RETENTION_DAYS), deleting nothing."""
        ...
