"""Connection strings, dialect detection, and the statements that differ between engines."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from pipeline.sql.connstr import ConnectionString
from pipeline.sql.dialect import Dialect, detect_dialect, guess_dialect


def test_braced_values_may_hold_semicolons_and_escaped_braces() -> None:
    cs = ConnectionString("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db.example.net,1433;"
                          "Database=imaginem;Uid=app;Pwd={p;a}}ss=word};Encrypt=yes")
    assert cs.driver == "ODBC Driver 18 for SQL Server"
    assert cs.get("pwd") == "p;a}ss=word"
    assert cs.get("encrypt") == "yes"
    assert cs.target == "tcp:db.example.net,1433/imaginem"


def test_redact_hides_the_password_wherever_it_appears() -> None:
    cs = ConnectionString("Driver={PostgreSQL Unicode};Server=h;Port=5432;Database=d;Uid=u;Password=hunter2;")
    assert cs.target == "h:5432/d"
    assert cs.redact("login hunter2 failed for hunter2") == "login *** failed for ***"


@pytest.mark.parametrize(("dbms", "driver", "dialect"), [
    ("Microsoft SQL Server", "msodbcsql18.so", Dialect.MSSQL),
    ("Microsoft SQL Server", "libtdsodbc.so", Dialect.MSSQL),
    ("PostgreSQL", "psqlodbcw.so", Dialect.POSTGRESQL),
    ("SQLite", "sqlite3odbc.so", Dialect.SQLITE),
    ("Oracle", "libsqora.so", None),
])
def test_the_dialect_comes_from_what_the_driver_reports(dbms: str, driver: str, dialect: Dialect | None) -> None:
    assert detect_dialect(dbms, driver) is dialect


@pytest.mark.parametrize(("driver", "dialect"), [
    ("ODBC Driver 18 for SQL Server", Dialect.MSSQL), ("FreeTDS", Dialect.MSSQL),
    ("PostgreSQL Unicode", Dialect.POSTGRESQL), ("SQLite3", Dialect.SQLITE), ("Mystery", None),
])
def test_the_engine_is_guessed_from_the_driver_name_before_connecting(driver: str, dialect: Dialect | None) -> None:
    assert guess_dialect(driver) is dialect


def test_the_tsql_upsert_is_a_locked_merge_on_the_key() -> None:
    sql = Dialect.MSSQL.upsert("pipeline_output", ("batch_id", "id"), ["id", "batch_id", "outcome", "job_output"],
                               ["?", "?", "?", "?"])
    merge = sqlglot.parse_one(sql, read="tsql")
    assert isinstance(merge, exp.Merge)
    assert "WITH (HOLDLOCK)" in sql
    assert "ON t.[batch_id] = s.[batch_id] AND t.[id] = s.[id] WHEN" in sql
    assert "UPDATE SET t.[outcome] = s.[outcome], t.[job_output] = s.[job_output] WHEN" in sql


@pytest.mark.parametrize(("dialect", "read"), [(Dialect.SQLITE, "sqlite"), (Dialect.POSTGRESQL, "postgres")])
def test_the_other_upserts_are_insert_on_conflict(dialect: Dialect, read: str) -> None:
    sql = dialect.upsert("pipeline_output", ("batch_id", "id"), ["id", "batch_id", "job_output"],
                         ["?", "?", dialect.json_param()])
    parsed = sqlglot.parse_one(sql, read=read)
    assert isinstance(parsed, exp.Insert)
    assert sql.endswith('ON CONFLICT ("batch_id", "id") DO UPDATE SET "job_output" = excluded."job_output"')


def test_paging_binds_offset_and_limit_in_each_engines_order() -> None:
    assert Dialect.MSSQL.page() == "OFFSET ? ROWS FETCH NEXT ? ROWS ONLY"
    assert Dialect.MSSQL.page_params(20, 10) == (20, 10)
    assert Dialect.POSTGRESQL.page() == "LIMIT ? OFFSET ?"
    assert Dialect.SQLITE.page_params(20, 10) == (10, 20)
