"""Write a finished job to ``pipeline_output`` and its labels, replacing an earlier delivery.

One transaction per job, keyed by (batch_id, job id): upsert its row, delete its labels, insert
its labels. A redelivered job therefore replaces its row and labels and never duplicates them,
even when two deliveries of the same job run at once; the same job id in another batch is
another row. The row's ``outcome`` is given by the caller (pipelineoutput reads it from the
job's recorded steps); without one, it is read from the message: a step before this one with
no output failed.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.job import DEFAULT_BATCH_ID
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.labels import Label, labels_from_output
from pipeline.sql.schema import LABELS, OUTPUT

__all__ = ["FINISHED_WITH_FAILURES", "SUCCEEDED", "OutputWriter", "Written", "outcome_from_message", "sql_time"]

_log = logging.getLogger(__name__)

_LABEL_COLUMNS = ("batch_id", "job_id", "kind", "name", "confidence")
SUCCEEDED, FINISHED_WITH_FAILURES = "succeeded", "finished with failures"  # progress.JobOutcome's values
_ROWS_PER_INSERT = 200  # 1000 parameters: under SQL Server's 2100, few round trips elsewhere


@dataclass(frozen=True)
class Written:
    job_id: str
    labels: int
    engine: str
    batch_id: str = DEFAULT_BATCH_ID
    outcome: str = SUCCEEDED


def sql_time(moment: datetime, dialect: Dialect) -> Any:
    """A UTC moment as the engine stores it: ISO text in SQLite (sorts in time order), else a naive datetime."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(sep=" ", timespec="microseconds") if dialect is Dialect.SQLITE else naive


class OutputWriter:
    """Writes finished jobs through one ``Database``; reuse it for every message of a worker."""

    def __init__(self, *, database: Database) -> None:
        self._database = database

    @property
    def database(self) -> Database:
        return self._database

    def write(self, message: Mapping[str, Any], *, outcome: str | None = None,
              now: datetime | None = None) -> Written:
        """Upsert one job message (``Job.to_dict()``: job_definition + job_output) with its outcome."""
        definition = message.get("job_definition")
        if not isinstance(definition, Mapping) or not isinstance(definition.get("id"), str):
            raise ValueError("the message has no job_definition.id")
        inputs = definition.get("input") if isinstance(definition.get("input"), Mapping) else {}
        assert isinstance(inputs, Mapping)
        output = message.get("job_output") if isinstance(message.get("job_output"), Mapping) else {}
        assert isinstance(output, Mapping)
        job_id = definition["id"]
        batch_id = str(definition.get("batch_id") or DEFAULT_BATCH_ID)
        outcome = outcome or outcome_from_message(message)
        labels = labels_from_output(output)
        moment = now or datetime.now(UTC)
        row = {
            "id": job_id,
            "batch_id": batch_id,
            "outcome": outcome,
            "image_url": str(inputs.get("image_url", "")),
            "processing_pipeline": _json(definition.get("processing_pipeline", [])),
            "image_parameters": _json(inputs.get("image_parameters", {})),
            "job_output": _json(output),
        }

        def work(cursor: Cursor, dialect: Dialect) -> None:
            columns = list(OUTPUT.column_names)
            params = [dialect.json_param() if c.kind == "json" else "?" for c in OUTPUT.columns]
            values = [row[c] if c != "timestamp" else sql_time(moment, dialect) for c in columns]
            # The upsert first: it locks the job's row, so a concurrent redelivery waits for this
            # transaction and then deletes these labels instead of adding its own beside them.
            cursor.execute(dialect.upsert(OUTPUT.name, OUTPUT.primary_key, columns, params), values)
            cursor.execute(f"DELETE FROM {dialect.table(LABELS.name)} WHERE batch_id = ? AND job_id = ?",
                           (batch_id, job_id))
            _insert_labels(cursor, dialect, batch_id, job_id, labels)

        self._database.run(work)
        _log.info("pipelineoutput %s/%s: %s, written to %s with %s labels", batch_id, job_id, outcome,
                  self._database.engine, len(labels))
        return Written(job_id=job_id, labels=len(labels), engine=self._database.engine, batch_id=batch_id,
                       outcome=outcome)


def outcome_from_message(message: Mapping[str, Any]) -> str:
    """From the message alone: a step before this one that left no output in job_output failed."""
    definition = message.get("job_definition")
    definition = definition if isinstance(definition, Mapping) else {}
    pipeline, step = definition.get("processing_pipeline"), definition.get("processing_step")
    output = message.get("job_output")
    output = output if isinstance(output, Mapping) else {}
    if not isinstance(pipeline, list) or not isinstance(step, int) or isinstance(step, bool):
        return SUCCEEDED
    missing = [queue for queue in pipeline[:max(step, 0)] if queue not in output]
    return FINISHED_WITH_FAILURES if missing else SUCCEEDED


def _insert_labels(cursor: Cursor, dialect: Dialect, batch_id: str, job_id: str, labels: list[Label]) -> None:
    names = ", ".join(dialect.quote(c) for c in _LABEL_COLUMNS)
    one = f"({', '.join('?' * len(_LABEL_COLUMNS))})"
    for start in range(0, len(labels), _ROWS_PER_INSERT):
        chunk = labels[start:start + _ROWS_PER_INSERT]
        rows = ", ".join([one] * len(chunk))
        values: list[Any] = []
        for label in chunk:
            values.extend((batch_id, job_id, label.kind, label.name, label.confidence))
        cursor.execute(f"INSERT INTO {dialect.table(LABELS.name)} ({names}) VALUES {rows}", values)


def _json(value: Any) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _clean(value: Any) -> Any:
    """JSON every engine accepts: no NUL characters (PostgreSQL refuses them), no NaN or infinity."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(_clean(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
