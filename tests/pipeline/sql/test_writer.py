"""Writing finished jobs, on every engine: upsert by (batch, id), one transaction, concurrent redelivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.errors import ConfigurationError
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.queries import ResultsQueries
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.conftest import Engine
from tests.pipeline.sql.helpers import job_message

pytestmark = pytest.mark.sql


def count(database: Database, sql: str, *params: Any) -> int:
    def work(cursor: Cursor, dialect: Dialect) -> int:
        cursor.execute(sql.replace("{labels}", dialect.table("pipeline_output_labels"))
                       .replace("{output}", dialect.table("pipeline_output")), params)
        return int(cursor.fetchone()[0])

    return database.run(work)


def test_a_job_is_written_with_its_labels(database: Database) -> None:
    written = OutputWriter(database=database).write(
        job_message("job-1", tags=[("cat", 0.9), ("sofa", 0.4)], caption="a cat on a sofa", text="Fluffy",
                    face_matches=["job-0/face-0"]))

    assert written.labels == 6
    row = ResultsQueries(database=database).job("job-1")
    assert row is not None
    assert row["batch_id"] == "batch-1"
    assert row["image_url"] == "https://example.invalid/job-1.jpg"
    assert row["processing_pipeline"] == ["generalclassification", "pipelineoutput"]
    assert row["image_parameters"] == {"original_name": "job-1.jpg"}
    assert row["job_output"]["generalclassification"]["tags"][0] == {"name": "cat", "confidence": 0.9}
    assert sorted((label["kind"], label["name"]) for label in row["labels"]) == [
        ("caption", "cat"), ("caption", "sofa"), ("face_match", "job-0/face-0"), ("tag", "cat"), ("tag", "sofa"),
        ("text", "fluffy"),
    ]


def test_a_redelivered_job_replaces_its_row_and_labels(database: Database) -> None:
    writer = OutputWriter(database=database)
    first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    writer.write(job_message("job-1", tags=[("cat", 0.9), ("sofa", 0.4)]), now=first)
    writer.write(job_message("job-1", tags=[("cat", 0.9), ("sofa", 0.4)]), now=first)
    assert count(database, "SELECT COUNT(*) FROM {output}") == 1
    assert count(database, "SELECT COUNT(*) FROM {labels}") == 2

    writer.write(job_message("job-1", tags=[("dog", 0.8)]), outcome="finished with failures",
                 now=first + timedelta(hours=1))

    assert count(database, "SELECT COUNT(*) FROM {output}") == 1
    row = ResultsQueries(database=database).job("job-1")
    assert row is not None
    assert (row["batch_id"], row["outcome"]) == ("batch-1", "finished with failures")
    assert row["timestamp"] == "2026-01-01T13:00:00.000000Z"
    assert [(label["kind"], label["name"]) for label in row["labels"]] == [("tag", "dog")]


def test_the_same_job_id_in_two_batches_is_two_rows_that_never_touch(database: Database) -> None:
    """Issue 9, item 3: batch B's job-1 replaced batch A's row and labels when the key was the id alone."""
    writer = OutputWriter(database=database)
    first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    writer.write(job_message("job-1", batch_id="batch-a", tags=[("cat", 0.9)]), now=first)
    writer.write(job_message("job-1", batch_id="batch-b", tags=[("dog", 0.8)]), now=first + timedelta(hours=1))
    writer.write(job_message("job-1", batch_id="batch-b", tags=[("owl", 0.7)]), now=first + timedelta(hours=2))

    assert count(database, "SELECT COUNT(*) FROM {output}") == 2
    assert count(database, "SELECT COUNT(*) FROM {labels}") == 2
    queries = ResultsQueries(database=database)
    a, b = queries.job("job-1", "batch-a"), queries.job("job-1", "batch-b")
    assert a is not None and b is not None
    assert [label["name"] for label in a["labels"]] == ["cat"]
    assert [label["name"] for label in b["labels"]] == ["owl"]
    assert a["timestamp"] == "2026-01-01T12:00:00.000000Z"
    assert queries.job("job-1") == b  # without a batch: the newest row of that id
    assert [(row.batch_id, [label.name for label in row.labels]) for row in queries.recent_jobs()] == [
        ("batch-b", ["owl"]), ("batch-a", ["cat"])]
    assert [row.batch_id for row in queries.jobs_with_labels(["cat", "owl"])] == ["batch-b", "batch-a"]


def test_the_outcome_is_the_callers_or_else_read_from_the_message(database: Database) -> None:
    writer = OutputWriter(database=database)
    assert writer.write(job_message("given"), outcome="finished with failures").outcome == "finished with failures"
    assert writer.write(job_message("all-there")).outcome == "succeeded"
    missing = job_message("ocr-missing")
    missing["job_definition"]["processing_pipeline"] = ["generalclassification", "ocr", "pipelineoutput"]
    missing["job_definition"]["processing_step"] = 2
    assert writer.write(missing).outcome == "finished with failures"
    outcomes = {row.id: row.outcome for row in ResultsQueries(database=database).recent_jobs()}
    assert outcomes == {"given": "finished with failures", "all-there": "succeeded",
                        "ocr-missing": "finished with failures"}


def test_unicode_nul_and_nan_in_an_output_are_stored_as_valid_json(database: Database) -> None:
    message = job_message("jöb-€-東京", tags=[("猫", 0.5), ("🐱", 0.25)])
    message["job_output"]["odd"] = {"nul": "a\x00b", "nan": float("nan"), "inf": [float("inf")]}
    OutputWriter(database=database).write(message)

    row = ResultsQueries(database=database).job("jöb-€-東京")
    assert row is not None
    assert row["job_output"]["odd"] == {"nul": "ab", "nan": None, "inf": [None]}
    assert {label["name"] for label in row["labels"]} == {"猫", "🐱"}


def test_a_failed_transaction_leaves_nothing_behind(database: Database) -> None:
    OutputWriter(database=database).write(job_message("job-1", tags=[("cat", 0.9)]))

    def half_done(cursor: Cursor, dialect: Dialect) -> None:
        cursor.execute(f"DELETE FROM {dialect.table('pipeline_output_labels')}")
        raise RuntimeError("the worker died half way")

    with pytest.raises(RuntimeError):
        database.run(half_done)
    assert count(database, "SELECT COUNT(*) FROM {labels}") == 1


def test_an_older_schema_keyed_by_id_alone_is_refused_clearly(engine: Engine) -> None:
    """No migration runs: a database made by an older version says so, instead of failing on each write."""
    old = engine.database()
    old.run(lambda cursor, dialect: [cursor.execute(f"DROP TABLE {dialect.table(t)}")
                                     for t in ("pipeline_output_labels", "pipeline_output")])
    old.run(lambda cursor, dialect: cursor.execute(
        f"CREATE TABLE {dialect.table('pipeline_output')} (id VARCHAR(255) PRIMARY KEY, batch_id VARCHAR(255), "
        "image_url TEXT, processing_pipeline TEXT, image_parameters TEXT, job_output TEXT, "
        f"{dialect.quote('timestamp')} VARCHAR(40))"))
    old.close()

    database = engine.database()
    with pytest.raises(ConfigurationError, match="lacks columns of this version") as refused:
        OutputWriter(database=database).write(job_message("job-1"))
    database.close()
    assert "drop pipeline_output_labels and pipeline_output" in str(refused.value)


def test_the_schema_is_created_once_and_again_without_harm(engine: Engine) -> None:
    for _ in range(3):
        database = engine.database()
        OutputWriter(database=database).write(job_message("job-1", tags=[("cat", 0.9)]))
        database.close()
    database = engine.database()
    assert count(database, "SELECT COUNT(*) FROM {output}") == 1
    database.close()


def test_concurrent_deliveries_of_one_job_never_duplicate_its_labels(engine: Engine) -> None:
    """As when a message's visibility timeout ends while its first delivery is still writing."""
    databases = [engine.database() for _ in range(4)]
    databases[0].dialect()  # create the schema before the race: creating it is not what is tested
    errors: list[BaseException] = []

    def deliver(database: Database, worker: int) -> None:
        writer = OutputWriter(database=database)
        try:
            for i in range(8):
                writer.write(job_message("job-1", tags=[(f"tag{k}", 0.5) for k in range(5)],
                                         caption=f"worker {worker} round {i}"))
        except BaseException as e:  # collected and re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=deliver, args=(db, n)) for n, db in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(databases[0], "SELECT COUNT(*) FROM {output}") == 1
    # The five tags, then the caption's "worker" and "round" (one-digit words are dropped).
    assert count(databases[0], "SELECT COUNT(*) FROM {labels}") == 5 + 2
    for database in databases:
        database.close()


def test_threads_of_one_worker_share_its_connection(database: Database) -> None:
    writer = OutputWriter(database=database)
    threads = [threading.Thread(target=lambda n=n: writer.write(job_message(f"job-{n}", tags=[("cat", 0.5)])))
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(database, "SELECT COUNT(*) FROM {output}") == 8
    assert count(database, "SELECT COUNT(*) FROM {labels} WHERE name = ?", "cat") == 8


def test_the_embedded_file_is_in_the_data_folder(make_engine: Callable[[str], Engine]) -> None:
    engine = make_engine("sqlite-embedded")
    database = engine.database()
    OutputWriter(database=database).write(job_message("job-1"))
    database.close()
    assert (engine.settings.data_dir / "imaginem.db").is_file()
    assert database.engine == "SQLite (embedded)"
    assert database.target == str(engine.settings.data_dir / "imaginem.db")


def test_written_json_columns_are_the_messages_own(database: Database) -> None:
    message = job_message("job-1", tags=[("cat", 0.9)])
    OutputWriter(database=database).write(message)

    def raw(cursor: Cursor, dialect: Dialect) -> Any:
        cursor.execute(f"SELECT job_output FROM {dialect.table('pipeline_output')}")
        return cursor.fetchone()[0]

    assert json.loads(raw and database.run(raw)) == message["job_output"]
