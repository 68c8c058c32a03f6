"""pipeline_output in SQL: writer throughput and label-filtered page latency, SQLite beside PostgreSQL.

Each engine gets a table of N jobs (about 13 labels each). The first N - W jobs are bulk-loaded,
then W jobs go through ``OutputWriter.write`` one at a time, one transaction each, as the
pipelineoutput function writes them: that rate is measured as the table reaches N. Then the
results queries run against the full table (median and p95 of repeated runs).

    .venv/bin/python bench/sql_output.py                  # 10,000 jobs, quick
    .venv/bin/python bench/sql_output.py --jobs 100000    # the size the issue asks about

SQLite is the embedded file (WAL, synchronous=NORMAL); PostgreSQL 15 is a local server started
for the run, reached through psqlODBC, with fsync on unless --pg-fsync off.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

# run as a script: the project root holds pipeline/ and tests/support/
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.sql.connection import Cursor, Database  # noqa: E402
from pipeline.sql.dialect import Dialect  # noqa: E402
from pipeline.sql.labels import labels_from_output  # noqa: E402
from pipeline.sql.queries import ResultsQueries  # noqa: E402
from pipeline.sql.schema import LABELS, OUTPUT  # noqa: E402
from pipeline.sql.writer import OutputWriter, outcome_from_message, sql_time  # noqa: E402
from tests.support.pgserver import start_postgres  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
_TAGS = [f"tag{i:04d}" for i in range(1000)]
_TAG_WEIGHTS = [1 / (rank + 1) ** 1.1 for rank in range(len(_TAGS))]
_WORDS = [f"word{i:04d}" for i in range(300)]
_TEXT = [f"text{i:05d}" for i in range(5000)]
_FILL_CHUNK = 2000  # jobs per bulk transaction


def message(i: int, rng: random.Random) -> dict[str, Any]:
    """Job i: five Zipf-distributed tags; 'common' on 10% of jobs, 'rare' on 0.1%."""
    tags = list(dict.fromkeys(rng.choices(_TAGS, _TAG_WEIGHTS, k=5)))
    if i % 10 == 0:
        tags.append("common")
    if i % 1000 == 0:
        tags.append("rare")
    return {
        "job_definition": {
            "id": f"job-{i:07d}", "batch_id": f"batch-{i // 100:05d}",
            "input": {"image_url": f"https://example.invalid/images/{i:07d}.jpg",
                      "image_parameters": {"original_name": f"{i:07d}.jpg", "mime_type": "image/jpeg"}},
            "processing_pipeline": ["generalclassification", "ocr", "pipelineoutput"], "processing_step": 2,
        },
        "job_output": {
            "generalclassification": {
                "tags": [{"name": t, "confidence": round(rng.random(), 4)} for t in tags],
                "categories": [{"name": "others_", "score": 0.5}],
                "description": {"tags": tags, "captions": [
                    {"text": " ".join(rng.sample(_WORDS, 4)), "confidence": round(rng.random(), 4)}]},
                "metadata": {"width": 1024, "height": 768, "format": "Jpeg"},
            },
            "ocr": {"ocr": {"language": "en", "regions": []}, "OCR_fullText": " ".join(rng.sample(_TEXT, 3))},
        },
    }


def bulk_fill(database: Database, count: int, rng: random.Random, progress: Progress, name: str) -> None:
    """Load jobs 0..count-1 quickly: many jobs per transaction, multi-row inserts."""
    task = progress.add_task(f"{name}: bulk load", total=count)
    for first in range(0, count, _FILL_CHUNK):
        messages = [message(i, rng) for i in range(first, min(count, first + _FILL_CHUNK))]

        def work(cursor: Cursor, dialect: Dialect, messages: list[dict[str, Any]] = messages,
                 first: int = first) -> None:
            rows: list[list[Any]] = []
            labels: list[list[Any]] = []
            for offset, m in enumerate(messages):
                d, out = m["job_definition"], m["job_output"]
                values = {"id": d["id"], "batch_id": d["batch_id"], "outcome": outcome_from_message(m),
                          "image_url": d["input"]["image_url"],
                          "processing_pipeline": json.dumps(d["processing_pipeline"]),
                          "image_parameters": json.dumps(d["input"]["image_parameters"]), "job_output": json.dumps(out),
                          "timestamp": sql_time(START + timedelta(seconds=first + offset), dialect)}
                rows.append([values[c] for c in OUTPUT.column_names])
                labels.extend([d["batch_id"], d["id"], *label] for label in labels_from_output(out))
            _insert(cursor, dialect, OUTPUT.name, OUTPUT.column_names, rows, 50,
                    [dialect.json_param() if c.kind == "json" else "?" for c in OUTPUT.columns])
            _insert(cursor, dialect, LABELS.name, ("batch_id", "job_id", "kind", "name", "confidence"), labels, 200,
                    ["?"] * 5)

        database.run(work)
        progress.advance(task, len(messages))


def _insert(cursor: Cursor, dialect: Dialect, table: str, columns: tuple[str, ...], rows: list[list[Any]],
            per_statement: int, params: list[str]) -> None:
    names = ", ".join(dialect.quote(c) for c in columns)
    one = f"({', '.join(params)})"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        cursor.execute(f"INSERT INTO {dialect.table(table)} ({names}) VALUES {', '.join([one] * len(chunk))}",
                       [value for row in chunk for value in row])


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and p95 in milliseconds, after three warm-up calls."""
    for _ in range(3):
        call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def measure(database: Database, jobs: int, writes: int, runs: int, progress: Progress, name: str) -> dict[str, str]:
    rng = random.Random(42)
    database.dialect()
    bulk_fill(database, jobs - writes, rng, progress, name)
    # Statistics for the planners, as autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) keep them.
    database.run(lambda cursor, dialect: cursor.execute("ANALYZE"))
    writer = OutputWriter(database=database)
    task = progress.add_task(f"{name}: writer", total=writes)
    began = time.perf_counter()
    for i in range(jobs - writes, jobs):
        writer.write(message(i, rng), now=START + timedelta(seconds=i))
        progress.advance(task)
    rate = writes / (time.perf_counter() - began)
    redelivered = time.perf_counter()
    for i in range(jobs - 100, jobs):
        writer.write(message(i, random.Random(i)), now=START + timedelta(seconds=i))
    redelivery_ms = (time.perf_counter() - redelivered) * 1000 / 100

    queries = ResultsQueries(database=database)
    assert len(queries.jobs_with_labels(["rare"], limit=20)) == min(20, (jobs + 999) // 1000)
    assert len(queries.batch_jobs(f"batch-{jobs // 200:05d}", limit=100)) == 100
    cases: dict[str, Callable[[], object]] = {
        "recent jobs, page 1 (20)": lambda: queries.recent_jobs(limit=20),
        "label 'common' (10%), page 1": lambda: queries.jobs_with_labels(["common"], limit=20),
        "label 'common', offset 1000": lambda: queries.jobs_with_labels(["common"], offset=1000, limit=20),
        "label 'rare' (0.1%), page 1": lambda: queries.jobs_with_labels(["rare"], limit=20),
        "'rare' or 'tag0500', page 1": lambda: queries.jobs_with_labels(["rare", "tag0500"], limit=20),
        "jobs of one batch (100)": lambda: queries.batch_jobs(f"batch-{jobs // 200:05d}", limit=100),
        "jobs of two batches, 'common', page 1": lambda: queries.recent_jobs(
            batch_ids=[f"batch-{jobs // 200:05d}", f"batch-{jobs // 300:05d}"], labels=["common"], limit=20),
        "outcome 'succeeded', page 1": lambda: queries.recent_jobs(outcomes=["succeeded"], limit=20),
        "top 20 tags with counts": lambda: queries.label_counts(kind="tag", limit=20),
        "recent batches (20)": lambda: queries.recent_batches(limit=20),
    }
    result = {"writer: jobs/s, 1 transaction each": f"{rate:,.0f}",
              "writer: a redelivered job, ms": f"{redelivery_ms:.2f}"}
    task = progress.add_task(f"{name}: queries", total=len(cases))
    for label, call in cases.items():
        median, p95 = timed(call, runs)
        result[f"{label}, ms"] = f"{median:.2f}  (p95 {p95:.2f})"
        progress.advance(task)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the table (default 10,000)")
    parser.add_argument("--writes", type=int, default=1000, help="jobs written one by one through the writer")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--pg-fsync", choices=("on", "off"), default="on")
    args = parser.parse_args()
    writes = min(args.writes, args.jobs)

    columns: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="imaginem-bench-") as folder, Progress(transient=True) as progress:
        sqlite = Database(sqlite_path=Path(folder) / "imaginem.db")
        columns["SQLite (embedded)"] = measure(sqlite, args.jobs, writes, args.runs, progress, "SQLite")
        sqlite.close()
        server = start_postgres(fsync=args.pg_fsync == "on")
        try:
            postgres = Database(connection_string=server.odbc_connection_string())
            columns[f"PostgreSQL 15 (ODBC, fsync {args.pg_fsync})"] = measure(
                postgres, args.jobs, writes, args.runs, progress, "PostgreSQL")
            postgres.close()
        finally:
            server.stop()

    table = Table(title=f"pipeline_output at {args.jobs:,} jobs (writer rate over the last {writes:,}; "
                        f"query median of {args.runs} runs)", title_justify="left")
    table.add_column("measure")
    for name in columns:
        table.add_column(name, justify="right")
    for key in next(iter(columns.values())):
        table.add_row(key, *(column[key] for column in columns.values()))
    Console(width=max(100, Console().width)).print(table)


if __name__ == "__main__":
    main()
