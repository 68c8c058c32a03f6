"""The ``pipelinelogs`` table: one entity per job (PartitionKey batch_id, RowKey job id), merged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

__all__ = ["PIPELINELOGS", "PipelineLog", "step_state"]

PIPELINELOGS = "pipelinelogs"


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

    def batch(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job entity of a batch."""
        escaped = batch_id.replace("'", "''")
        return [dict(e) for e in self._table.query_entities(f"PartitionKey eq '{escaped}'")]
