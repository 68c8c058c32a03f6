"""Finished jobs written straight into every store (no models): entities, blobs, SQL rows, the face index
(through its backend's ``add_and_search``, so faces get persons as facematch gives them), snapshots and
queued messages, shaped as the pipeline writes them. For the forget tests and bench/forget.py."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from azure.data.tables import UpdateMode

from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace
from classifiers.backends.local.face_snapshot import DEFAULT_CONTAINER as SNAPSHOTS
from classifiers.backends.local.face_snapshot import FaceSnapshots
from classifiers.backends.local.face_store import DEFAULT_TABLE as PERSISTED_FACES
from classifiers.backends.local.face_store import FaceStore
from pipeline.job_record import PIPELINELOGS
from pipeline.linked import LinkedContent
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter
from pipeline.storage import Storage

PIPELINE = ["facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput"]


@dataclass
class Face:
    face_id: str
    batch_id: str
    job_id: str
    image_url: str
    vector: np.ndarray
    person_id: str = ""  # the index's person, once stored


@dataclass
class Written:
    faces: list[Face] = field(default_factory=list)
    jobs: list[tuple[str, str]] = field(default_factory=list)


def _rect(i: int) -> dict[str, int]:
    return {"left": 10 + 40 * i, "top": 10, "width": 30, "height": 30}


class Synthetic:
    def __init__(self, *, storage: Storage, database: Database, index: FaceIndexBackend,
                 faces_container: str = "faces", seed: int | None = None) -> None:
        """``seed``: None for persons of their own (tests share one face index: equal prints would match)."""
        self.storage = storage
        self.database = database
        self.index = index
        self.faces_container = faces_container
        self.snapshots = FaceSnapshots(container=storage.container(SNAPSHOTS))
        self.writer = OutputWriter(database=database)
        self.linked = LinkedContent(storage)
        self.rng = np.random.default_rng(seed)
        self.table = storage.table(PIPELINELOGS)
        self.written = Written()

    def person(self) -> np.ndarray:
        """A print centre: faces near it are one person."""
        vector = self.rng.normal(size=128).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def job(self, batch_id: str, job_id: str, *, people: Sequence[np.ndarray] = (), matches: Sequence[Face] = (),
            link_prints: bool = False, finished: bool = True, store_faces: bool = True, sql: bool = True,
            blobs: bool = True) -> list[Face]:
        """One job whose faces are near ``people`` (one face each) and whose facematch names ``matches``."""
        image_url = self.storage.upload_blob(
            "inputimages", f"{batch_id}/{job_id}", b"\xff\xd8 image " + job_id.encode(),
            content_type="image/jpeg") if blobs else f"https://x.invalid/{job_id}"
        faces = [Face(str(uuid.uuid4()), batch_id, job_id, image_url,
                      (centre + self.rng.normal(scale=0.01, size=128)).astype(np.float32)) for centre in people]
        detection = {"faces": [{"faceId": f.face_id, "faceRectangle": _rect(i), "confidence": 0.99}
                               for i, f in enumerate(faces)]}
        crops = {"facesUrls": [self.storage.upload_blob(self.faces_container, f"{batch_id}/{job_id}/face-{i:03d}.png",
                                                        b"png" + f.face_id.encode(), content_type="image/png")
                               if blobs else None for i, f in enumerate(faces)]}
        prints: Any = {"faces": [{"faceId": f.face_id, "faceRectangle": _rect(i), "print": f.vector.tolist()}
                                 for i, f in enumerate(faces)]}
        stored_prints = self.linked.link(batch_id, job_id, "faceprint", prints) if link_prints else prints
        match = {"matches": [{"faceId": f.face_id, "faceRectangle": _rect(i),
                              "matches": [{"id": m.face_id, "image_url": m.image_url, "face_rectangle": _rect(0),
                                           "confidence": 0.9} for m in matches
                                          if float(np.linalg.norm(m.vector - f.vector)) < 0.5]}
                             for i, f in enumerate(faces)], "backend": "local"}
        outputs = {"facedetection": detection, "facecrop": crops, "faceprint": stored_prints, "facematch": match}
        message = {"job_definition": {"id": job_id, "batch_id": batch_id,
                                      "input": {"image_url": image_url, "image_parameters": {}},
                                      "processing_pipeline": PIPELINE, "processing_step": 4},
                   "job_output": outputs}
        entity: dict[str, Any] = {"PartitionKey": batch_id, "RowKey": job_id, "image_url": image_url,
                                  **{f"{n}_output": json.dumps(v) for n, v in outputs.items()},
                                  **{q: f"step {i}: success" for i, q in enumerate(PIPELINE[:4])}}
        if blobs:
            self.storage.upload_blob("workingcopies", f"{batch_id}/{job_id}/original", b"copy",
                                     content_type="image/jpeg")
        if finished:
            entity["pipelineoutput"] = "step 4: success"
            entity["job_output"] = json.dumps(message)
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        if finished and sql:
            expanded = {**message, "job_output": {**outputs, "faceprint": prints}}
            self.writer.write(expanded, outcome="succeeded")
        if store_faces and faces:
            matched = self.index.add_and_search(
                JobKey(batch_id=batch_id, job_id=job_id, image_url=image_url),
                [NewFace(face_id=f.face_id, face_rectangle=(1, 2, 3, 4), print=f.vector) for f in faces],
                threshold=0.6, limit=10)
            for written, result in zip(faces, matched, strict=True):
                written.person_id = result.person_id
        self.written.faces += faces
        self.written.jobs.append((batch_id, job_id))
        return faces

    def snapshot(self) -> str | None:
        """A snapshot of every stored face, as a worker writes one (the table index only)."""
        if self.index.kind != "table":
            return None
        store = FaceStore(table=self.storage.table(PERSISTED_FACES), refresh_interval=0)
        store.refresh()
        return self.snapshots.save(store.index.to_arrays(), datetime.now(UTC))


def random_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}-{random.randint(0, 999)}"
