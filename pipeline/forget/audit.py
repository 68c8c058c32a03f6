"""The audit of erasures, without personal data: table ``erasures``, one row per erasure.

Each row says what kind of thing was forgotten, when, what each store removed, what failed, and who asked
when known (the dashboard's signed-in principal, hashed). The forgotten ids are never stored: ``target`` is
an HMAC-SHA256 of them with this deployment's salt, enough to show that an erasure of a given id ran
(whoever holds the id and the account can recompute it) and useless to recover the id. The salt is a random
value kept in the same table (row ``salt``/``salt``), made by the first erasure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from pipeline.forget.target import StoreReport, Target

__all__ = ["ERASURES_TABLE", "ErasureLog"]

ERASURES_TABLE = "erasures"
_SALT_KEY = {"PartitionKey": "salt", "RowKey": "salt"}


class ErasureLog:
    def __init__(self, *, table: TableClient) -> None:
        self._table = table
        self._salt: bytes | None = None

    def salt(self) -> bytes:
        if self._salt is None:
            try:
                self._table.create_entity({**_SALT_KEY, "value": secrets.token_hex(32)})
            except ResourceExistsError:
                pass
            self._salt = bytes.fromhex(str(self._table.get_entity("salt", "salt")["value"]))
        return self._salt

    def proof(self, kind: str, ids: Sequence[str]) -> str:
        """The salted hash recorded for an erasure of ``ids``: recompute it to show that erasure ran."""
        text = "\x00".join((kind, *ids)).encode("utf-8", "surrogatepass")
        return hmac.new(self.salt(), text, hashlib.sha256).hexdigest()

    def record(self, target: Target, reports: Sequence[StoreReport], *, requested_by: str | None = None,
               trigger: str = "cli") -> str:
        """Write the row; its RowKey (newest first within the month's partition)."""
        now = datetime.now(UTC)
        key = f"{9_999_999_999 - int(now.timestamp()):010d}-{uuid.uuid4().hex[:8]}"
        entity = {
            "PartitionKey": now.strftime("%Y-%m"),
            "RowKey": key,
            "kind": str(target.kind),
            "with_photos": target.with_photos,
            "at": now,
            "trigger": trigger,
            "target": self.proof(str(target.kind), target.ids()),
            "removed": json.dumps({r.store: r.removed for r in reports}, sort_keys=True),
            "failures": sum(len(r.failures) for r in reports),
        }
        if requested_by:
            entity["requested_by"] = hmac.new(self.salt(), requested_by.encode(), hashlib.sha256).hexdigest()
        self._table.create_entity(entity)
        return key
