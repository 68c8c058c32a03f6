"""Forgetting in SQL on every engine: rows and labels of forgotten jobs deleted, forgotten faces scrubbed
from the rows that are kept (their matches and face_match labels)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.forget.scope import Scope
from pipeline.forget.sql import SqlEraser
from pipeline.forget.target import Target
from pipeline.sql.connection import Cursor
from pipeline.sql.dialect import Dialect
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.conftest import Engine

pytestmark = pytest.mark.sql


def _message(batch: str, job: str, face: str, matches: list[str]) -> dict[str, Any]:
    return {"job_definition": {"id": job, "batch_id": batch, "input": {"image_url": f"https://x.invalid/{job}"},
                               "processing_pipeline": ["facematch", "pipelineoutput"], "processing_step": 1},
            "job_output": {"generalclassification": {"tags": [{"name": "cat", "confidence": 0.9}]},
                           "faceprint": {"faces": [{"faceId": face, "print": [0.1] * 4}]},
                           "facematch": {"matches": [{"faceId": face, "matches": [
                               {"id": m, "image_url": "u", "confidence": 0.8} for m in matches]}]}}}


def _rows(engine: Engine) -> dict[str, Any]:
    def work(cursor: Cursor, dialect: Dialect) -> dict[str, Any]:
        cursor.execute(f"SELECT batch_id, {dialect.quote('id')}, job_output FROM {dialect.table('pipeline_output')}")
        rows = {f"{b}/{j}": json.loads(o) if isinstance(o, str) else o for b, j, o in cursor.fetchall()}
        cursor.execute(f"SELECT batch_id, job_id, kind, name FROM {dialect.table('pipeline_output_labels')}")
        return {"rows": rows, "labels": sorted(tuple(map(str, r)) for r in cursor.fetchall())}

    return engine.database().run(work)


def test_sql_eraser_deletes_the_batch_and_scrubs_its_faces_elsewhere(engine: Engine) -> None:
    database = engine.database()
    writer = OutputWriter(database=database)
    writer.write(_message("gone", "a", "face-a", []), outcome="succeeded")
    writer.write(_message("gone", "b", "face-b", ["face-a"]), outcome="succeeded")
    writer.write(_message("kept", "c", "face-c", ["face-a", "face-x"]), outcome="succeeded")

    scope = Scope(target=Target.batch("gone"), jobs={("gone", "a"), ("gone", "b")}, whole_batch="gone",
                  faces={"face-a", "face-b"})
    report = SqlEraser(database=database).erase(scope)

    assert report.failures == [] and report.removed["rows"] == 2 and report.removed["rows scrubbed"] == 1
    found = _rows(engine)
    assert list(found["rows"]) == ["kept/c"]
    kept = found["rows"]["kept/c"]["facematch"]["matches"][0]["matches"]
    assert [m["id"] for m in kept] == ["face-x"]
    assert found["labels"] == [("kept", "c", "face_match", "face-x"), ("kept", "c", "tag", "cat")]
    again = SqlEraser(database=database).erase(scope)
    assert again.failures == [] and again.total == 0
    database.close()
