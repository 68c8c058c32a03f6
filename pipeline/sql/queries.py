"""The results queries, for the ``imaginem results`` command and the dashboard.

Recent jobs, the jobs of a batch, recent batches with counts, the distinct labels with
counts, and the jobs having any of a set of labels; newest first, paged by offset and limit.
Every value is a bound parameter; only the engine's own words (quoting, paging) vary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.labels import Label
from pipeline.sql.schema import LABELS, OUTPUT

__all__ = ["FEW_MATCHES", "MAX_LIMIT", "MAX_LABELS", "BatchRow", "JobRow", "LabelCount", "ResultsQueries"]

MAX_LIMIT = 1000
MAX_LABELS = 100  # keeps a label filter far below SQL Server's 2100 parameters
DEFAULT_LABEL_KINDS = ("tag", "category", "face_match")
FEW_MATCHES = 2000  # below this many matching labels, a label filter starts from the labels


@dataclass(frozen=True)
class JobRow:
    id: str
    batch_id: str
    image_url: str
    timestamp: str  # ISO 8601, UTC
    labels: tuple[Label, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "batch_id": self.batch_id, "image_url": self.image_url,
                "timestamp": self.timestamp,
                "labels": [{"kind": k, "name": n, "confidence": c} for k, n, c in self.labels]}


@dataclass(frozen=True)
class BatchRow:
    batch_id: str
    jobs: int
    first: str
    last: str

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "jobs": self.jobs, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class LabelCount:
    kind: str
    name: str
    jobs: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "jobs": self.jobs}


class ResultsQueries:
    """Read-only queries over ``pipeline_output`` and its labels."""

    def __init__(self, *, database: Database, label_kinds: Sequence[str] = DEFAULT_LABEL_KINDS,
                 few_matches: int = FEW_MATCHES) -> None:
        self._database = database
        self._label_kinds = tuple(label_kinds)
        self._few = few_matches

    def recent_jobs(self, *, offset: int = 0, limit: int = 50) -> list[JobRow]:
        return self._jobs("", [], offset, limit)

    def batch_jobs(self, batch_id: str, *, offset: int = 0, limit: int = 50) -> list[JobRow]:
        return self._jobs("o.batch_id = ?", [batch_id], offset, limit)

    def jobs_with_labels(self, names: Iterable[str], *, kind: str | None = None, batch_id: str | None = None,
                         offset: int = 0, limit: int = 50) -> list[JobRow]:
        """Jobs having any of the labels; a name matches as given or case-folded."""
        wanted = _label_names(names)
        _check_page(offset, limit)

        def work(cursor: Cursor, dialect: Dialect) -> list[JobRow]:
            labels = dialect.table(LABELS.name)
            match = f"l.name IN ({', '.join('?' * len(wanted))})" + (" AND l.kind = ?" if kind else "")
            params: list[Any] = [*wanted, *([kind] if kind else [])]
            cursor.execute(f"SELECT COUNT(*) FROM (SELECT {dialect.top(self._few)}l.job_id FROM {labels} l "
                           f"WHERE {match}{dialect.limit(self._few)}) found", params)
            if int(cursor.fetchone()[0]) < self._few:
                # Few matches: start from the label index and sort them, rather than walk all jobs.
                condition = f"o.id IN (SELECT l.job_id FROM {labels} l WHERE {match})"
            else:
                # Many: walk the jobs newest first; a page fills after a few rows each.
                condition = f"EXISTS (SELECT 1 FROM {labels} l WHERE l.job_id = o.id AND {match})"
            if batch_id is not None:
                condition += " AND o.batch_id = ?"
                params.append(batch_id)
            return self._select_jobs(cursor, dialect, condition, params, offset, limit)

        return self._database.run(work)

    def recent_batches(self, *, offset: int = 0, limit: int = 50) -> list[BatchRow]:
        _check_page(offset, limit)

        def work(cursor: Cursor, dialect: Dialect) -> list[BatchRow]:
            ts = dialect.quote("timestamp")
            cursor.execute(
                f"SELECT batch_id, COUNT(*), MIN({ts}), MAX({ts}) FROM {dialect.table(OUTPUT.name)} "
                f"GROUP BY batch_id ORDER BY MAX({ts}) DESC, batch_id {dialect.page()}",
                dialect.page_params(offset, limit),
            )
            return [BatchRow(str(b), int(n), _iso(first), _iso(last)) for b, n, first, last in cursor.fetchall()]

        return self._database.run(work)

    def label_counts(self, *, kind: str | None = None, offset: int = 0, limit: int = 50) -> list[LabelCount]:
        """Distinct labels with the number of jobs having each, most frequent first."""
        _check_page(offset, limit)

        def work(cursor: Cursor, dialect: Dialect) -> list[LabelCount]:
            where = "WHERE kind = ? " if kind else ""
            cursor.execute(
                f"SELECT kind, {dialect.quote('name')}, COUNT(*) FROM {dialect.table(LABELS.name)} {where}"
                f"GROUP BY kind, {dialect.quote('name')} "
                f"ORDER BY COUNT(*) DESC, kind, {dialect.quote('name')} {dialect.page()}",
                [*([kind] if kind else []), *dialect.page_params(offset, limit)],
            )
            return [LabelCount(str(k), str(n), int(c)) for k, n, c in cursor.fetchall()]

        return self._database.run(work)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job's whole row, its JSON columns decoded, or None."""

        def work(cursor: Cursor, dialect: Dialect) -> dict[str, Any] | None:
            columns = OUTPUT.column_names
            cursor.execute(f"SELECT {', '.join(dialect.quote(c) for c in columns)} "
                           f"FROM {dialect.table(OUTPUT.name)} WHERE id = ?", (job_id,))
            found = cursor.fetchone()
            if found is None:
                return None
            row = dict(zip(columns, found, strict=True))
            for column in OUTPUT.columns:
                if column.kind == "json" and isinstance(row[column.name], str):
                    row[column.name] = json.loads(row[column.name])
            row["timestamp"] = _iso(row["timestamp"])
            row["labels"] = [label._asdict() for label in _labels_of(cursor, dialect, [job_id], None)[job_id]]
            return row

        return self._database.run(work)

    def _jobs(self, condition: str, params: list[Any], offset: int, limit: int) -> list[JobRow]:
        _check_page(offset, limit)
        return self._database.run(
            lambda cursor, dialect: self._select_jobs(cursor, dialect, condition, params, offset, limit))

    def _select_jobs(self, cursor: Cursor, dialect: Dialect, condition: str, params: list[Any], offset: int,
                     limit: int) -> list[JobRow]:
        where = f"WHERE {condition}" if condition else ""
        ts = dialect.quote("timestamp")
        cursor.execute(
            f"SELECT o.id, o.batch_id, o.image_url, o.{ts} FROM {dialect.table(OUTPUT.name)} o {where} "
            f"ORDER BY o.{ts} DESC, o.id DESC {dialect.page()}",
            [*params, *dialect.page_params(offset, limit)],
        )
        found = cursor.fetchall()
        labels = _labels_of(cursor, dialect, [str(r[0]) for r in found], self._label_kinds)
        return [JobRow(str(i), str(b), str(u), _iso(t), tuple(labels[str(i)])) for i, b, u, t in found]


def _labels_of(cursor: Cursor, dialect: Dialect, job_ids: list[str],
               kinds: Sequence[str] | None) -> dict[str, list[Label]]:
    """The labels of each job, highest confidence first (in Python: engines order NULLs differently)."""
    result: dict[str, list[Label]] = {job_id: [] for job_id in job_ids}
    if not job_ids:
        return result
    kind_clause = f" AND kind IN ({', '.join('?' * len(kinds))})" if kinds else ""
    cursor.execute(
        f"SELECT job_id, kind, {dialect.quote('name')}, confidence FROM {dialect.table(LABELS.name)} "
        f"WHERE job_id IN ({', '.join('?' * len(job_ids))}){kind_clause}",
        [*job_ids, *(kinds or ())],
    )
    for job_id, kind, name, confidence in cursor.fetchall():
        result[str(job_id)].append(Label(str(kind), str(name), None if confidence is None else float(confidence)))
    for labels in result.values():
        labels.sort(key=lambda label: (-1.0 if label.confidence is None else -label.confidence, label.kind,
                                       label.name))
    return result


def _label_names(names: Iterable[str]) -> list[str]:
    given = list(dict.fromkeys(name for name in names if name))
    if not given:
        raise ValueError("give at least one label")
    if len(given) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels at once, not {len(given)}")
    return list(dict.fromkeys(variant for name in given for variant in (name, name.casefold())))


def _check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise ValueError(f"offset {offset} is negative")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit {limit} is not between 1 and {MAX_LIMIT}")


def _iso(value: Any) -> str:
    """A stored time as ISO 8601 UTC with a Z: SQLite gives text, the servers a naive datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
