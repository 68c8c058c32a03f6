"""The ``azure`` face index: the Face service's face lists behind ``FaceIndexBackend`` (faces only, no persons).

Face lists hold at most 1,000 faces (64 lists per resource), so the index keeps a series ``<prefix>-000``,
``<prefix>-001``... and opens the next one when the current one is full. Each added face is recorded in the
``persistedfaces`` table (PartitionKey = face list id, RowKey = persistedFaceId, image_url, face_rectangle,
job_id, batch_id), which is how a match is turned back into an image and how a job's faces are forgotten.

``add_and_search`` adds a job's faces (and writes their rows) *before* it calls findSimilar, so of two jobs at
the same moment at least one finds the other; a redelivered job adds nothing new and never matches itself.
Persons need a local index: the person operations raise ``PersonsUnsupportedError`` (the People API's 501).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NoReturn

from azure.cognitiveservices.vision.face import FaceClient
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient

from classifiers.backends.azure.calls import ServiceCaller, ServiceError
from classifiers.backends.azure.face import DETECTION_MODEL, RECOGNITION_MODEL
from classifiers.backends.azure.sending import send_image
from classifiers.backends.azure.transfer import FACE_LIMITS, Transfer
from classifiers.backends.face_index import (
    IndexedFace,
    JobKey,
    MatchedFace,
    NewFace,
    Person,
    PersonPhoto,
    PersonsUnsupportedError,
    SearchHit,
)
from pipeline.errors import ClassifierError, RetryableError
from pipeline.images import Image

__all__ = ["FACE_LIST_CAPACITY", "NO_PERSONS", "AzureFaceIndex"]

_log = logging.getLogger(__name__)

FACE_LIST_CAPACITY = 1_000
_MAX_LISTS = 64
NO_PERSONS = ("persons need a local face index (table or postgresql); the Face service backend keeps face "
              "lists only")


def _is_full(error: ServiceError) -> bool:
    return error.status == 403 and (error.code == "QuotaExceeded" or "full" in str(error).lower())


def _rect_dict(rect: tuple[int, int, int, int]) -> dict[str, int]:
    return dict(zip(("left", "top", "width", "height"), rect, strict=True))


def _indexed(row: Mapping[str, Any]) -> IndexedFace:
    rect = json.loads(row.get("face_rectangle") or "{}")
    return IndexedFace(face_id=str(row["RowKey"]), batch_id=str(row.get("batch_id", "")),
                       job_id=str(row.get("job_id", "")), image_url=str(row.get("image_url", "")),
                       face_rectangle=tuple(int(rect.get(k, 0)) for k in ("left", "top", "width", "height")),  # type: ignore[arg-type]
                       person_id="")


class AzureFaceIndex:
    """Faces in the Face service's face lists, found with findSimilar (matchPerson). Thread-safe."""

    kind = "azure"

    def __init__(
        self,
        *,
        client: FaceClient,
        caller: ServiceCaller,
        transfer: Transfer,
        table: TableClient,
        load_image: Callable[[str], Image],
        prefix: str = "imaginem",
        capacity: int = FACE_LIST_CAPACITY,
    ) -> None:
        self._client: Any = client  # the SDKs are untyped
        self._caller = caller
        self._transfer = transfer
        self._table = table
        self._load_image = load_image
        self._prefix = prefix
        self._capacity = capacity
        self._lock = threading.Lock()
        self._current: tuple[str, int] | None = None  # (face list id, faces in it) where faces go

    # --- facematch ---------------------------------------------------------------------------------

    def add_and_search(
        self, job: JobKey, faces: Sequence[NewFace], *, threshold: float, limit: int
    ) -> list[MatchedFace]:
        """Add the job's faces, then find each one's similar faces of other jobs (``threshold`` is the service's:
        matchPerson mode decides what matches). ``person_id`` is "" (no persons here)."""
        if not faces:
            return []
        for i, face in enumerate(faces):
            if not face.service_id:
                raise ClassifierError(f"faces[{i}] has no Face service faceId: the azure face index needs "
                                      "faceprint on the azure backend")
        self._store(job, [face.face_rectangle for face in faces])
        lists = self._face_lists()  # after storing: the store may have opened a list
        return [MatchedFace(face_id=face.face_id, person_id="", hits=self._similar(job, face.service_id, lists, limit))
                for face in faces]

    def _similar(self, job: JobKey, query: str, lists: Sequence[str], limit: int) -> list[SearchHit]:
        found: list[SearchHit] = []
        for face_list in lists:
            answer = self._caller("find similar", partial(
                self._client.face.find_similar, query, face_list_id=face_list,
                max_num_of_candidates_returned=limit, mode="matchPerson", raw=True))
            for candidate in answer.response.json():
                row = self._row(face_list, str(candidate["persistedFaceId"]))
                if row is None or (row.get("batch_id"), row.get("job_id")) == (job.batch_id, job.job_id):
                    continue
                score = round(float(candidate["confidence"]), 4)
                found.append(SearchHit(face=_indexed(row), distance=1.0 - score, confidence=score))
        found.sort(key=lambda h: (-(h.confidence or 0.0), h.face.face_id))
        return found[:limit]

    def _row(self, face_list: str, persisted_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._table.get_entity(face_list, persisted_id))
        except ResourceNotFoundError:
            # added to the face list but its row not written yet (another job between the two) or never (a crash)
            _log.warning("face index (azure): persisted face %s/%s has no row in %s", face_list, persisted_id,
                         self._table.table_name)
            return None
        except AzureError as e:
            raise RetryableError(f"reading {self._table.table_name}: {e}") from e

    def _rows(self, where: str, parameters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rows of our face lists that match ``where``: OData terms joined by ``and``, no parentheses (the SDK
        reads a parameter's name up to the next space)."""
        try:
            rows = list(self._table.query_entities(
                f"PartitionKey ge @low and PartitionKey lt @high and {where}",
                parameters={"low": f"{self._prefix}-", "high": f"{self._prefix}.", **parameters}))
        except AzureError as e:
            raise RetryableError(f"reading {self._table.table_name}: {e}") from e
        return iter(dict(row) for row in rows)

    def _store(self, job: JobKey, rects: Sequence[tuple[int, int, int, int]]) -> None:
        done = [json.loads(row["face_rectangle"]) for row in self._rows(
            "batch_id eq @batch and job_id eq @job", {"batch": job.batch_id, "job": job.job_id})]
        image: list[Image] = []

        def load() -> Image:
            if not image:
                image.append(self._load_image(job.image_url))
            return image[0]

        payload = None
        for rect in map(_rect_dict, rects):
            if rect in done:
                continue  # a redelivered job: this face is in a list already
            if payload is None:
                payload = self._transfer.payload_for_url(job.image_url, load, FACE_LIMITS)
            face_list, persisted_id, payload = self._add(job, rect, payload, load)
            try:
                self._table.upsert_entity({
                    "PartitionKey": face_list, "RowKey": persisted_id, "image_url": job.image_url,
                    "face_rectangle": json.dumps(rect), "job_id": job.job_id, "batch_id": job.batch_id,
                })
            except AzureError as e:
                raise RetryableError(f"writing {self._table.table_name}: {e}") from e

    def _add(self, job: JobKey, rect: dict[str, int], payload: Any, load: Callable[[], Image]) -> tuple[str, str, Any]:
        scale = payload.scale
        target = [round(rect[k] * scale) for k in ("left", "top", "width", "height")]
        options = {"user_data": json.dumps({"job_id": job.job_id, "batch_id": job.batch_id})[:1024],
                   "target_face": target, "detection_model": DETECTION_MODEL, "raw": True}
        for _ in range(2):
            face_list = self._open_list()
            try:
                answer, payload = send_image(
                    caller=self._caller, what="add face", transfer=self._transfer, payload=payload, load=load,
                    limits=FACE_LIMITS,
                    by_url=partial(self._client.face_list.add_face_from_url, face_list, **options),
                    by_stream=partial(self._client.face_list.add_face_from_stream, face_list, **options),
                )
            except ServiceError as e:
                if not _is_full(e):
                    raise
                # another worker filled it: move on to the next list
                self._mark_full(face_list)
                continue
            with self._lock:
                if self._current is not None and self._current[0] == face_list:
                    self._current = (face_list, self._current[1] + 1)
            return face_list, str(answer.response.json()["persistedFaceId"]), payload
        raise RetryableError(f"face lists {self._prefix}-* keep answering 'full'; retrying later")

    # --- the face lists ----------------------------------------------------------------------------

    def _face_lists(self) -> list[str]:
        answer = self._caller("list face lists", lambda: self._client.face_list.list(raw=True))
        ids = [str(entry["faceListId"]) for entry in answer.response.json()]
        return sorted(i for i in ids if i.startswith(f"{self._prefix}-"))

    def _open_list(self) -> str:
        """The face list new faces go to, creating the next one when the current one is full."""
        with self._lock:
            if self._current is None:
                lists = self._face_lists()
                name = lists[-1] if lists else f"{self._prefix}-000"
                self._current = (name, self._count(name) if lists else self._create(name))
            name, count = self._current
            if count >= self._capacity:
                index = int(name.rsplit("-", 1)[1]) + 1
                if index >= _MAX_LISTS:
                    raise ClassifierError(
                        f"all {_MAX_LISTS} face lists {self._prefix}-* are full ({self._capacity} faces each); "
                        "delete old lists or use the local facematch backend"
                    )
                name = f"{self._prefix}-{index:03d}"
                self._current = (name, self._create(name))
            return name

    def _mark_full(self, face_list: str) -> None:
        with self._lock:
            if self._current is not None and self._current[0] == face_list:
                self._current = (face_list, self._capacity)

    def _count(self, face_list: str) -> int:
        answer = self._caller("get face list", lambda: self._client.face_list.get(face_list, raw=True))
        return len(answer.response.json().get("persistedFaces") or [])

    def _create(self, face_list: str) -> int:
        """Create the list (an existing one is fine: another worker won); returns its face count."""
        try:
            self._caller("create face list", lambda: self._client.face_list.create(
                face_list, name=face_list, user_data="imaginem facematch", recognition_model=RECOGNITION_MODEL,
                raw=True))
        except ServiceError as e:
            if e.status != 409:
                raise
            return self._count(face_list)
        _log.info("face index (azure): created face list %s", face_list)
        return 0

    # --- forgetting: the persisted face in its list, then its row --------------------------------------

    def forget_job(self, batch_id: str, job_id: str) -> int:
        return self._forget(self._rows("batch_id eq @batch and job_id eq @job", {"batch": batch_id, "job": job_id}))

    def forget_batch(self, batch_id: str) -> int:
        return self._forget(self._rows("batch_id eq @batch", {"batch": batch_id}))

    def forget_faces(self, face_ids: Collection[str]) -> int:
        return sum(self._forget(self._rows("RowKey eq @face", {"face": face_id})) for face_id in set(face_ids))

    def faces_before(self, moment: datetime) -> list[IndexedFace]:
        return sorted((_indexed(row) for row in self._rows("Timestamp lt @moment", {"moment": moment})),
                      key=lambda face: face.face_id)

    def face(self, face_id: str) -> IndexedFace | None:
        return next((_indexed(row) for row in self._rows("RowKey eq @face", {"face": face_id})), None)

    def _forget(self, rows: Iterator[dict[str, Any]]) -> int:
        forgotten = 0
        for row in rows:
            face_list, persisted_id = str(row["PartitionKey"]), str(row["RowKey"])
            try:
                self._caller("delete face", partial(self._client.face_list.delete_face, face_list, persisted_id,
                                                    raw=True))
            except ServiceError as e:
                if e.status != 404:  # gone already (an earlier, interrupted erasure)
                    raise
            try:
                self._table.delete_entity(face_list, persisted_id)
            except AzureError as e:
                raise RetryableError(f"deleting from {self._table.table_name}: {e}") from e
            with self._lock:
                if self._current is not None and self._current[0] == face_list:
                    self._current = (face_list, max(0, self._current[1] - 1))
            forgotten += 1
        return forgotten

    # --- persons: not kept by the Face service backend ------------------------------------------------

    def person_of(self, face_id: str) -> str | None:
        _no_persons()

    def faces_of(self, person_id: str) -> list[IndexedFace]:
        _no_persons()

    def resolve(self, person_id: str) -> str | None:
        _no_persons()

    def persons(self, *, offset: int = 0, limit: int = 100, include_hidden: bool = False,
                name: str | None = None) -> list[Person]:
        _no_persons()

    def photos_of(self, person_id: str, *, offset: int = 0, limit: int = 50) -> list[PersonPhoto]:
        _no_persons()

    def person(self, person_id: str) -> Person | None:
        _no_persons()

    def names(self) -> dict[str, str]:
        return {}  # no persons, so no names: the dashboard's face lookups (/api/faces) still answer

    def rename(self, person_id: str, name: str | None) -> None:
        _no_persons()

    def merge(self, person_ids: Sequence[str], into: str) -> None:
        _no_persons()

    def split(self, face_id: str, to_person: str | None = None) -> str:
        _no_persons()

    def hide(self, person_id: str, hidden: bool = True) -> None:
        _no_persons()

    def forget_person(self, person_id: str) -> int:
        _no_persons()


def _no_persons() -> NoReturn:
    raise PersonsUnsupportedError(NO_PERSONS)
