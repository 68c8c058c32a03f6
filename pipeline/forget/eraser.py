"""Forget a job, a batch or a person in every store, and say what each store removed.

The order matters for running it again: the tombstone first (no step of the jobs does more work), then
the plan (read from the entities and rows, which are deleted last, so a second run plans the same), the
face index, the mentions of the faces in kept jobs, SQL, blobs, queues, and the entities. Each store's
failure is reported and the others still run; every store's eraser is idempotent, so running the whole
erasure again finishes what failed. Nothing is locked: the pipeline's other jobs keep flowing.
When the plan finds jobs still in flight, the erasure waits ``settle_seconds`` and runs once more, for the
steps that were already past their tombstone check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pipeline.forget.audit import ErasureLog
from pipeline.forget.scope import Scope
from pipeline.forget.target import Kind, StoreReport, Target
from pipeline.forget.tombstones import Tombstones
from pipeline.untrusted import one_line

if TYPE_CHECKING:
    from classifiers.backends.face_index import FaceIndexBackend

__all__ = ["Eraser", "ErasureReport", "StoreEraser"]

_log = logging.getLogger(__name__)


class StoreEraser(Protocol):
    name: str

    def erase(self, scope: Scope) -> StoreReport: ...


@dataclass
class ErasureReport:
    target: Target
    stores: list[StoreReport] = field(default_factory=list)
    seconds: float = 0.0
    audit_key: str | None = None

    @property
    def complete(self) -> bool:
        return not any(s.failures for s in self.stores)

    def merge(self, other: Sequence[StoreReport]) -> None:
        mine = {s.store: s for s in self.stores}
        for report in other:
            if report.store not in mine:
                mine[report.store] = report
                self.stores.append(report)
                continue
            kept = mine[report.store]
            for what, count in report.removed.items():
                kept.add(what, count)
            kept.requests += report.requests
            kept.failures = report.failures  # the last pass says what is still left


class _FaceIndexStore:
    """The worker's face index as one of the stores: the jobs' faces, a person, or expired faces."""

    def __init__(self, index: FaceIndexBackend) -> None:
        self._index = index
        self.name = f"face index ({index.kind})"

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        try:
            if scope.whole_batch is not None:
                report.add("faces", self._index.forget_batch(scope.whole_batch))
            for batch_id, job_id in sorted(scope.jobs):
                if batch_id != scope.whole_batch:
                    report.add("faces", self._index.forget_job(batch_id, job_id))
            if scope.target.kind is Kind.PERSON:  # her faces, her name, the ids merged into her
                report.add("faces", self._index.forget_person(scope.target.person_id))
            elif scope.target.kind is Kind.EXPIRED:
                report.add("faces", self._index.forget_faces(scope.faces))
        except Exception as e:  # reported; the next run finishes it
            report.failures.append(f"{type(e).__name__}: {one_line(e, 160)}")
        return report


class Eraser:
    def __init__(self, *, plan: Callable[[Target], Scope], face_index: FaceIndexBackend,
                 stores: Sequence[StoreEraser], tombstones: Tombstones, audit: ErasureLog,
                 in_flight: Callable[[Scope], bool] = lambda scope: False, settle_seconds: float = 5.0) -> None:
        """``stores`` in the order they run after the face index (the entities' eraser last)."""
        self._plan = plan
        self._stores: list[StoreEraser] = [_FaceIndexStore(face_index), *stores]
        self._tombstones = tombstones
        self._audit = audit
        self._in_flight = in_flight
        self._settle = settle_seconds

    def forget(self, target: Target, *, requested_by: str | None = None, trigger: str = "cli") -> ErasureReport:
        started = time.perf_counter()
        report = ErasureReport(target=target)
        if target.kind is Kind.BATCH:
            self._tombstones.bury(target.batch_id)
        elif target.kind is Kind.JOB:
            self._tombstones.bury(target.batch_id, target.job_id)
        scope = self._plan(target)
        if target.kind is Kind.PERSON and target.with_photos:
            for batch_id, job_id in sorted(scope.jobs):
                self._tombstones.bury(batch_id, job_id)
        flowing = self._in_flight(scope)
        report.merge(self._pass(scope))
        if flowing:
            _log.info("forget %s: jobs were in flight; erasing again in %.0f s", target.kind, self._settle)
            time.sleep(self._settle)
            report.merge(self._pass(self._plan(target) if target.kind is not Kind.PERSON else scope))
        report.seconds = time.perf_counter() - started
        try:
            report.audit_key = self._audit.record(target, report.stores, requested_by=requested_by, trigger=trigger)
        except Exception as e:  # the erasure stands; say the audit row is missing
            report.stores.append(StoreReport("audit", failures=[f"{type(e).__name__}: {one_line(e, 120)}"]))
        return report

    def _pass(self, scope: Scope) -> list[StoreReport]:
        reports = []
        for store in self._stores:
            try:
                reports.append(store.erase(scope))
            except Exception as e:  # one store's failure never stops the others
                _log.warning("forget: %s failed: %s", store.name, one_line(e, 200))
                reports.append(StoreReport(store.name, failures=[f"{type(e).__name__}: {one_line(e, 160)}"]))
        return reports
