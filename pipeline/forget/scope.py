"""What an erasure touches, worked out before anything is erased: the jobs, the faces, the crops.

For a job or a batch: its jobs (from ``pipelinelogs`` and SQL) and their faces, whose mentions in other jobs
are scrubbed. For a person: her faces (from the face index), the jobs they are in (scrubbed of her faces,
or forgotten whole with ``with_photos``) and the crops of her faces. Outputs are read from the jobs' entities
and SQL rows, linked content expanded; an unreadable output is skipped (its job is erased whole anyway).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.forget.scrub import FACE_OUTPUTS, face_ids_of, scrub_job_output
from pipeline.forget.target import Kind, Target
from pipeline.job_record import PipelineLog, output_property
from pipeline.linked import LinkedContent
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import OUTPUT

if TYPE_CHECKING:
    from classifiers.backends.face_index import FaceIndexBackend

__all__ = ["Scope", "entity_outputs", "plan", "read_entities"]

_log = logging.getLogger(__name__)


@dataclass
class Scope:
    target: Target
    jobs: set[tuple[str, str]] = field(default_factory=set)
    """Jobs forgotten whole: (batch id, job id)."""
    whole_batch: str | None = None
    faces: set[str] = field(default_factory=set)
    """Faces scrubbed from every job output that is kept, and deleted from the face index."""
    scrubbed_jobs: set[tuple[str, str]] = field(default_factory=set)
    """Jobs kept, with their own entries of ``faces`` scrubbed (a person's photos without --with-photos)."""
    crops: set[str] = field(default_factory=set)
    """Face crop URLs to delete beside the jobs' own blobs."""

    def erased(self, batch_id: str, job_id: str) -> bool:
        return batch_id == self.whole_batch or (batch_id, job_id) in self.jobs


def entity_outputs(entity: Mapping[str, Any], linked: LinkedContent) -> dict[str, Any]:
    """The face outputs recorded in a ``pipelinelogs`` entity, linked content expanded."""
    outputs: dict[str, Any] = {}
    for name in FACE_OUTPUTS:
        raw = entity.get(output_property(name))
        if not isinstance(raw, str):
            continue
        try:
            outputs[name] = linked.expand(json.loads(raw))
        except Exception as e:  # an unreadable output holds nothing we can scrub
            _log.info("forget: %s output unreadable: %s", name, type(e).__name__)
    return outputs


_WHOLE_PARTITION = 8
"""Above this many wanted jobs of one batch, its partition is read in pages rather than entity by entity."""


def read_entities(log: PipelineLog, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The ``pipelinelogs`` entities of these jobs that exist, read with as few requests as it takes."""
    by_batch: dict[str, set[str]] = {}
    for batch_id, job_id in keys:
        by_batch.setdefault(batch_id, set()).add(job_id)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for batch_id, jobs in sorted(by_batch.items()):
        if len(jobs) > _WHOLE_PARTITION:
            found |= {(batch_id, str(e["RowKey"])): e for e in log.batch(batch_id) if e["RowKey"] in jobs}
            continue
        for job_id in sorted(jobs):
            entity = log.read(batch_id, job_id)
            if entity is not None:
                found[(batch_id, job_id)] = entity
    return found


def _sql_outputs(database: Database, keys: Iterable[tuple[str, str]] | None, batch_id: str | None
                 ) -> dict[tuple[str, str], dict[str, Any]]:
    """job_output of the SQL rows of these jobs (or of the whole batch)."""
    wanted = list(keys or [])

    def work(cursor: Cursor, dialect: Dialect) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        select = f"SELECT batch_id, {dialect.quote('id')}, job_output FROM {dialect.table(OUTPUT.name)} "
        queries = [(select + "WHERE batch_id = ?", [batch_id])] if batch_id is not None else [
            (select + f"WHERE batch_id = ? AND {dialect.quote('id')} = ?", [b, j]) for b, j in wanted]
        for sql, params in queries:
            cursor.execute(sql, params)
            for b, j, output in cursor.fetchall():
                try:
                    value = json.loads(output) if isinstance(output, str) else output
                except ValueError:
                    value = {}
                found[(str(b), str(j))] = value if isinstance(value, dict) else {}
        return found

    return database.run(work)


def plan(target: Target, *, log: PipelineLog, linked: LinkedContent, database: Database,
         face_index: FaceIndexBackend) -> Scope:
    scope = Scope(target=target)
    outputs: list[Mapping[str, Any]] = []
    if target.kind is Kind.BATCH:
        scope.whole_batch = target.batch_id
        entities = log.batch(target.batch_id)
        scope.jobs |= {(target.batch_id, str(e["RowKey"])) for e in entities}
        rows = _sql_outputs(database, None, target.batch_id)
        scope.jobs |= set(rows)
        outputs += [entity_outputs(e, linked) for e in entities] + list(rows.values())
    elif target.kind is Kind.JOB:
        scope.jobs.add((target.batch_id, target.job_id))
        entity = log.read(target.batch_id, target.job_id)
        outputs += [entity_outputs(entity, linked)] if entity else []
        outputs += list(_sql_outputs(database, scope.jobs, None).values())
    else:
        # The index's person (merged ids resolved by faces_of), or the faces past their retention.
        found = (face_index.faces_of(target.person_id) if target.kind is Kind.PERSON
                 else face_index.faces_before(datetime.fromisoformat(target.before)))
        face_ids = {face.face_id for face in found}
        jobs = {(face.batch_id, face.job_id) for face in found}
        scope.faces |= face_ids
        own: list[Mapping[str, Any]] = [entity_outputs(e, linked) for e in read_entities(log, jobs).values()]
        own += list(_sql_outputs(database, jobs, None).values())
        if target.with_photos:
            scope.jobs |= jobs
            outputs += own
        else:
            scope.scrubbed_jobs |= jobs
            for output in own:
                scope.crops |= set(scrub_job_output(output, face_ids).crops)
    for output in outputs:
        scope.faces |= face_ids_of(output)
    return scope
