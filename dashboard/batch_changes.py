"""The jobs of a batch that changed since the page last asked, by ``pipelinelogs``' own ``Timestamp``.

Every merge into a job's entity moves its ``Timestamp`` (set by the storage service), so
``Timestamp ge <cursor>`` within the batch's partition is what changed since a poll that returned
``cursor``. A write still in flight during a read may commit afterwards with a ``Timestamp`` a little
older than the newest one that read saw, so the cursor handed out is the newest ``Timestamp`` seen or
``OVERLAP`` before the read began, whichever is earlier: while jobs change, the last few seconds of
changes come again (the page keeps the newer copy); once nothing changes, only the newest job does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import TableClient

__all__ = ["OVERLAP", "BatchChanges", "Changes", "parse_cursor"]

OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True)
class Changes:
    entities: list[dict[str, Any]]
    cursor: str | None
    """Pass back as ``since`` to get what changed after this read; None while the batch has no job."""


def parse_cursor(value: str) -> datetime:
    """A cursor this module gave out; ValueError for anything else."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"since={value[:40]!r} is not a cursor from an earlier answer") from None
    if moment.tzinfo is None:
        raise ValueError(f"since={value[:40]!r} has no time zone")
    return moment.astimezone(UTC)


class BatchChanges:
    def __init__(self, *, table: TableClient, overlap: timedelta = OVERLAP) -> None:
        self._table = table
        self._overlap = overlap

    def read(self, batch_id: str, since: datetime | None = None) -> Changes:
        """Every job entity of the batch, or only those changed at or after ``since``."""
        parameters: dict[str, Any] = {"batch": batch_id}
        query = "PartitionKey eq @batch"
        if since is not None:
            query += " and Timestamp ge @since"
            parameters["since"] = since
        began = datetime.now(UTC)
        entities, newest = [], since
        for entity in self._table.query_entities(query, parameters=parameters):
            stamp = entity.metadata.get("timestamp")
            if isinstance(stamp, datetime) and (newest is None or stamp > newest):
                newest = stamp
            entities.append(dict(entity))
        if newest is None:
            return Changes(entities=entities, cursor=None)
        # A clock of ours far ahead of storage's only makes this the newest Timestamp seen.
        cursor = min(newest.astimezone(UTC), began - self._overlap)
        return Changes(entities=entities, cursor=cursor.isoformat())
