"""The results queries, for the ``imaginem results`` command and the dashboard.

Jobs newest first, filtered by any of several batches, any of several labels and any of
several outcomes (each filter optional, all given ones must hold); recent batches with
counts; the distinct labels with counts; one job's whole row. A job is (batch_id, id): each
row carries its batch. Paged by offset and limit. Every value is a bound parameter; only the
engine's own words (quoting, paging) vary.
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
from pipeline.sql.writer import FINISHED_WITH_FAILURES

__all__ = ["FEW_MATCHES", "MAX_FILTER_VALUES", "MAX_LABELS", "MAX_LIMIT", "BatchRow", "JobRow", "LabelCount",
           "ResultsQueries"]

MAX_LIMIT = 1000
MAX_LABELS = 100  # keeps a label filter far below SQL Server's 2100 parameters
MAX_FILTER_VALUES = 100  # batches or outcomes in one filter, for the same reason
_LOOKUP_CHUNK = 500  # jobs whose labels are read in one statement (two parameters each, at most)
DEFAULT_LABEL_KINDS = ("tag", "category", "face_match")
FEW_MATCHES = 2000  # below this many matching labels, a label filter starts from the labels


@dataclass(frozen=True)
class JobRow:
    id: str
    batch_id: str
    image_url: str
    timestamp: str  # ISO 8601, UTC
    labels: tuple[Label, ...] = field(default=())
    outcome: str = ""  # succeeded, finished with failures

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "batch_id": self.batch_id, "outcome": self.outcome, "image_url": self.image_url,
                "timestamp": self.timestamp,
                "labels": [{"kind": k, "name": n, "confidence": c} for k, n, c in self.labels]}


@dataclass(frozen=True)
class BatchRow:
    batch_id: str
    jobs: int
    first: str
    last: str
    with_failures: int = 0  # jobs that finished with failed steps

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "jobs": self.jobs, "with_failures": self.with_failures,
                "first": self.first, "last": self.last}


@dataclass(frozen=True)
class LabelCount:
    kind: str
    name: str
    jobs: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "jobs": self.jobs}


Filter = str | Sequence[str] | None
"""One value, several (any of them matches), or None / empty for no filter."""


class ResultsQueries:
    """Read-only queries over ``pipeline_output`` and its labels."""

    def __init__(self, *, database: Database, label_kinds: Sequence[str] = DEFAULT_LABEL_KINDS,
                 few_matches: int = FEW_MATCHES) -> None:
        self._database = database
        self._label_kinds = tuple(label_kinds)
        self._few = few_matches

    def recent_jobs(self, *, offset: int = 0, limit: int = 50, batch_ids: Filter = None, labels: Filter = None,
                    kind: str | None = None, outcomes: Filter = None) -> list[JobRow]:
        """Jobs newest first: of any of ``batch_ids``, having any of ``labels`` (of ``kind``), with any of
        ``outcomes``; each filter left out or empty matches every job."""
        names = _values(labels, "labels", MAX_LABELS)
        wanted = _label_names(names) if names else []
        return self._find(wanted, kind, _values(batch_ids, "batches"), _values(outcomes, "outcomes"), offset, limit)

    def batch_jobs(self, batch_id: str | Sequence[str], *, offset: int = 0, limit: int = 50,
                   labels: Filter = None, kind: str | None = None, outcomes: Filter = None) -> list[JobRow]:
        """The jobs of a batch (or of any of several batches)."""
        batches = _values(batch_id, "batches")
        if not batches:
            return []
        return self.recent_jobs(offset=offset, limit=limit, batch_ids=batches, labels=labels, kind=kind,
                                outcomes=outcomes)

    def jobs_with_labels(self, names: Iterable[str], *, kind: str | None = None, batch_id: Filter = None,
                         batch_ids: Filter = None, outcomes: Filter = None, offset: int = 0,
                         limit: int = 50) -> list[JobRow]:
        """Jobs having any of the labels; a name matches as given or case-folded."""
        wanted = _label_names(names)
        batches = _values(batch_id, "batches") + _values(batch_ids, "batches")
        return self._find(wanted, kind, list(dict.fromkeys(batches)), _values(outcomes, "outcomes"), offset, limit)

    def recent_batches(self, *, offset: int = 0, limit: int = 50) -> list[BatchRow]:
        _check_page(offset, limit)

        def work(cursor: Cursor, dialect: Dialect) -> list[BatchRow]:
            ts = dialect.quote("timestamp")
            cursor.execute(
                f"SELECT batch_id, COUNT(*), MIN({ts}), MAX({ts}), "
                f"SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) FROM {dialect.table(OUTPUT.name)} "
                f"GROUP BY batch_id ORDER BY MAX({ts}) DESC, batch_id {dialect.page()}",
                (FINISHED_WITH_FAILURES, *dialect.page_params(offset, limit)),
            )
            return [BatchRow(str(b), int(n), _iso(first), _iso(last), int(failed or 0))
                    for b, n, first, last, failed in cursor.fetchall()]

        return self._database.run(work)

    def label_counts(self, *, kind: str | None = None, batch_ids: Filter = None, offset: int = 0,
                     limit: int = 50) -> list[LabelCount]:
        """Distinct labels with the number of jobs having each, most frequent first (in any of ``batch_ids``)."""
        _check_page(offset, limit)
        batches = _values(batch_ids, "batches")

        def work(cursor: Cursor, dialect: Dialect) -> list[LabelCount]:
            conditions = (["kind = ?"] if kind else []) + ([f"batch_id IN ({_marks(batches)})"] if batches else [])
            where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
            cursor.execute(
                f"SELECT kind, {dialect.quote('name')}, COUNT(*) FROM {dialect.table(LABELS.name)} {where}"
                f"GROUP BY kind, {dialect.quote('name')} "
                f"ORDER BY COUNT(*) DESC, kind, {dialect.quote('name')} {dialect.page()}",
                [*([kind] if kind else []), *batches, *dialect.page_params(offset, limit)],
            )
            return [LabelCount(str(k), str(n), int(c)) for k, n, c in cursor.fetchall()]

        return self._database.run(work)

    def job(self, job_id: str, batch_id: str | None = None) -> dict[str, Any] | None:
        """One job's whole row, its JSON columns decoded, or None; without ``batch_id``, the newest of that id."""

        def work(cursor: Cursor, dialect: Dialect) -> dict[str, Any] | None:
            columns = OUTPUT.column_names
            ts = dialect.quote("timestamp")
            where, params = ("id = ? AND batch_id = ?", (job_id, batch_id)) if batch_id is not None else (
                "id = ?", (job_id,))
            cursor.execute(f"SELECT {dialect.top(1)}{', '.join(dialect.quote(c) for c in columns)} "
                           f"FROM {dialect.table(OUTPUT.name)} WHERE {where} ORDER BY {ts} DESC, batch_id DESC"
                           f"{dialect.limit(1)}", params)
            found = cursor.fetchone()
            if found is None:
                return None
            row = dict(zip(columns, found, strict=True))
            for column in OUTPUT.columns:
                if column.kind == "json" and isinstance(row[column.name], str):
                    row[column.name] = json.loads(row[column.name])
            row["timestamp"] = _iso(row["timestamp"])
            key = (str(row["batch_id"]), job_id)
            row["labels"] = [label._asdict() for label in _labels_of(cursor, dialect, [key], None)[key]]
            return row

        return self._database.run(work)

    def _find(self, wanted: list[str], kind: str | None, batches: list[str], outcomes: list[str], offset: int,
              limit: int) -> list[JobRow]:
        _check_page(offset, limit)

        def work(cursor: Cursor, dialect: Dialect) -> list[JobRow]:
            join, join_params = "", []
            conditions: list[str] = []
            params: list[Any] = []
            if wanted:
                labels = dialect.table(LABELS.name)
                match = f"l.name IN ({_marks(wanted)})" + (" AND l.kind = ?" if kind else "")
                match += f" AND l.batch_id IN ({_marks(batches)})" if batches else ""
                match_params: list[Any] = [*wanted, *([kind] if kind else []), *batches]
                cursor.execute(f"SELECT COUNT(*) FROM (SELECT {dialect.top(self._few)}l.job_id FROM {labels} l "
                               f"WHERE {match}{dialect.limit(self._few)}) found", match_params)
                if int(cursor.fetchone()[0]) < self._few:
                    # Few matches: start from the label index and sort them, rather than walk all jobs.
                    join = (f"JOIN (SELECT DISTINCT l.batch_id, l.job_id FROM {labels} l WHERE {match}) f "
                            "ON f.batch_id = o.batch_id AND f.job_id = o.id ")
                    join_params = match_params
                else:
                    # Many: walk the jobs newest first; a page fills after a few rows each.
                    conditions.append(f"EXISTS (SELECT 1 FROM {labels} l WHERE l.batch_id = o.batch_id "
                                      f"AND l.job_id = o.id AND {match})")
                    params += match_params
            if batches:
                conditions.append(f"o.batch_id IN ({_marks(batches)})")
                params += batches
            if outcomes:
                conditions.append(f"o.outcome IN ({_marks(outcomes)})")
                params += outcomes
            return self._select_jobs(cursor, dialect, join, " AND ".join(conditions), [*join_params, *params],
                                     offset, limit)

        return self._database.run(work)

    def _select_jobs(self, cursor: Cursor, dialect: Dialect, join: str, condition: str, params: list[Any],
                     offset: int, limit: int) -> list[JobRow]:
        where = f"WHERE {condition} " if condition else ""
        ts = dialect.quote("timestamp")
        cursor.execute(
            f"SELECT o.id, o.batch_id, o.outcome, o.image_url, o.{ts} FROM {dialect.table(OUTPUT.name)} o "
            f"{join}{where}ORDER BY o.{ts} DESC, o.batch_id DESC, o.id DESC {dialect.page()}",
            [*params, *dialect.page_params(offset, limit)],
        )
        found = cursor.fetchall()
        labels = _labels_of(cursor, dialect, [(str(b), str(i)) for i, b, *_ in found], self._label_kinds)
        return [JobRow(str(i), str(b), str(u), _iso(t), tuple(labels[(str(b), str(i))]), str(outcome))
                for i, b, outcome, u, t in found]


def _labels_of(cursor: Cursor, dialect: Dialect, jobs: list[tuple[str, str]],
               kinds: Sequence[str] | None) -> dict[tuple[str, str], list[Label]]:
    """The labels of each (batch_id, job id), highest confidence first (sorted here: engines order NULLs
    differently)."""
    result: dict[tuple[str, str], list[Label]] = {job: [] for job in jobs}
    kind_clause = f" AND kind IN ({_marks(kinds)})" if kinds else ""
    unique = list(result)
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[start:start + _LOOKUP_CHUNK]
        batches = list(dict.fromkeys(b for b, _ in chunk))
        ids = list(dict.fromkeys(i for _, i in chunk))
        # Both lists, not row values (SQL Server has none): a pair not asked for is dropped below.
        cursor.execute(
            f"SELECT batch_id, job_id, kind, {dialect.quote('name')}, confidence FROM {dialect.table(LABELS.name)} "
            f"WHERE batch_id IN ({_marks(batches)}) AND job_id IN ({_marks(ids)}){kind_clause}",
            [*batches, *ids, *(kinds or ())],
        )
        for batch_id, job_id, kind, name, confidence in cursor.fetchall():
            found = result.get((str(batch_id), str(job_id)))
            if found is not None:
                found.append(Label(str(kind), str(name), None if confidence is None else float(confidence)))
    for labels in result.values():
        labels.sort(key=lambda label: (-1.0 if label.confidence is None else -label.confidence, label.kind,
                                       label.name))
    return result


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _values(given: Filter, what: str, most: int = MAX_FILTER_VALUES) -> list[str]:
    """A filter's values, once each; None, '' and [] give none (no filter)."""
    if given is None:
        return []
    values = [given] if isinstance(given, str) else list(given)
    unique = list(dict.fromkeys(str(v) for v in values if v))
    if len(unique) > most:
        raise ValueError(f"at most {most} {what} at once, not {len(unique)}")
    return unique


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
