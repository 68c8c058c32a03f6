"""Turn files, folders and URLs into jobs and drop them on their first queue."""

from __future__ import annotations

import mimetypes
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import JobConflictError, JobFormatError
from pipeline.job import Job, parse_job
from pipeline.job_record import FINGERPRINT, PIPELINELOGS, PipelineLog, StepRecord, StepState
from pipeline.services import Services

__all__ = ["INPUT_CONTAINER", "IMAGE_SUFFIXES", "Submitter", "new_batch_id"]

INPUT_CONTAINER = "inputimages"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def new_batch_id() -> str:
    return time.strftime("batch-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "image"


@dataclass(frozen=True)
class Submitted:
    job: Job
    source: str


class Submitter:
    """Builds jobs and sends each to the first queue of its pipeline, recorded in pipelinelogs first."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._log = PipelineLog(services.storage.table(PIPELINELOGS))

    def job_from_file(self, path: Path) -> Job:
        try:
            return self._parse(path.read_bytes())
        except JobFormatError as e:
            raise JobFormatError(f"{path}: {e}") from None

    def _parse(self, body: bytes | dict[str, Any]) -> Job:
        settings = self._services.settings
        # Which queues are served is the host's to say (an app may serve its own): the first step checks them.
        return parse_job(body, default_pipeline=settings.pipeline_definition,
                         resolve=self._services.dependencies.resolve, max_steps=settings.max_pipeline_steps)

    def image_job(self, *, image_url: str, batch_id: str, job_id: str, pipeline: Sequence[str],
                  parameters: dict[str, Any]) -> Job:
        return self._parse({
            "job_definition": {
                "id": job_id,
                "batch_id": batch_id,
                "input": {"image_url": image_url, "image_classifiers": [], "image_parameters": parameters},
                "processing_pipeline": list(pipeline),
                "processing_step": 0,
            },
            "job_output": {},
        })

    def upload(self, path: Path, batch_id: str, index: int) -> str:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self._services.storage.upload_blob(INPUT_CONTAINER, f"{batch_id}/{index:04d}-{_slug(path.name)}",
                                                  path.read_bytes(), content_type=content_type)

    def images(self, sources: Iterable[str], *, batch_id: str, pipeline: Sequence[str], first: int = 0) -> list[Job]:
        """Jobs for local images (uploaded to blob storage first), folders of images, and URLs."""
        jobs = []
        for index, (source, is_url) in enumerate(_expand(sources), start=first):
            if is_url:
                url, name = source, source.rstrip("/").rsplit("/", 1)[-1]
            else:
                path = Path(source)
                url, name = self.upload(path, batch_id, index), path.name
            parameters = {"original_name": name, "mime_type": mimetypes.guess_type(name)[0] or "image/unknown"}
            jobs.append(self.image_job(image_url=url, batch_id=batch_id, job_id=f"{index:04d}-{_slug(name)}",
                                       pipeline=pipeline, parameters=parameters))
        return jobs

    def send(self, job: Job) -> None:
        """Claim the job's entity with its fingerprint, record step 0 and send it; a job id already used in
        the batch by another definition is refused (JobConflictError) and that job is left untouched."""
        entity = self._log.claim(job.batch_id, job.id, job.fingerprint)
        if entity.get(FINGERPRINT) != job.fingerprint:
            raise JobConflictError(f"job {job.id!r} of batch {job.batch_id!r} already exists with another "
                                   "definition; choose another id or batch")
        self._log.record(job.batch_id, job.id, StepRecord(queue=job.queue, step=job.processing_step,
                                                          image_url=job.image_url).state(StepState.PROCESSING))
        self._services.storage.queue(job.queue).send_message(job.to_json())


def _expand(sources: Iterable[str]) -> Iterable[tuple[str, bool]]:
    for source in sources:
        if re.match(r"^https?://", source, re.IGNORECASE):
            yield source, True
            continue
        path = Path(source)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(child), False
        elif path.is_file():
            yield str(path), False
        else:
            raise FileNotFoundError(f"{source}: no such file, folder or http(s) URL")


def is_job_file(path: str) -> bool:
    return path.lower().endswith(".json") and Path(path).is_file()
