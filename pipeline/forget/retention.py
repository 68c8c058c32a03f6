"""The retention schedule applied by a timer: working copies and linked content past their days, and faces
stored longer than ``FACE_RETENTION_DAYS`` (forgotten as a person's faces are: prints, crops, matches).

In Azure the storage lifecycle rules delete the blobs too (infra/modules/storage.bicep); this pass is what
enforces them where there are no such rules (Azurite), and is harmless where there are. Each expiry of
faces is audited like any erasure (kind ``expired faces``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError, ResourceNotFoundError

from pipeline.forget.eraser import Eraser, ErasureReport
from pipeline.forget.target import StoreReport, Target
from pipeline.images.working_copy import WORKINGCOPIES
from pipeline.linked import LARGEMESSAGES
from pipeline.settings import Settings
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["Retention", "RetentionReport"]

_log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    blobs: StoreReport
    faces: ErasureReport | None


class Retention:
    def __init__(self, *, settings: Settings, storage: Storage, eraser: Eraser) -> None:
        self._settings = settings
        self._storage = storage
        self._eraser = eraser

    def apply(self, now: datetime | None = None) -> RetentionReport:
        now = now or datetime.now(UTC)
        blobs = StoreReport("retention blobs")
        for container, days in ((WORKINGCOPIES, self._settings.working_copy_retention_days),
                                (LARGEMESSAGES, self._settings.large_message_retention_days)):
            self._expire_blobs(container, now - timedelta(days=days), blobs)
        faces = None
        if self._settings.face_retention_days is not None:
            cutoff = now - timedelta(days=self._settings.face_retention_days)
            faces = self._eraser.forget(Target.expired(cutoff.isoformat()), trigger="retention")
        _log.info("retention: %s; faces: %s", blobs.summary(),
                  "kept (FACE_RETENTION_DAYS empty)" if faces is None else
                  ", ".join(s.summary() for s in faces.stores if s.total or s.failures) or "none expired")
        return RetentionReport(blobs=blobs, faces=faces)

    def _expire_blobs(self, container: str, before: datetime, report: StoreReport) -> None:
        client = self._storage.container(container, create=False)
        try:
            report.requests += 1
            old = [b.name for b in client.list_blobs() if b.last_modified is not None and b.last_modified < before]
            for name in old:
                report.requests += 1
                try:
                    client.delete_blob(name, delete_snapshots="include")
                    report.add(container)
                except ResourceNotFoundError:
                    pass
        except ResourceNotFoundError:
            return
        except AzureError as e:
            report.failures.append(f"{container}: {type(e).__name__}: {one_line(e, 120)}")
