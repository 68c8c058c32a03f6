"""pipeline_output in SQL: Azure SQL / SQL Server, PostgreSQL or SQLite, through pyodbc or sqlite3."""

from pipeline.sql.connection import EMBEDDED_FILE, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.labels import Label, labels_from_output
from pipeline.sql.queries import BatchRow, JobRow, LabelCount, ResultsQueries
from pipeline.sql.writer import OutputWriter, Written

__all__ = [
    "EMBEDDED_FILE",
    "BatchRow",
    "Database",
    "Dialect",
    "JobRow",
    "Label",
    "LabelCount",
    "OutputWriter",
    "ResultsQueries",
    "Written",
    "labels_from_output",
]
