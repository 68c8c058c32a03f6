"""Linked content: outputs too big for a table property or a queue message live in blobs.

An output is replaced by ``{"linked_content": "<blob url>"}`` (blob
``largemessages/<batch id>/<job id>/<name>.json``) and expanded again before any classifier sees
``job_output``. A job expands only its own linked content: a URL that is not a blob of this
account under ``largemessages/<its batch>/<its job>/`` is refused, so a message cannot read
another job's outputs (or any other blob) into its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from pipeline.errors import LinkedContentError
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = [
    "LARGEMESSAGES",
    "LINKED_CONTENT_MAX_BYTES",
    "QUEUE_MESSAGE_LIMIT",
    "TABLE_PROPERTY_LIMIT",
    "LinkedContent",
    "fits_queue",
    "fits_table_property",
    "is_link",
    "job_prefix",
]

LARGEMESSAGES = "largemessages"
QUEUE_MESSAGE_LIMIT = 64 * 1024
"""Bytes of a queue message body (raw JSON, UTF-8)."""
TABLE_PROPERTY_LIMIT = 64 * 1024
"""Bytes of a table string property, counted in UTF-16."""
LINKED_CONTENT_MAX_BYTES = 256 * 1024 * 1024


def fits_table_property(text: str) -> bool:
    return len(text.encode("utf-16-le", "surrogatepass")) <= TABLE_PROPERTY_LIMIT


def fits_queue(text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) <= QUEUE_MESSAGE_LIMIT


def is_link(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("linked_content"), str)


def job_prefix(batch_id: str, job_id: str) -> str:
    """The blob-name prefix of one job's artifacts in any container: ``<batch id>/<job id>/``."""
    return f"{batch_id}/{job_id}/"


class LinkedContent:
    """Writes and reads linked content in the ``largemessages`` container of the pipeline's account."""

    def __init__(self, storage: Storage, *, container: str = LARGEMESSAGES) -> None:
        self._storage = storage
        self._container = container

    def link(self, batch_id: str, job_id: str, name: str, value: Any) -> dict[str, str]:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        url = self._storage.upload_blob(self._container, f"{job_prefix(batch_id, job_id)}{name}.json", data,
                                        content_type="application/json")
        return {"linked_content": url}

    def expand(self, value: Any, *, batch_id: str | None = None, job_id: str | None = None) -> Any:
        """The value a link points at, or ``value`` itself. Steps pass the job's batch and id: only
        its own linked content is read; without them (readers of finished results) any of ``largemessages``."""
        if not is_link(value):
            return value
        url = value["linked_content"]
        self._check_own(url, batch_id, job_id)
        try:
            data = self._storage.read_blob_url(url, max_bytes=LINKED_CONTENT_MAX_BYTES)
        except ResourceNotFoundError:
            raise LinkedContentError(f"linked content {one_line(url)} is missing") from None
        except ValueError as e:
            raise LinkedContentError(str(e)) from None
        if data is None:  # _check_own has already refused other accounts
            raise LinkedContentError(f"linked content {one_line(url)} is not in this pipeline's storage account")
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise LinkedContentError(f"linked content {one_line(url)} is not JSON") from None

    def expand_outputs(self, outputs: Mapping[str, Any], *, batch_id: str | None = None,
                       job_id: str | None = None) -> dict[str, Any]:
        return {name: self.expand(value, batch_id=batch_id, job_id=job_id) for name, value in outputs.items()}

    def _check_own(self, url: str, batch_id: str | None, job_id: str | None) -> None:
        prefix = "" if batch_id is None or job_id is None else job_prefix(batch_id, job_id)
        where = f"{self._container}/{prefix}"
        path = self._storage.blob_path(url)
        if path is None:
            raise LinkedContentError(
                f"linked content {one_line(url)} is not a blob of this pipeline's storage account: refused "
                f"(a job's linked content lives under {one_line(where)})")
        container, name = path
        rest = name[len(prefix):] if name.startswith(prefix) else ""
        if container != self._container or not rest or any(p in ("", ".", "..") for p in rest.split("/")):
            raise LinkedContentError(
                f"linked content {one_line(url)} is not this job's own (under {one_line(where)}): refused")
