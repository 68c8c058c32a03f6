"""What the dashboard reads beyond ``ResultsQueries``: whole job outputs, a page or a bounded window at a time.

Every value is a bound parameter. (These could join ``pipeline.sql.queries`` later; they are here
so the dashboard does not change the results queries other tools use.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import OUTPUT

__all__ = ["FinishedJob", "OutputStore"]

_CHUNK = 200  # keys per IN (...) list: far below SQL Server's 2100 parameters


@dataclass(frozen=True)
class FinishedJob:
    batch_id: str
    id: str
    image_url: str
    image_parameters: dict[str, Any]
    job_output: dict[str, Any]


def _decode(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


class OutputStore:
    def __init__(self, *, database: Database) -> None:
        self._database = database

    def _select(self, dialect: Dialect) -> str:
        columns = ", ".join(dialect.quote(c) for c in ("batch_id", "id", "image_url", "image_parameters",
                                                       "job_output"))
        return f"SELECT {columns} FROM {dialect.table(OUTPUT.name)}"

    @staticmethod
    def _rows(cursor: Cursor) -> list[FinishedJob]:
        return [FinishedJob(str(b), str(i), str(u), _decode(p), _decode(o)) for b, i, u, p, o in cursor.fetchall()]

    def outputs(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], FinishedJob]:
        """The finished jobs with these (batch_id, job id) keys."""
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], FinishedJob] = {}

        def work(cursor: Cursor, dialect: Dialect) -> None:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                cursor.execute(f"{self._select(dialect)} WHERE {dialect.quote('id')} IN "
                               f"({', '.join('?' * len(chunk))})", [job for _, job in chunk])
                for row in self._rows(cursor):
                    if (row.batch_id, row.id) in chunk:
                        found[(row.batch_id, row.id)] = row

        if wanted:
            self._database.run(work)
        return found

    def recent(self, limit: int) -> list[FinishedJob]:
        """The newest ``limit`` finished jobs."""

        def work(cursor: Cursor, dialect: Dialect) -> list[FinishedJob]:
            ts = dialect.quote("timestamp")
            cursor.execute(f"{self._select(dialect)} ORDER BY {ts} DESC, {dialect.quote('id')} DESC "
                           f"{dialect.page()}", dialect.page_params(0, limit))
            return self._rows(cursor)

        return self._database.run(work)

    def jobs_of_images(self, urls: Sequence[str]) -> dict[str, tuple[str, str]]:
        """image_url → (batch_id, job id) of a finished job with that image."""
        wanted = list(dict.fromkeys(urls))
        found: dict[str, tuple[str, str]] = {}

        def work(cursor: Cursor, dialect: Dialect) -> None:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                cursor.execute(f"SELECT image_url, batch_id, {dialect.quote('id')} FROM {dialect.table(OUTPUT.name)} "
                               f"WHERE image_url IN ({', '.join('?' * len(chunk))})", chunk)
                for url, batch, job in cursor.fetchall():
                    found.setdefault(str(url), (str(batch), str(job)))

        if wanted:
            self._database.run(work)
        return found
