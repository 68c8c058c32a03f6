"""The eraser wired from the settings, with the ``table`` face index unless another one is passed in."""

from __future__ import annotations

from pipeline.forget.audit import ERASURES_TABLE, ErasureLog
from pipeline.forget.blobs import BlobEraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.face_index import FaceIndexEraser, TableFaceIndexEraser
from pipeline.forget.people import LinkedPeople
from pipeline.forget.pipelinelogs import EntityEraser, MentionScrubber
from pipeline.forget.queues import QueueEraser
from pipeline.forget.scope import Scope, plan
from pipeline.forget.sql import SqlEraser
from pipeline.forget.target import Target
from pipeline.forget.tombstones import FORGOTTEN_TABLE, Tombstones
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.linked import LinkedContent
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.storage import Storage

__all__ = ["build_eraser", "table_face_index"]

PERSISTED_FACES = "persistedfaces"  # classifiers.backends.local.face_store.DEFAULT_TABLE
SNAPSHOTS = "faceindex"  # classifiers.backends.local.face_snapshot.DEFAULT_CONTAINER


def table_face_index(storage: Storage, database: Database) -> TableFaceIndexEraser:
    return TableFaceIndexEraser(table=storage.table(PERSISTED_FACES), snapshots=storage.container(SNAPSHOTS),
                                people=LinkedPeople(database=database))


def build_eraser(settings: Settings, *, storage: Storage | None = None, database: Database | None = None,
                 face_index: FaceIndexEraser | None = None, settle_seconds: float = 5.0) -> Eraser:
    storage = storage or Storage.from_settings(settings)
    database = database or Database.from_settings(settings)
    index = face_index or table_face_index(storage, database)
    table = storage.table(PIPELINELOGS)
    log, linked = PipelineLog(table), LinkedContent(storage)

    def planned(target: Target) -> Scope:
        return plan(target, log=log, linked=linked, database=database, face_index=index)

    def in_flight(scope: Scope) -> bool:
        entities = log.batch(scope.whole_batch) if scope.whole_batch is not None else [
            e for key in sorted(scope.jobs) if (e := log.read(*key)) is not None]
        return any("job_output" not in e for e in entities)

    return Eraser(
        plan=planned, face_index=index, tombstones=Tombstones(table=storage.table(FORGOTTEN_TABLE)),
        audit=ErasureLog(table=storage.table(ERASURES_TABLE)), in_flight=in_flight, settle_seconds=settle_seconds,
        stores=[MentionScrubber(table=table, storage=storage, linked=linked), SqlEraser(database=database),
                BlobEraser(storage=storage, input_containers=settings.input_containers,
                           faces_container=settings.faces_container),
                QueueEraser(storage=storage), EntityEraser(table=table)])
