"""Forgetting in SQL: the forgotten jobs' ``pipeline_output`` rows and labels deleted; the forgotten faces
scrubbed from the ``job_output`` of every row that is kept (one keyset-paged scan, rewritten rows only).
The same ``?`` statements run on SQLite, PostgreSQL and SQL Server."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from pipeline.forget.scope import Scope
from pipeline.forget.scrub import face_ids_of, match_ids_of, scrub_job_output
from pipeline.forget.target import StoreReport
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import LABELS, OUTPUT
from pipeline.untrusted import one_line

__all__ = ["SqlEraser"]

_PAGE = 500
_CHUNK = 200  # values per IN (...): far below SQL Server's 2100 parameters


class SqlEraser:
    name = "sql"

    def __init__(self, *, database: Database) -> None:
        self._database = database

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        try:
            if scope.faces:
                self._scrub(scope, report)
            self._database.run(lambda cursor, dialect: self._delete(cursor, dialect, scope, report))
        except Exception as e:  # reported; the next run finishes it
            report.failures.append(f"{self._database.engine}: {type(e).__name__}: {one_line(e, 160)}")
        return report

    def _delete(self, cursor: Cursor, dialect: Dialect, scope: Scope, report: StoreReport) -> None:
        labels, output, job_id = dialect.table(LABELS.name), dialect.table(OUTPUT.name), dialect.quote("id")
        # Labels first: SQLite enforces the cascade only with foreign keys switched on.
        statements: list[tuple[str, str, list[str]]] = []
        if scope.whole_batch is not None:
            statements += [(f"DELETE FROM {labels} WHERE batch_id = ?", "labels", [scope.whole_batch]),
                           (f"DELETE FROM {output} WHERE batch_id = ?", "rows", [scope.whole_batch])]
        for batch_id, job in sorted(scope.jobs):
            if batch_id != scope.whole_batch:
                statements += [(f"DELETE FROM {labels} WHERE batch_id = ? AND job_id = ?", "labels", [batch_id, job]),
                               (f"DELETE FROM {output} WHERE batch_id = ? AND {job_id} = ?", "rows", [batch_id, job])]
        faces = sorted(scope.faces)
        for start in range(0, len(faces), _CHUNK):  # facematch's labels name the matched faces
            chunk = faces[start:start + _CHUNK]
            statements.append((f"DELETE FROM {labels} WHERE kind = 'face_match' AND name IN "
                               f"({', '.join('?' * len(chunk))})", "face match labels", chunk))
        for sql, what, params in statements:
            cursor.execute(sql, params)
            report.requests += 1
            report.add(what, max(0, int(getattr(cursor, "rowcount", 0) or 0)))

    def _scrub(self, scope: Scope, report: StoreReport) -> None:
        after: tuple[str, str] = ("", "")
        while True:
            page = self._database.run(partial(self._page, after=after))
            report.requests += 1
            if not page:
                return
            after = page[-1][:2]
            changed = []
            for batch_id, job, text in page:
                if scope.erased(batch_id, job) or "facematch" not in text:
                    continue
                try:
                    output = json.loads(text)
                except ValueError:
                    continue
                # A set intersection, not a substring search per face: a person may have thousands.
                if isinstance(output, dict) and not (
                        match_ids_of(output.get("facematch")) | face_ids_of(output)) & scope.faces:
                    continue
                scrubbed = scrub_job_output(output if isinstance(output, dict) else {}, scope.faces)
                if scrubbed.changed:
                    changed.append((json.dumps(scrubbed.output, ensure_ascii=False), batch_id, job))
                    report.add("faces", scrubbed.faces)
                    report.add("mentions", scrubbed.mentions)
            if changed:
                self._database.run(partial(self._update, rows=changed))
                report.requests += 1
                report.add("rows scrubbed", len(changed))

    @staticmethod
    def _page(cursor: Cursor, dialect: Dialect, after: tuple[str, str]) -> list[tuple[str, str, str]]:
        job_id = dialect.quote("id")
        cursor.execute(f"SELECT {dialect.top(_PAGE)}batch_id, {job_id}, job_output FROM {dialect.table(OUTPUT.name)} "
                       f"WHERE batch_id > ? OR (batch_id = ? AND {job_id} > ?) ORDER BY batch_id, {job_id}"
                       f"{dialect.limit(_PAGE)}", [after[0], after[0], after[1]])
        return [(str(b), str(j), o if isinstance(o, str) else json.dumps(o)) for b, j, o in cursor.fetchall()]

    @staticmethod
    def _update(cursor: Cursor, dialect: Dialect, rows: list[tuple[str, str, str]]) -> Any:
        cursor.executemany(f"UPDATE {dialect.table(OUTPUT.name)} SET job_output = {dialect.json_param()} "
                           f"WHERE batch_id = ? AND {dialect.quote('id')} = ?", rows)
