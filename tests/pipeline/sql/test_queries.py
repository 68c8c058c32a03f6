"""The results queries on every engine: paging, batches, label counts, label filters, injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.queries import ResultsQueries
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.helpers import job_message

pytestmark = pytest.mark.sql

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOSTILE = ["' OR 1=1 --", "x'); DROP TABLE pipeline_output; --", 'say "cheese"', "100%_off", "猫", "🐱 cat",
           "\\", "ｃａｔ"]


@pytest.fixture
def queries(database: Database) -> ResultsQueries:
    """30 jobs, one a minute: job-00 the oldest; three batches; tags by divisibility."""
    writer = OutputWriter(database=database)
    for i in range(30):
        tags = [("even" if i % 2 == 0 else "odd", 0.9)]
        if i % 3 == 0:
            tags.append(("three", 0.6))
        if i % 10 == 7:
            tags.append(("Seven", 0.3))
        writer.write(job_message(f"job-{i:02d}", batch_id=f"batch-{i % 3}", tags=tags,
                                 face_matches=["job-00/face-0"] if i == 29 else ()),
                     now=START + timedelta(minutes=i))
    writer.write(job_message("hostile", batch_id="batch-x", tags=[(name, 0.5) for name in HOSTILE],
                             text="Fluffy"), now=START - timedelta(days=1))
    return ResultsQueries(database=database)


def ids(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [row.id for row in rows]


def test_recent_jobs_are_newest_first_and_pages_do_not_overlap(queries: ResultsQueries) -> None:
    first = queries.recent_jobs(limit=4)
    second = queries.recent_jobs(offset=4, limit=4)
    assert ids(first) == ["job-29", "job-28", "job-27", "job-26"]
    assert ids(second) == ["job-25", "job-24", "job-23", "job-22"]
    assert first[0].timestamp == "2026-03-01T08:29:00.000000Z"
    assert first[0].labels[0].name == "odd"
    assert ids(queries.recent_jobs(offset=30, limit=10)) == ["hostile"]
    assert queries.recent_jobs(offset=31, limit=10) == []


def test_the_jobs_of_a_batch(queries: ResultsQueries) -> None:
    assert ids(queries.batch_jobs("batch-1", limit=3)) == ["job-28", "job-25", "job-22"]
    assert len(queries.batch_jobs("batch-1", limit=100)) == 10
    assert queries.batch_jobs("no-such-batch") == []


def test_recent_batches_with_counts(queries: ResultsQueries) -> None:
    batches = queries.recent_batches()
    assert [(b.batch_id, b.jobs) for b in batches] == [("batch-2", 10), ("batch-1", 10), ("batch-0", 10),
                                                      ("batch-x", 1)]
    assert batches[0].first == "2026-03-01T08:02:00.000000Z"
    assert batches[0].last == "2026-03-01T08:29:00.000000Z"
    assert [b.batch_id for b in queries.recent_batches(offset=1, limit=2)] == ["batch-1", "batch-0"]


def test_distinct_labels_with_counts(queries: ResultsQueries) -> None:
    counts = [(c.kind, c.name, c.jobs) for c in queries.label_counts(kind="tag", limit=4)]
    assert counts == [("tag", "even", 15), ("tag", "odd", 15), ("tag", "three", 10), ("tag", "seven", 3)]
    assert [(c.kind, c.name, c.jobs) for c in queries.label_counts(kind="face_match")] == [
        ("face_match", "job-00/face-0", 1)]
    assert [(c.kind, c.name) for c in queries.label_counts(kind="text")] == [("text", "fluffy")]


@pytest.fixture(params=["from-labels", "walk-jobs"])
def label_queries(request: pytest.FixtureRequest, queries: ResultsQueries, database: Database) -> ResultsQueries:
    """Both plans of a label filter: start from the few matching labels, or walk the jobs newest first."""
    return queries if request.param == "from-labels" else ResultsQueries(database=database, few_matches=1)


def test_jobs_having_any_of_a_set_of_labels(label_queries: ResultsQueries) -> None:
    queries = label_queries
    assert ids(queries.jobs_with_labels(["seven"])) == ["job-27", "job-17", "job-07"]
    assert ids(queries.jobs_with_labels(["SEVEN", "no-such-label"])) == ["job-27", "job-17", "job-07"]
    assert ids(queries.jobs_with_labels(["seven", "three"], limit=5)) == ["job-27", "job-24", "job-21", "job-18",
                                                                          "job-17"]
    assert ids(queries.jobs_with_labels(["seven", "three"], batch_id="batch-0")) == [
        "job-27", "job-24", "job-21", "job-18", "job-15", "job-12", "job-09", "job-06", "job-03", "job-00"]
    assert ids(queries.jobs_with_labels(["job-00/face-0"], kind="face_match")) == ["job-29"]
    assert queries.jobs_with_labels(["job-00/face-0"], kind="tag") == []
    assert ids(queries.jobs_with_labels(["fluffy"], kind="text")) == ["hostile"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_labels_match_exactly_their_own_rows(label_queries: ResultsQueries, name: str) -> None:
    assert ids(label_queries.jobs_with_labels([name])) == ["hostile"]


@pytest.mark.parametrize("name", ["' OR '1'='1", "' OR 1=1; --", "%", "_", "*", "') OR ('a'='a", "猫 ", "cat"])
def test_injection_attempts_and_near_misses_match_nothing(queries: ResultsQueries, label_queries: ResultsQueries,
                                                          database: Database, name: str) -> None:
    assert label_queries.jobs_with_labels([name]) == []
    assert queries.batch_jobs(name) == []
    assert queries.job(name) is None

    def tables_intact(cursor: Cursor, dialect: Dialect) -> int:
        cursor.execute(f"SELECT COUNT(*) FROM {dialect.table('pipeline_output')}")
        return int(cursor.fetchone()[0])

    assert database.run(tables_intact) == 31


def test_bad_pages_and_empty_filters_are_refused(queries: ResultsQueries) -> None:
    with pytest.raises(ValueError, match="limit"):
        queries.recent_jobs(limit=0)
    with pytest.raises(ValueError, match="offset"):
        queries.recent_batches(offset=-1)
    with pytest.raises(ValueError, match="at least one label"):
        queries.jobs_with_labels([])
    with pytest.raises(ValueError, match="at most"):
        queries.jobs_with_labels([f"l{i}" for i in range(101)])


def test_an_empty_database_answers_every_query(database: Database) -> None:
    queries = ResultsQueries(database=database)
    assert queries.recent_jobs() == []
    assert queries.recent_batches() == []
    assert queries.label_counts() == []
    assert queries.jobs_with_labels(["cat"]) == []
    assert queries.job("job-1") is None


def test_filters_by_several_batches_labels_and_outcomes_combine(database: Database) -> None:
    """The dashboard's multi-selects: any of the batches, any of the labels, any of the outcomes."""
    writer = OutputWriter(database=database)
    rows = [("a", "cat", "succeeded"), ("b", "cat", "finished with failures"), ("c", "dog", "succeeded"),
            ("a", "dog", "finished with failures")]
    for i, (batch, tag, outcome) in enumerate(rows):
        writer.write(job_message(f"job-{i}", batch_id=batch, tags=[(tag, 0.9)]), outcome=outcome,
                     now=START + timedelta(minutes=i))
    queries = ResultsQueries(database=database)

    def found(**filters: object) -> list[tuple[str, str]]:
        return [(row.batch_id, row.id) for row in queries.recent_jobs(**filters)]  # type: ignore[arg-type]

    assert found(batch_ids=["a", "c"]) == [("a", "job-3"), ("c", "job-2"), ("a", "job-0")]
    assert found(batch_ids=["a", "c"], labels=["cat"]) == [("a", "job-0")]
    assert found(labels=["cat", "dog"], outcomes=["finished with failures"]) == [("a", "job-3"), ("b", "job-1")]
    assert found(batch_ids=[], labels=[], outcomes=None) == found()  # empty selections filter nothing
    assert [row.outcome for row in queries.batch_jobs(["a", "b"])] == ["finished with failures"] * 2 + ["succeeded"]
    assert [r.id for r in queries.jobs_with_labels(["dog"], batch_id="a", batch_ids=["c"])] == ["job-3", "job-2"]
    assert [r.id for r in ResultsQueries(database=database, few_matches=1).jobs_with_labels(
        ["cat"], batch_ids=["b"], outcomes="finished with failures")] == ["job-1"]
    assert [(b.batch_id, b.jobs, b.with_failures) for b in queries.recent_batches()] == [
        ("a", 2, 1), ("c", 1, 0), ("b", 1, 1)]
    assert [(c.name, c.jobs) for c in queries.label_counts(batch_ids=["a", "b"])] == [("cat", 2), ("dog", 1)]
    with pytest.raises(ValueError, match="at most 100 batches"):
        queries.recent_jobs(batch_ids=[f"b{i}" for i in range(101)])
