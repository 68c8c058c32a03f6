"""facematch on the Face service: find-similar against our face lists, then add the new faces.

Face lists hold at most 1,000 faces (64 lists per resource), so the matcher keeps a series
``<prefix>-000``, ``<prefix>-001``... and opens the next one when the current one is full.
Each added face is recorded in the ``persistedfaces`` table (PartitionKey = face list id,
RowKey = persistedFaceId, image_url, face_rectangle, job_id, batch_id), which is how a match
is turned back into an image. A redelivered job neither adds its faces twice nor matches them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from azure.cognitiveservices.vision.face import FaceClient
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient

from classifiers.backends.azure.calls import ServiceCaller, ServiceError
from classifiers.backends.azure.face import DETECTION_MODEL, RECOGNITION_MODEL
from classifiers.backends.azure.sending import send_image
from classifiers.backends.azure.transfer import FACE_LIMITS, Transfer
from pipeline.errors import ClassifierError, RetryableError
from pipeline.images import Image
from pipeline.job import Job

__all__ = ["FACE_LIST_CAPACITY", "AzureFaceMatcher"]

_log = logging.getLogger(__name__)

FACE_LIST_CAPACITY = 1_000
_MAX_LISTS = 64


def _rect(face: Mapping[str, Any], where: str) -> dict[str, int]:
    rect = face.get("faceRectangle")
    try:
        return {k: int(rect[k]) for k in ("left", "top", "width", "height")}  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise ClassifierError(f"{where}.faceRectangle must have left, top, width and height") from None


def _is_full(error: ServiceError) -> bool:
    return error.status == 403 and (error.code == "QuotaExceeded" or "full" in str(error).lower())


class AzureFaceMatcher:
    """Matches faceprint's service faceIds against every face added before, then adds them."""

    backend = "azure"
    confidence_meaning = "the Face service's findsimilars confidence (matchPerson mode), 0 to 1"

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
        max_matches: int = 20,
    ) -> None:
        self._client: Any = client  # the SDKs are untyped
        self._caller = caller
        self._transfer = transfer
        self._table = table
        self._load_image = load_image
        self._prefix = prefix
        self._capacity = capacity
        self._max_matches = max_matches
        self._lock = threading.Lock()
        self._current: tuple[str, int] | None = None  # (face list id, faces in it) where faces go

    def match_and_store(self, job: Job, faces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per new face: {faceId, faceRectangle, matches: [{id, image_url, face_rectangle, confidence}]}."""
        queries = []
        for i, face in enumerate(faces):
            query = face.get("print")
            if not isinstance(query, str) or not query:
                raise ClassifierError(
                    f"faceprint faces[{i}].print is not a Face service faceId: faceprint ran on the local "
                    "backend and facematch on azure; set FACEPRINT_BACKEND and FACEMATCH_BACKEND alike"
                )
            queries.append((face, query, _rect(face, f"faceprint faces[{i}]")))
        if not queries:
            return []
        lists = self._face_lists()
        results = [
            {"faceId": face.get("faceId", query), "faceRectangle": rect, "matches": self._matches(job, query, lists)}
            for face, query, rect in queries
        ]
        self._store(job, [rect for _, _, rect in queries])
        _log.info("facematch %s: %s faces, %s matches (azure)", job.id, len(results),
                  sum(len(r["matches"]) for r in results))
        return results

    def _face_lists(self) -> list[str]:
        answer = self._caller("list face lists", lambda: self._client.face_list.list(raw=True))
        ids = [str(entry["faceListId"]) for entry in answer.response.json()]
        return sorted(i for i in ids if i.startswith(f"{self._prefix}-"))

    def _matches(self, job: Job, query: str, lists: Sequence[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for face_list in lists:
            answer = self._caller("find similar", partial(
                self._client.face.find_similar, query, face_list_id=face_list,
                max_num_of_candidates_returned=self._max_matches, mode="matchPerson", raw=True))
            for candidate in answer.response.json():
                row = self._row(face_list, str(candidate["persistedFaceId"]))
                if row is None or row.get("job_id") == job.id:
                    continue
                found.append({
                    "id": candidate["persistedFaceId"],
                    "image_url": row.get("image_url", ""),
                    "face_rectangle": json.loads(row.get("face_rectangle") or "{}"),
                    "confidence": round(float(candidate["confidence"]), 4),
                })
        found.sort(key=lambda m: m["confidence"], reverse=True)
        return found[: self._max_matches]

    def _row(self, face_list: str, persisted_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._table.get_entity(face_list, persisted_id))
        except ResourceNotFoundError:
            # added to the face list but its row never written (a crash between the two)
            _log.warning("facematch: persisted face %s/%s has no row in %s", face_list, persisted_id,
                         self._table.table_name)
            return None
        except AzureError as e:
            raise RetryableError(f"reading {self._table.table_name}: {e}") from e

    def _stored_rects(self, job: Job) -> list[dict[str, int]]:
        """Rectangles of this job's faces already stored (a redelivered message)."""
        try:
            rows = self._table.query_entities(
                "PartitionKey ge @low and PartitionKey lt @high and job_id eq @job",
                parameters={"low": f"{self._prefix}-", "high": f"{self._prefix}.", "job": job.id},
            )
            return [json.loads(row["face_rectangle"]) for row in rows]
        except AzureError as e:
            raise RetryableError(f"reading {self._table.table_name}: {e}") from e

    def _store(self, job: Job, rects: Sequence[dict[str, int]]) -> None:
        done = self._stored_rects(job)
        image: list[Image] = []

        def load() -> Image:
            if not image:
                image.append(self._load_image(job.image_url))
            return image[0]

        payload = None
        for rect in rects:
            if rect in done:
                continue
            if payload is None:
                payload = self._transfer.payload_for_url(job.image_url, load, FACE_LIMITS)
            face_list, persisted_id, payload = self._add(job, rect, payload, load)
            try:
                self._table.upsert_entity({
                    "PartitionKey": face_list, "RowKey": persisted_id, "image_url": job.image_url,
                    "face_rectangle": json.dumps(rect), "job_id": job.id, "batch_id": job.batch_id,
                })
            except AzureError as e:
                raise RetryableError(f"writing {self._table.table_name}: {e}") from e

    def _add(self, job: Job, rect: dict[str, int], payload: Any, load: Callable[[], Image]) -> tuple[str, str, Any]:
        scale = payload.scale
        target = [round(rect[k] * scale) for k in ("left", "top", "width", "height")]
        options = {"user_data": json.dumps({"job_id": job.id, "batch_id": job.batch_id})[:1024],
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
        _log.info("facematch: created face list %s", face_list)
        return 0
