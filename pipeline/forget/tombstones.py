"""Tombstones: the jobs and batches being forgotten, written before anything is erased.

A step checks its job right after parsing the message (``StepRunner.run``): a forgotten job does no
work, writes nothing and its message is acknowledged, so a step still in a queue, or a message
delivered again, cannot bring the job back. One row per job or batch in the ``forgotten`` table::

    PartitionKey    sha256 of the batch id (hex, 32 characters)
    RowKey          sha256 of batch and job id, or "*" for the whole batch

Hashes, not ids: a search of the tables for a forgotten id finds nothing. Unsalted, so a step checks
with one query and nothing else read first; reversing one needs the batch id, which is random.
Tombstones are kept: a message may wait in a queue for days (Azure's default time-to-live is 7).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

__all__ = ["FORGOTTEN_TABLE", "WHOLE_BATCH", "Tombstones"]

FORGOTTEN_TABLE = "forgotten"
WHOLE_BATCH = "*"


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(("imaginem-forgotten", *parts)).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Tombstones:
    def __init__(self, *, table: TableClient) -> None:
        self._table = table

    def bury(self, batch_id: str, job_id: str | None = None) -> None:
        """Mark a job (or the whole batch for None) as forgotten."""
        self._table.upsert_entity({"PartitionKey": _hash(batch_id),
                                   "RowKey": WHOLE_BATCH if job_id is None else _hash(batch_id, job_id),
                                   "at": datetime.now(UTC)}, mode=UpdateMode.REPLACE)

    def forgotten(self, batch_id: str, job_id: str) -> bool:
        """Whether the job, or its whole batch, is forgotten: one query."""
        try:
            # Hex hashes and "*" only: safe to write into the filter (the SDK's parameters trip on brackets).
            found = self._table.query_entities(
                f"PartitionKey eq '{_hash(batch_id)}' and (RowKey eq '{_hash(batch_id, job_id)}' "
                f"or RowKey eq '{WHOLE_BATCH}')", select=["RowKey"], results_per_page=2)
            return next(iter(found), None) is not None
        except ResourceNotFoundError:  # nothing was ever forgotten
            return False
