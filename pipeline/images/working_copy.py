"""Working copies: the exact bytes a job's first image step fetched from outside, kept for its later steps.

An image_url outside the pipeline's storage account is fetched once per job: the step that fetched
it writes the bytes to the private blob ``workingcopies/<batch id>/<job id>/original`` and records
its URL in the job's entity (``working_copy``); later image steps read that blob instead of the URL.
The original stays the image of record (``image_url``). A step reads only its own job's working
copy: any other URL is refused, and a refused, missing or oversized copy reads as none (the step then
fetches the original again).
"""

from __future__ import annotations

import logging

import PIL.Image
from azure.core.exceptions import AzureError, ResourceNotFoundError

from pipeline.linked import job_prefix
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["WORKINGCOPIES", "WORKING_COPY", "WorkingCopies"]

_log = logging.getLogger(__name__)

WORKINGCOPIES = "workingcopies"
WORKING_COPY = "working_copy"
"""The ``pipelinelogs`` property holding the URL of the job's working copy."""
_NAME = "original"


class WorkingCopies:
    """Writes and reads jobs' working copies in the ``workingcopies`` container of the pipeline's account."""

    def __init__(self, *, storage: Storage, max_bytes: int, container: str = WORKINGCOPIES) -> None:
        self._storage = storage
        self._max_bytes = max_bytes
        self._container = container

    def blob_name(self, batch_id: str, job_id: str) -> str:
        return f"{job_prefix(batch_id, job_id)}{_NAME}"

    def store(self, batch_id: str, job_id: str, data: bytes, *, format: str) -> str | None:
        """Write the job's working copy and return its URL; None (logged) when storage refuses it."""
        content_type = PIL.Image.MIME.get(format.upper(), "application/octet-stream")
        try:
            return self._storage.upload_blob(self._container, self.blob_name(batch_id, job_id), data,
                                             content_type=content_type)
        except AzureError as e:  # the job goes on without one: later steps fetch the original
            _log.warning("job %s of batch %s: could not store its working copy: %s", one_line(job_id),
                         one_line(batch_id), one_line(e, 200))
            return None

    def read(self, url: str, *, batch_id: str, job_id: str) -> bytes | None:
        """The bytes of the job's own working copy at ``url``; None (logged) if refused, missing or too large."""
        own = (self._container, self.blob_name(batch_id, job_id))
        if self._storage.blob_path(url) != own:
            _log.warning("job %s of batch %s: working copy %s is not the job's own (%s/%s): refused",
                         one_line(job_id), one_line(batch_id), one_line(url), *map(one_line, own))
            return None
        try:
            # One request, not properties then data: the copy was written bounded by IMAGE_MAX_BYTES.
            download = self._storage.container(self._container).get_blob_client(own[1]).download_blob()
            if download.size > self._max_bytes:
                _log.warning("job %s of batch %s: its working copy is %s bytes, over %s (IMAGE_MAX_BYTES): "
                             "refused", one_line(job_id), one_line(batch_id), download.size, self._max_bytes)
                return None
            return download.readall()
        except ResourceNotFoundError:
            _log.warning("job %s of batch %s: its working copy %s is missing", one_line(job_id),
                         one_line(batch_id), one_line(url))
        return None
