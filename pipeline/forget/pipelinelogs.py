"""Forgetting in ``pipelinelogs``: the jobs' entities deleted (last of all: they tell what a job touched),
and the faces scrubbed from the entities of the jobs that are kept (``mentions``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from pipeline.forget.scope import Scope, read_entities
from pipeline.forget.scrub import FACE_OUTPUTS, match_ids_of, scrub_job_output
from pipeline.forget.target import StoreReport
from pipeline.job_record import (
    PipelineLog,
    finished_message,
    output_property,
    recorded_output,
    rewritten_message,
    rewritten_output,
)
from pipeline.linked import LinkedContent, is_link
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["EntityEraser", "MentionScrubber"]

_log = logging.getLogger(__name__)
_TRANSACTION_LIMIT = 100
_PAGE = 1000


class EntityEraser:
    """Deletes the forgotten jobs' entities: a whole batch's partition, or one entity per job."""

    name = "pipelinelogs"

    def __init__(self, *, table: TableClient) -> None:
        self._table = table

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        keys = set(scope.jobs)
        if scope.whole_batch is not None:
            try:
                report.requests += 1
                keys |= {(scope.whole_batch, str(e["RowKey"])) for e in self._table.query_entities(
                    "PartitionKey eq @p", parameters={"p": scope.whole_batch}, select=["RowKey"])}
            except ResourceNotFoundError:
                pass
        by_batch: dict[str, list[str]] = {}
        for batch_id, job_id in sorted(keys):
            by_batch.setdefault(batch_id, []).append(job_id)
        for batch_id, jobs in by_batch.items():
            for start in range(0, len(jobs), _TRANSACTION_LIMIT):
                chunk = jobs[start:start + _TRANSACTION_LIMIT]
                try:
                    self._delete(batch_id, chunk, report)
                except AzureError as e:
                    report.failures.append(f"{len(chunk)} entities of a batch: {type(e).__name__}: "
                                           f"{one_line(str(e).splitlines()[0] if str(e) else '', 120)}")
        return report

    def _delete(self, batch_id: str, jobs: list[str], report: StoreReport) -> None:
        # A batch delete fails whole when one entity is missing: fall back to one by one then.
        try:
            report.requests += 1
            self._table.submit_transaction([("delete", {"PartitionKey": batch_id, "RowKey": j}) for j in jobs])
            report.add("entities", len(jobs))
            return
        except (ResourceNotFoundError, AzureError):
            pass
        for job_id in jobs:
            report.requests += 1
            try:
                self._table.get_entity(batch_id, job_id, select=["RowKey"])
            except ResourceNotFoundError:
                continue
            report.requests += 1
            self._table.delete_entity(batch_id, job_id)
            report.add("entities")


class MentionScrubber:
    """Scrubs the forgotten faces from the entities that are kept: every entity whose facematch output
    names one (one scan of that property over the table), and a person's own jobs."""

    name = "pipelinelogs mentions"

    def __init__(self, *, table: TableClient, storage: Storage, linked: LinkedContent) -> None:
        self._table = table
        self._storage = storage
        self._linked = linked

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        if not scope.faces:
            return report
        candidates = set(scope.scrubbed_jobs)
        try:
            report.requests += 1
            pages = self._table.list_entities(select=["PartitionKey", "RowKey", output_property("facematch")],
                                              results_per_page=_PAGE).by_page()
            for page in pages:
                report.requests += 1
                for row in page:
                    output = recorded_output(row, "facematch", lenient=True)
                    if is_link(output) or match_ids_of(output) & scope.faces:
                        candidates.add((str(row["PartitionKey"]), str(row["RowKey"])))
        except ResourceNotFoundError:
            return report
        kept = [key for key in candidates if not scope.erased(*key)]
        try:
            entities = read_entities(PipelineLog(self._table), kept)
        except AzureError as e:
            report.failures.append(f"reading entities to scrub: {type(e).__name__}: {one_line(e, 120)}")
            return report
        updates: dict[str, list[dict[str, Any]]] = {}
        for (batch_id, job_id), entity in sorted(entities.items()):
            try:
                changes = self._scrub(entity, scope, report)
            except Exception as e:  # reported; the next run finishes it
                report.failures.append(f"scrubbing a job's entity: {type(e).__name__}: {one_line(e, 120)}")
                continue
            if changes:
                updates.setdefault(batch_id, []).append({"PartitionKey": batch_id, "RowKey": job_id, **changes})
        for entities_of_batch in updates.values():
            for chunk in _transactions(entities_of_batch):
                try:
                    self._update(chunk, report)
                except AzureError as e:
                    report.failures.append(f"{len(chunk)} scrubbed entities: {type(e).__name__}: {one_line(e, 120)}")
        return report

    def _update(self, chunk: list[dict[str, Any]], report: StoreReport) -> None:
        """One transaction for the chunk; entity by entity when it is refused (one of them deleted meanwhile)."""
        report.requests += 1
        try:
            self._table.submit_transaction([("update", e, {"mode": UpdateMode.MERGE}) for e in chunk])
            report.add("entities scrubbed", len(chunk))
            return
        except AzureError:
            pass
        for entity in chunk:
            report.requests += 1
            try:
                self._table.update_entity(entity, mode=UpdateMode.MERGE)
                report.add("entities scrubbed")
            except ResourceNotFoundError:
                pass

    def _scrub(self, entity: Mapping[str, Any], scope: Scope, report: StoreReport) -> dict[str, Any]:
        outputs = {name: _json(entity.get(output_property(name))) for name in FACE_OUTPUTS
                   if isinstance(entity.get(output_property(name)), str)}
        expanded = {name: self._linked.expand(value) for name, value in outputs.items()}
        scrubbed = scrub_job_output(expanded, scope.faces)
        changes: dict[str, Any] = {}
        if scrubbed.changed:
            for name, value in scrubbed.output.items():
                if value != expanded.get(name):
                    changes |= rewritten_output(name, self._write_back(outputs[name], value, report))
        whole = _json(finished_message(entity))
        message = self._linked.expand(whole)
        if isinstance(message, Mapping) and isinstance(message.get("job_output"), Mapping):
            inner = {name: self._linked.expand(v) for name, v in message["job_output"].items()}
            done = scrub_job_output(inner, scope.faces)
            if done.changed:
                new_inner = dict(message["job_output"])
                for name, value in done.output.items():
                    if value != inner.get(name):
                        new_inner[name] = self._write_back(message["job_output"][name], value, report)
                new_message = {**message, "job_output": new_inner}
                changes |= rewritten_message(self._write_back(whole, new_message, report))
        if changes:
            report.add("faces", scrubbed.faces)
            report.add("mentions", scrubbed.mentions)
        return changes

    def _write_back(self, stored: Any, value: Any, report: StoreReport) -> Any:
        """What to store for ``value``: the same link with the blob rewritten, or the value itself."""
        if not is_link(stored):
            return value
        path = self._storage.blob_path(stored["linked_content"])
        if path is None:
            return value
        report.requests += 1
        self._storage.upload_blob(*path, json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                                  content_type="application/json")
        report.add("linked blobs rewritten")
        return stored


_TRANSACTION_BYTES = 3 * 1024 * 1024  # under the 4 MiB of an entity group transaction, with room for its framing


def _transactions(entities: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Chunks of at most 100 entities and about 3 MiB (strings counted in UTF-16, as the service does)."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for entity in entities:
        weight = sum(2 * len(str(v)) for v in entity.values())
        if chunks[-1] and (len(chunks[-1]) >= _TRANSACTION_LIMIT or size + weight > _TRANSACTION_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(entity)
        size += weight
    return [c for c in chunks if c]


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None
