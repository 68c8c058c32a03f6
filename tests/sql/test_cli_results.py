"""``imaginem results``: tables and JSON from a real database, exit codes for bad input and outages."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.cli.results import register
from pipeline.host.azurite import free_port
from pipeline.settings import Settings
from pipeline.sql.pgserver import PostgresServer
from pipeline.sql.writer import OutputWriter
from tests.sql.conftest import Engine
from tests.sql.helpers import job_message

pytestmark = pytest.mark.sql


def results(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="imaginem")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["results", *argv])
    code: int = args.handler(args, settings)
    return code


@pytest.fixture
def filled(engine: Engine) -> Settings:
    database = engine.database()
    writer = OutputWriter(database=database)
    start = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    writer.write(job_message("job-cat", batch_id="pets", tags=[("cat", 0.97)]), now=start)
    writer.write(job_message("job-dog", batch_id="pets", tags=[("dog", 0.88)]), now=start + timedelta(minutes=1))
    writer.write(job_message("job-car", batch_id="street", tags=[("car", 0.5)]), outcome="finished with failures",
                 now=start + timedelta(minutes=2))
    database.close()
    return engine.settings


def test_a_table_of_recent_jobs(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert results(filled, "--limit", "2") == 0
    out = capsys.readouterr().out
    assert out.index("job-car") < out.index("job-dog")
    assert "job-cat" not in out
    assert "2026-05-01 09:32:00" in out and "car 0.50" in out
    assert "More may follow: --offset 2" in out


def test_json_of_the_jobs_having_any_label(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert results(filled, "--label", "cat", "--label", "DOG", "car", "--batch", "pets", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == ["job-dog", "job-cat"]
    assert rows[1] == {"id": "job-cat", "batch_id": "pets", "outcome": "succeeded",
                       "image_url": "https://example.invalid/job-cat.jpg",
                       "timestamp": "2026-05-01T09:30:00.000000Z",
                       "labels": [{"kind": "tag", "name": "cat", "confidence": 0.97}]}


def test_the_outcome_is_shown_and_filters_the_jobs(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9, item 9: a job with failed steps looked like a success in results."""
    assert results(filled) == 0
    out = capsys.readouterr().out
    [car] = [line for line in out.splitlines() if "job-car" in line]
    assert "finished with failures" in car
    assert results(filled, "--outcome", "finished-with-failures", "--json") == 0
    assert [(r["id"], r["outcome"]) for r in json.loads(capsys.readouterr().out)] == [
        ("job-car", "finished with failures")]
    assert results(filled, "--outcome", "succeeded", "--batch", "pets", "street", "--json") == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["job-dog", "job-cat"]
    assert results(filled, "--outcome", "succeeded", "--label", "car", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_table_piped_to_a_file_is_not_cut_at_80_columns(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    database = engine.database()
    long_id = "job-" + "with-a-name-a-person-gave-it-" * 4
    OutputWriter(database=database).write(job_message(long_id, tags=[("cat", 0.9)]))
    database.close()
    assert results(engine.settings) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if long_id in line]
    assert f"https://example.invalid/{long_id}.jpg" in row and "cat 0.90" in row


def test_batches_and_label_counts(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert results(filled, "--batches", "--json") == 0
    assert [(b["batch_id"], b["jobs"]) for b in json.loads(capsys.readouterr().out)] == [("street", 1), ("pets", 2)]
    assert results(filled, "--top-labels", "--kind", "tag") == 0
    out = capsys.readouterr().out
    assert "labels" in out and "cat" in out and "dog" in out
    assert results(filled, "--top-labels", "--batch", "street", "--json") == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["car"]


def test_an_injection_attempt_finds_nothing(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert results(filled, "--label", "' OR 1=1 --", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert results(filled, "--label", "x' OR 'a'='a") == 0
    assert "No results in" in capsys.readouterr().out


def test_a_bad_limit_is_a_usage_error(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert results(filled, "--limit", "5000") == 2
    assert "limit 5000 is not between 1 and 1000" in capsys.readouterr().err


def test_an_unreachable_server_exits_4_naming_it(postgres: PostgresServer,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    settings = replace(Settings.from_env({}), sql_connection_string=postgres.odbc_connection_string(port=port))
    assert results(settings) == 4
    err = " ".join(capsys.readouterr().err.split())
    assert f"PostgreSQL at 127.0.0.1:{port}/imaginem: cannot connect" in err
    assert postgres.password not in err
