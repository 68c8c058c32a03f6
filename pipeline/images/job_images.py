"""A step's image: from this process's decoded images, the job's working copy, or its image_url.

The first image step of a job that fetches from outside the storage account keeps the bytes as the
job's working copy (``pipeline.images.working_copy``) when more steps follow; later steps read that copy,
and a step in the same worker as an earlier one of its job takes the decoded image from memory
(``pipeline.images.cache``). A working copy that cannot be read or does not decode is logged and the
original fetched again. Errors getting the original itself are the fetcher's ``ImageError``s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipeline.errors import ImageError
from pipeline.images.cache import DecodedImages, ImageKey
from pipeline.images.image import Image, ImageFetcher
from pipeline.images.working_copy import WORKING_COPY, WorkingCopies
from pipeline.job import Job
from pipeline.untrusted import one_line

__all__ = ["JobImages"]

_log = logging.getLogger(__name__)


def _key(job: Job) -> ImageKey:
    return job.batch_id, job.id, job.image_url


class JobImages:
    """Gets each step its job's image, fetching from outside once per job and decoding once per process."""

    def __init__(self, *, fetcher: ImageFetcher, copies: WorkingCopies, cache: DecodedImages) -> None:
        self._fetcher = fetcher
        self._copies = copies
        self._cache = cache

    def get(self, job: Job, entity: Mapping[str, Any], record: dict[str, Any]) -> Image:
        """The job's image; a working copy this step made is added to ``record`` (the step's own merge)."""
        cached = self._cache.get(_key(job))
        if cached is not None:
            return cached
        copy_url = entity.get(WORKING_COPY)
        if isinstance(copy_url, str) and copy_url:
            data = self._copies.read(copy_url, batch_id=job.batch_id, job_id=job.id)
            if data is not None:
                try:
                    return self._fetcher.decode(data, url=job.image_url)
                except ImageError as e:
                    _log.warning("job %s: its working copy is damaged (%s); fetching the original again",
                                 one_line(job.id), one_line(e))
            _log.info("job %s: fetching its original image again", one_line(job.id))
        data = self._fetcher.read(job.image_url, batch_id=job.batch_id)
        image = self._fetcher.decode(data, url=job.image_url)
        if job.next_queue is not None and self._fetcher.is_outside(job.image_url):
            stored = self._copies.store(job.batch_id, job.id, data, format=image.format)
            if stored is not None:
                record[WORKING_COPY] = stored
        return image

    def keep(self, job: Job, image: Image) -> None:
        """Hand the image back after the step, with the copies it made, for the job's next steps here."""
        if job.next_queue is not None:  # the job's last step: nobody will ask for it again
            self._cache.put(_key(job), image)
