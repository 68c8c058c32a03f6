"""Linked content: outputs too big for a table property or a queue message live in blobs.

An output is replaced by ``{"linked_content": "<blob url>"}`` (blob ``largemessages/<job id>/<name>.json``)
and expanded again before any classifier sees ``job_output``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from pipeline.errors import ClassifierError
from pipeline.storage import Storage

__all__ = [
    "LARGEMESSAGES",
    "QUEUE_MESSAGE_LIMIT",
    "TABLE_PROPERTY_LIMIT",
    "LinkedContent",
    "fits_queue",
    "fits_table_property",
    "is_link",
]

LARGEMESSAGES = "largemessages"
QUEUE_MESSAGE_LIMIT = 64 * 1024
"""Bytes of a queue message body (raw JSON, UTF-8)."""
TABLE_PROPERTY_LIMIT = 64 * 1024
"""Bytes of a table string property, counted in UTF-16."""


def fits_table_property(text: str) -> bool:
    return len(text.encode("utf-16-le", "surrogatepass")) <= TABLE_PROPERTY_LIMIT


def fits_queue(text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) <= QUEUE_MESSAGE_LIMIT


def is_link(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("linked_content"), str)


class LinkedContent:
    """Writes and reads linked content in the ``largemessages`` container of the pipeline's account."""

    def __init__(self, storage: Storage, *, container: str = LARGEMESSAGES) -> None:
        self._storage = storage
        self._container = container

    def link(self, job_id: str, name: str, value: Any) -> dict[str, str]:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        url = self._storage.upload_blob(self._container, f"{job_id}/{name}.json", data,
                                        content_type="application/json")
        return {"linked_content": url}

    def expand(self, value: Any) -> Any:
        if not is_link(value):
            return value
        url = value["linked_content"]
        try:
            data = self._storage.read_blob_url(url, max_bytes=256 * 1024 * 1024)
        except ResourceNotFoundError:
            raise ClassifierError(f"linked content {url} is missing") from None
        if data is None:
            raise ClassifierError(f"linked content {url} is not in this pipeline's storage account")
        return json.loads(data)

    def expand_outputs(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self.expand(value) for name, value in outputs.items()}
