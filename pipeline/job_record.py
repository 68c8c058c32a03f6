"""The ``pipelinelogs`` table: one entity per job (PartitionKey batch_id, RowKey job id), merged.

Besides the contract's properties an entity holds ``fingerprint`` (the job definition's hash,
claimed by the first step that runs: a message with another definition is refused rather than
written into this entity) and ``image_error`` (the first failure to fetch or decode the image,
so later image steps fail at once with the same reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

__all__ = ["FINGERPRINT", "IMAGE_ERROR", "PIPELINELOGS", "PipelineLog", "step_state"]

PIPELINELOGS = "pipelinelogs"
FINGERPRINT = "fingerprint"
IMAGE_ERROR = "image_error"


def step_state(step: int, state: str) -> str:
    """The value of a ``<queue>`` property: ``step N: processing|success|failed``."""
    return f"step {step}: {state}"


class PipelineLog:
    """Reads and merges job entities; never replaces one."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    def read(self, batch_id: str, job_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._table.get_entity(batch_id, job_id))
        except ResourceNotFoundError:
            return None

    def merge(self, batch_id: str, job_id: str, properties: Mapping[str, Any]) -> None:
        entity = {"PartitionKey": batch_id, "RowKey": job_id, **properties}
        self._table.upsert_entity(entity, mode=UpdateMode.MERGE)

    def claim(self, batch_id: str, job_id: str, fingerprint: str) -> dict[str, Any]:
        """The job's entity, its ``fingerprint`` set to ``fingerprint`` if it had none (atomically,
        so of two definitions racing for one job exactly one wins). Compare the returned one."""
        for _ in range(5):
            try:
                entity = self._table.get_entity(batch_id, job_id)
            except ResourceNotFoundError:
                claimed = {"PartitionKey": batch_id, "RowKey": job_id, FINGERPRINT: fingerprint}
                try:
                    self._table.create_entity(claimed)
                    return claimed
                except ResourceExistsError:
                    continue
            if entity.get(FINGERPRINT):
                return dict(entity)
            try:
                self._table.update_entity({"PartitionKey": batch_id, "RowKey": job_id, FINGERPRINT: fingerprint},
                                          mode=UpdateMode.MERGE, etag=entity.metadata["etag"],
                                          match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return {**entity, FINGERPRINT: fingerprint}
        raise ResourceModifiedError(f"pipelinelogs entity {batch_id}/{job_id} kept changing while claimed")

    def batch(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job entity of a batch."""
        escaped = batch_id.replace("'", "''")
        return [dict(e) for e in self._table.query_entities(f"PartitionKey eq '{escaped}'")]
