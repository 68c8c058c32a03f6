"""The two tables, described once and created in each engine's words, idempotently.

``pipeline_output`` holds one row per job, keyed and upserted by (batch_id, id), so the same job
id in two batches is two rows; ``pipeline_output_labels`` holds the labels found in that job's
output, one row per (kind, name), for filtering and counting. A database created by an older
version (keyed by id alone) is refused with a clear error (``schema_check``).
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
    "schema_check",
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
    primary_key: tuple[str, ...]
    indexes: tuple[Index, ...] = ()
    references: tuple[tuple[str, ...], str, tuple[str, ...]] | None = None
    """(columns, parent table, parent columns): rows deleted with their parent."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


OUTPUT = Table(
    name="pipeline_output",
    columns=(
        Column("id", "key"),
        Column("batch_id", "key"),
        Column("outcome", "short"),
        Column("image_url", "text"),
        Column("processing_pipeline", "json"),
        Column("image_parameters", "json"),
        Column("job_output", "json"),
        Column("timestamp", "time"),
    ),
    primary_key=("batch_id", "id"),
    indexes=(
        Index("ix_pipeline_output_timestamp", ("timestamp", "batch_id", "id")),
        # outcome too: counting each batch's jobs with failures reads the index alone.
        Index("ix_pipeline_output_batch", ("batch_id", "timestamp", "outcome")),
    ),
)

LABELS = Table(
    name="pipeline_output_labels",
    columns=(
        Column("id", "identity"),
        Column("batch_id", "key"),
        Column("job_id", "key"),
        Column("kind", "short"),
        Column("name", "key"),
        Column("confidence", "float", nullable=True),
    ),
    primary_key=("id",),
    indexes=(
        Index("ix_pipeline_output_labels_name", ("name", "batch_id", "job_id", "kind")),
        Index("ix_pipeline_output_labels_job", ("batch_id", "job_id")),
    ),
    references=(("batch_id", "job_id"), "pipeline_output", ("batch_id", "id")),
)

TABLES = (OUTPUT, LABELS)


def _column(dialect: Dialect, table: Table, column: Column) -> str:
    name = dialect.quote(column.name)
    if column.kind == "identity":
        return f"    {name} {dialect.identity()}"
    parts = [name, dialect.column_type(column.kind), "NULL" if column.nullable else "NOT NULL"]
    text = "    " + " ".join(parts)
    if column.kind == "json":
        text += dialect.json_check(column.name)
    return text


def _table(dialect: Dialect, table: Table) -> str:
    lines = [_column(dialect, table, c) for c in table.columns]
    if not any(c.kind == "identity" for c in table.columns):  # an identity column is its own key
        lines.append(f"    PRIMARY KEY ({_names(dialect, table.primary_key)})")
    if table.references:
        columns, parent, parent_columns = table.references
        prefix = "dbo." if dialect is Dialect.MSSQL else ""
        lines.append(f"    FOREIGN KEY ({_names(dialect, columns)}) REFERENCES {prefix}{parent} "
                     f"({_names(dialect, parent_columns)}) ON DELETE CASCADE")
    return dialect.create_table(table.name, ",\n".join(lines))


def _names(dialect: Dialect, columns: tuple[str, ...]) -> str:
    return ", ".join(dialect.quote(c) for c in columns)


def create_statements(dialect: Dialect) -> list[str]:
    """Every statement that creates the schema; each one does nothing when its object exists."""
    statements: list[str] = []
    for table in TABLES:
        statements.append(_table(dialect, table))
        for index in table.indexes:
            statements.append(dialect.create_index(index.name, table.name, _names(dialect, index.columns)))
    return statements


Execute = Callable[[str], object]


def ensure_schema(execute: Execute, dialect: Dialect) -> None:
    """Run the create statements through ``execute`` (the caller owns the transaction)."""
    for statement in create_statements(dialect):
        execute(statement)


def schema_check(dialect: Dialect) -> list[tuple[str, str, str]]:
    """For each table: its name, a statement that runs when it exists, and one that fails when it lacks a
    column of this schema (it was made by an older version)."""
    checks = []
    for table in TABLES:
        # Qualified: SQLite reads an unknown "name" alone as a string, t."name" is always a column.
        columns = ", ".join(f"t.{dialect.quote(c)}" for c in table.column_names)
        where = f"FROM {dialect.table(table.name)} t WHERE 1 = 0{dialect.limit(1)}"
        checks.append((table.name, f"SELECT {dialect.top(1)}1 {where}", f"SELECT {dialect.top(1)}{columns} {where}"))
    return checks
