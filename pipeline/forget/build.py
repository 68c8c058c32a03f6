"""The eraser wired from the worker's ``Services``: its face index (table or PostgreSQL), storage and database."""

from __future__ import annotations

from pipeline.forget.audit import ERASURES_TABLE, ErasureLog
from pipeline.forget.blobs import BlobEraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.pipelinelogs import EntityEraser, MentionScrubber
from pipeline.forget.queues import QueueEraser
from pipeline.forget.scope import Scope, plan
from pipeline.forget.sql import SqlEraser
from pipeline.forget.target import Target
from pipeline.forget.tombstones import FORGOTTEN_TABLE, Tombstones
from pipeline.job_record import PIPELINELOGS, PipelineLog, finished_message
from pipeline.linked import LinkedContent
from pipeline.services import Services

__all__ = ["build_eraser"]


def build_eraser(services: Services, *, settle_seconds: float = 5.0) -> Eraser:
    """The eraser over the worker's stores; the face index is the worker's own, so a forget in this worker
    leaves its in-memory index clean at once (other workers reload at their next match)."""
    settings, storage, database, index = services.settings, services.storage, services.database, services.face_index
    table = storage.table(PIPELINELOGS)
    log, linked = PipelineLog(table), LinkedContent(storage)

    def planned(target: Target) -> Scope:
        return plan(target, log=log, linked=linked, database=database, face_index=index)

    def in_flight(scope: Scope) -> bool:
        entities = log.batch(scope.whole_batch) if scope.whole_batch is not None else [
            e for key in sorted(scope.jobs) if (e := log.read(*key)) is not None]
        return any(finished_message(e) is None for e in entities)

    return Eraser(
        plan=planned, face_index=index, tombstones=Tombstones(table=storage.table(FORGOTTEN_TABLE)),
        audit=ErasureLog(table=storage.table(ERASURES_TABLE)), in_flight=in_flight, settle_seconds=settle_seconds,
        stores=[MentionScrubber(table=table, storage=storage, linked=linked), SqlEraser(database=database),
                BlobEraser(storage=storage, input_containers=settings.input_containers,
                           faces_container=settings.faces_container),
                QueueEraser(storage=storage), EntityEraser(table=table)])
