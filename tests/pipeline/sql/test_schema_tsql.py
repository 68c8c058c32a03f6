"""infra/sql/schema.sql (T-SQL for Azure SQL) against the schema the code creates.

No SQL Server runs here, so both are parsed with sqlglot's tsql dialect and compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import TABLES, create_statements

SCHEMA_SQL = Path(__file__).resolve().parents[3] / "infra" / "sql" / "schema.sql"


def _creates(statements: list[exp.Expression]) -> list[exp.Create]:
    found: list[exp.Create] = []
    for statement in statements:
        found.extend(statement.find_all(exp.Create))
    return found


def _tables(creates: list[exp.Create]) -> dict[str, dict[str, str]]:
    """table name -> {column name: its type as T-SQL}."""
    tables = {}
    for create in creates:
        if create.kind == "TABLE":
            schema = create.this
            columns = {c.name: c.args["kind"].sql("tsql") for c in schema.expressions if isinstance(c, exp.ColumnDef)}
            tables[schema.this.name] = columns
    return tables


def _indexes(creates: list[exp.Create]) -> dict[str, tuple[str, tuple[str, ...]]]:
    indexes = {}
    for create in creates:
        if create.kind == "INDEX":
            index = create.this
            columns = tuple(c.find(exp.Column).name for c in index.args["params"].args["columns"])
            indexes[index.name] = (index.args["table"].name, columns)
    return indexes


@pytest.fixture(scope="module")
def file_creates() -> list[exp.Create]:
    return _creates([s for s in sqlglot.parse(SCHEMA_SQL.read_text(), read="tsql") if s is not None])


def test_the_file_has_the_tables_and_columns_of_the_code(file_creates: list[exp.Create]) -> None:
    tables = _tables(file_creates)
    assert {name: list(columns) for name, columns in tables.items()} == {
        t.name: list(t.column_names) for t in TABLES
    }


def test_the_file_has_the_types_and_indexes_the_code_creates_on_sql_server(file_creates: list[exp.Create]) -> None:
    code = _creates([sqlglot.parse_one(s, read="tsql") for s in create_statements(Dialect.MSSQL)])
    assert _tables(file_creates) == _tables(code)
    assert _indexes(file_creates) == _indexes(code)
    assert _indexes(code) == {i.name: (t.name, i.columns) for t in TABLES for i in t.indexes}


def test_every_create_in_the_file_is_guarded_so_it_can_run_twice() -> None:
    statements = [s for s in sqlglot.parse(SCHEMA_SQL.read_text(), read="tsql") if s is not None]
    assert statements
    assert all(isinstance(s, exp.IfBlock) for s in statements)


@pytest.mark.parametrize(("dialect", "read"), [(Dialect.SQLITE, "sqlite"), (Dialect.POSTGRESQL, "postgres")])
def test_every_engine_creates_the_same_tables_and_columns(dialect: Dialect, read: str) -> None:
    creates = _creates([sqlglot.parse_one(s, read=read) for s in create_statements(dialect)])
    assert {name: list(columns) for name, columns in _tables(creates).items()} == {
        t.name: list(t.column_names) for t in TABLES
    }


def test_the_file_keys_jobs_by_batch_and_id_as_the_code_does(file_creates: list[exp.Create]) -> None:
    def keys(creates: list[exp.Create]) -> dict[str, list[str]]:
        found = {}
        for create in creates:
            if create.kind == "TABLE":
                constraints = [c.sql("tsql") for c in create.this.expressions if not isinstance(c, exp.ColumnDef)]
                found[create.this.this.name] = constraints
        return found

    code = _creates([sqlglot.parse_one(s, read="tsql") for s in create_statements(Dialect.MSSQL)])
    assert keys(file_creates) == keys(code)
    assert any("PRIMARY KEY ([batch_id], [id])" in c for c in keys(code)["pipeline_output"])
    assert any("FOREIGN KEY ([batch_id], [job_id]) REFERENCES dbo.pipeline_output ([batch_id], [id])" in c
               for c in keys(code)["pipeline_output_labels"])
