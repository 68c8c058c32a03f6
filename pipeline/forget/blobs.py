"""Forgetting blobs: everything under ``<batch>/`` (a batch) or ``<batch>/<job>`` and ``<batch>/<job>/…``
(a job) in the input containers, the faces container, ``largemessages`` and ``workingcopies``; a person's
face crops one by one."""

from __future__ import annotations

from collections.abc import Sequence

from azure.core.exceptions import AzureError, ResourceNotFoundError

from pipeline.forget.scope import Scope
from pipeline.forget.target import StoreReport
from pipeline.images.working_copy import WORKINGCOPIES
from pipeline.linked import LARGEMESSAGES, job_prefix
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["BlobEraser"]

_DELETE_BATCH = 256  # blobs per batch delete request (the service's limit)


class BlobEraser:
    name = "blobs"

    def __init__(self, *, storage: Storage, input_containers: Sequence[str], faces_container: str) -> None:
        self._storage = storage
        self._containers = tuple(dict.fromkeys((*input_containers, faces_container, LARGEMESSAGES, WORKINGCOPIES)))

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        for container in self._containers:
            names: list[str] = []
            try:
                if scope.whole_batch is not None:
                    names += self._listed(container, f"{scope.whole_batch}/", report)
                for batch_id, job_id in sorted(scope.jobs):
                    if batch_id == scope.whole_batch:
                        continue
                    # inputimages/<batch>/<job> is the upload itself; other containers hold <batch>/<job>/…
                    names += self._listed(container, f"{batch_id}/{job_id}", report,
                                          exact=f"{batch_id}/{job_id}", prefix=job_prefix(batch_id, job_id))
                self._delete(container, names, report)
            except AzureError as e:
                report.failures.append(f"container {container}: {type(e).__name__}: {one_line(e, 120)}")
        crops: dict[str, list[str]] = {}
        for url in sorted(scope.crops):
            path = self._storage.blob_path(url)
            if path is not None:
                crops.setdefault(path[0], []).append(path[1])
        for container, names in crops.items():
            try:
                self._delete(container, names, report, what="face crops")
            except AzureError as e:
                report.failures.append(f"face crops in {container}: {type(e).__name__}: {one_line(e, 120)}")
        return report

    def _listed(self, container: str, start: str, report: StoreReport, *, exact: str | None = None,
                prefix: str | None = None) -> list[str]:
        client = self._storage.container(container, create=False)
        report.requests += 1
        try:
            names = [b.name for b in client.list_blobs(name_starts_with=start)]
        except ResourceNotFoundError:
            return []
        return [n for n in names if exact is None or n == exact or (prefix is not None and n.startswith(prefix))]

    def _delete(self, container: str, names: list[str], report: StoreReport, what: str = "") -> None:
        client = self._storage.container(container, create=False)
        for start in range(0, len(names), _DELETE_BATCH):
            chunk = names[start:start + _DELETE_BATCH]
            report.requests += 1
            if len(chunk) == 1:
                try:
                    client.delete_blob(chunk[0], delete_snapshots="include")
                    report.add(what or container)
                except ResourceNotFoundError:
                    pass
                continue
            for response in client.delete_blobs(*chunk, delete_snapshots="include", raise_on_any_failure=False):
                if response.status_code in (200, 202):
                    report.add(what or container)
                elif response.status_code != 404:
                    report.failures.append(f"a blob in {container}: HTTP {response.status_code}")
