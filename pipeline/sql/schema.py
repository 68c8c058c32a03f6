"""The two tables, described once and created in each engine's words, idempotently.

``pipeline_output`` holds one row per job (upserted by id); ``pipeline_output_labels`` holds
the labels found in that job's output, one row per (kind, name), for filtering and counting.
infra/sql/schema.sql is the same schema in T-SQL for Azure SQL; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.sql.dialect import Dialect

__all__ = [
    "LABELS",
    "OUTPUT",
    "TABLES",
    "Column",
    "Index",
    "Table",
    "create_statements",
    "ensure_schema",
]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # key, short, text, json, time, float, identity
    nullable: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str
    indexes: tuple[Index, ...] = ()
    references: tuple[str, str, str] | None = None  # (column, table, column), deleted with its parent

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


OUTPUT = Table(
    name="pipeline_output",
    columns=(
        Column("id", "key"),
        Column("batch_id", "key"),
        Column("image_url", "text"),
        Column("processing_pipeline", "json"),
        Column("image_parameters", "json"),
        Column("job_output", "json"),
        Column("timestamp", "time"),
    ),
    primary_key="id",
    indexes=(
        Index("ix_pipeline_output_timestamp", ("timestamp", "id")),
        Index("ix_pipeline_output_batch", ("batch_id", "timestamp")),
    ),
)

LABELS = Table(
    name="pipeline_output_labels",
    columns=(
        Column("id", "identity"),
        Column("job_id", "key"),
        Column("kind", "short"),
        Column("name", "key"),
        Column("confidence", "float", nullable=True),
    ),
    primary_key="id",
    indexes=(
        Index("ix_pipeline_output_labels_name", ("name", "job_id", "kind")),
        Index("ix_pipeline_output_labels_job", ("job_id",)),
    ),
    references=("job_id", "pipeline_output", "id"),
)

TABLES = (OUTPUT, LABELS)


def _column(dialect: Dialect, table: Table, column: Column) -> str:
    name = dialect.quote(column.name)
    if column.kind == "identity":
        return f"    {name} {dialect.identity()}"
    parts = [name, dialect.column_type(column.kind), "NULL" if column.nullable else "NOT NULL"]
    if column.name == table.primary_key:
        parts.append("PRIMARY KEY")
    text = "    " + " ".join(parts)
    if column.kind == "json":
        text += dialect.json_check(column.name)
    return text


def _table(dialect: Dialect, table: Table) -> str:
    lines = [_column(dialect, table, c) for c in table.columns]
    if table.references:
        column, parent, parent_column = table.references
        prefix = "dbo." if dialect is Dialect.MSSQL else ""
        lines.append(f"    FOREIGN KEY ({dialect.quote(column)}) REFERENCES {prefix}{parent} "
                     f"({dialect.quote(parent_column)}) ON DELETE CASCADE")
    return dialect.create_table(table.name, ",\n".join(lines))


def create_statements(dialect: Dialect) -> list[str]:
    """Every statement that creates the schema; each one does nothing when its object exists."""
    statements: list[str] = []
    for table in TABLES:
        statements.append(_table(dialect, table))
        for index in table.indexes:
            statements.append(dialect.create_index(index.name, table.name,
                                                   ", ".join(dialect.quote(c) for c in index.columns)))
    return statements


Execute = Callable[[str], object]


def ensure_schema(execute: Execute, dialect: Dialect) -> None:
    """Run the create statements through ``execute`` (the caller owns the transaction)."""
    for statement in create_statements(dialect):
        execute(statement)
