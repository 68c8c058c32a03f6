"""``imaginem results``: tables and JSON from a real database, exit codes for bad input and outages."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.cli.consoles import TABLE_WIDTH
from pipeline.cli.results import register
from pipeline.host.azurite import free_port
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.conftest import Engine
from tests.pipeline.sql.helpers import job_message
from tests.support.pgserver import PostgresServer

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


@pytest.mark.parametrize("columns", ["80", "100", None])
def test_ids_and_outcomes_are_whole_at_any_width(filled: Settings, columns: str | None,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23, item 6: at 80 columns every URL wrapped over ten lines; ids and outcomes were cut at 100."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)  # piped: laid out for PIPED_WIDTH
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert results(filled) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= int(columns or TABLE_WIDTH)
    for job_id, outcome in (("job-car", "finished with failures"), ("job-dog", "succeeded"),
                            ("job-cat", "succeeded")):
        [row] = [line for line in lines if f"│ {job_id} " in line]
        assert outcome in row


def test_a_long_url_loses_its_middle_not_its_row(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    database = engine.database()
    message = job_message("job-1", tags=[("cat", 0.9)])
    message["job_definition"]["input"]["image_url"] = "https://example.invalid/" + "folder/" * 30 + "photo.jpg"
    OutputWriter(database=database).write(message)
    database.close()
    assert results(engine.settings) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "│ job-1 " in line]
    assert "https://example.invalid/" in row and "…" in row and "/photo.jpg" in row and "cat 0.90" in row


def test_the_embedded_database_read_is_named_and_never_created(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23, item 7: run from another folder, results read another (or a new, empty) .imaginem silently."""
    settings = replace(Settings.from_env({}), sql_connection_string="", data_dir=tmp_path / ".imaginem")
    assert results(settings) == 4
    err = " ".join(capsys.readouterr().err.split())
    assert f"no results database at {tmp_path / '.imaginem' / 'imaginem.db'}" in err and "IMAGINEM_DATA_DIR" in err
    assert not (tmp_path / ".imaginem").exists()
    database = Database.from_settings(settings)
    OutputWriter(database=database).write(job_message("job-1"))
    database.close()
    assert results(settings) == 0
    assert f"reading {tmp_path / '.imaginem' / 'imaginem.db'}" in capsys.readouterr().err


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
