"""Run one step of a job: parse, expand, run the classifier, record, send the job on.

Chaining lives here and only here: a classifier returns or raises, and this module decides
what is recorded in ``pipelinelogs`` and which queue gets the job next.

At-least-once delivery: the step's result, its output and the next queue's
``step N+1: processing`` are merged into the job's entity *before* the next message is sent,
and a message whose step is already recorded as done is acknowledged without running again.
A redelivery (dequeue count above 1) of a done step whose successor has not started yet is
sent on again, because the first copy may never have left (a crash between merge and send).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from pipeline.classifier import Classifier
from pipeline.errors import ImageFetchError, ImageTooLargeError, JobFormatError, RetryableError
from pipeline.images import Image, ImageFetcher
from pipeline.job import Job, parse_job
from pipeline.linked import LinkedContent, fits_queue, fits_table_property, is_link
from pipeline.logs import PIPELINELOGS, PipelineLog, step_state
from pipeline.services import Services
from pipeline.storage import Storage

__all__ = ["Outcome", "StepRunner", "blob_image_reader", "describe_exception"]

_log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    ALREADY_DONE = "already done"
    RESENT = "resent"


def describe_exception(error: BaseException) -> str:
    """``Type: message``, as recorded in ``<classifier>_exception``."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _done(job: Job, entity: Mapping[str, Any]) -> bool:
    """Whether this step already ran to an end that moved the job on (so a copy must not run again).

    A step that failed for good on a transient error stopped the job (its message went to the poison
    queue): it is not done, so a message requeued from the poison queue runs it again.
    """
    state, step = entity.get(job.queue), job.processing_step
    if state == step_state(step, "success"):
        return True
    if state != step_state(step, "failed"):
        return False
    if job.next_queue is None:
        return "job_output" in entity
    return str(entity.get(job.next_queue, "")).startswith(f"step {step + 1}:")


class StepRunner:
    """Runs steps for every classifier of one process; built once and passed to each trigger."""

    def __init__(
        self,
        *,
        services: Services,
        max_dequeue_count: int,
        fetcher: ImageFetcher | None = None,
        log: PipelineLog | None = None,
        linked: LinkedContent | None = None,
    ) -> None:
        settings = services.settings
        self.services = services
        self._storage = services.storage
        self._max_dequeue_count = max_dequeue_count
        self._fetcher = fetcher or ImageFetcher.from_settings(settings, services.storage)
        self._log = log or PipelineLog(services.storage.table(PIPELINELOGS))
        self._linked = linked or LinkedContent(services.storage)

    def parse(self, body: bytes | str) -> Job:
        settings = self.services.settings
        return parse_job(body, default_pipeline=settings.pipeline_definition,
                         resolve=self.services.dependencies.resolve)

    def run(self, body: bytes | str, *, queue: str, classifier: Classifier, dequeue_count: int = 1) -> Outcome:
        """Process one message from ``queue``. Raises only for messages the host must retry or poison."""
        try:
            job = self.parse(body)
            if job.queue != queue:
                raise JobFormatError(
                    f"message is for {job.queue!r} (processing_step {job.processing_step}) "
                    f"but arrived on {queue!r}"
                )
        except JobFormatError as e:
            _log.error("%s: rejected message (attempt %d of %d): %s",
                       queue, dequeue_count, self._max_dequeue_count, e)
            if dequeue_count >= self._max_dequeue_count:
                self._record_rejection(body, queue, e)
            raise

        entity = self._log.read(job.batch_id, job.id) or {}
        step = job.processing_step
        if _done(job, entity):
            return self._redelivered(job, entity, classifier.name, dequeue_count)

        try:
            output = self._classify(job, classifier)
        except RetryableError as e:
            final = dequeue_count >= self._max_dequeue_count
            _log.warning("%s: job %s attempt %d of %d: %s", queue, job.id, dequeue_count,
                         self._max_dequeue_count, e)
            self._log.merge(job.batch_id, job.id, {
                "image_url": job.image_url,
                queue: step_state(step, "failed" if final else "processing"),
                f"{classifier.name}_exception": describe_exception(e)
                + ("" if final else f" (attempt {dequeue_count} of {self._max_dequeue_count}, will retry)"),
            })
            raise
        except Exception as e:  # a classifier's failure is recorded and the job moves on
            _log.warning("%s: job %s failed: %s", queue, job.id, describe_exception(e))
            self._finish(job, entity, classifier.name, None, describe_exception(e))
            return Outcome.FAILED
        self._finish(job, entity, classifier.name, output, None)
        return Outcome.SUCCESS

    def _classify(self, job: Job, classifier: Classifier) -> dict[str, Any]:
        expanded = job.with_outputs(self._linked.expand_outputs(job.job_output))
        image: Image | None = self._fetcher.fetch(job.image_url) if classifier.needs_image else None
        output = classifier(expanded, image)
        if not isinstance(output, dict):
            raise TypeError(f"{classifier.name} returned {type(output).__name__}, not a dict")
        return output

    def _finish(
        self, job: Job, entity: Mapping[str, Any], name: str, output: dict[str, Any] | None, error: str | None
    ) -> None:
        step = job.processing_step
        record: dict[str, Any] = {
            "image_url": job.image_url,
            job.queue: step_state(step, "failed" if error else "success"),
        }
        if error is not None:
            record[f"{name}_exception"] = error
        else:
            stored: Any = output
            text = json.dumps(output, ensure_ascii=False)
            if not fits_table_property(text):
                stored = self._linked.link(job.id, name, output)
                text = json.dumps(stored)
            record[f"{name}_output"] = text
            job = job.with_output(name, stored)

        next_queue = job.next_queue
        if next_queue is None:
            final = job.to_json()
            if not fits_table_property(final):
                final = json.dumps(self._linked.link(job.id, "job_output", job.to_dict()))
            record["job_output"] = final
            self._log.merge(job.batch_id, job.id, record)
            _log.info("%s: job %s finished (%s)", job.queue, job.id, record[job.queue])
            return
        if not str(entity.get(next_queue, "")).startswith(f"step {step + 1}:"):
            record[next_queue] = step_state(step + 1, "processing")
        message = self._fit_queue(job.advanced())
        self._log.merge(job.batch_id, job.id, record)
        self._storage.queue(next_queue).send_message(message)
        _log.info("%s: job %s %s, sent to %s", job.queue, job.id, record[job.queue], next_queue)

    def _redelivered(self, job: Job, entity: Mapping[str, Any], name: str, dequeue_count: int) -> Outcome:
        next_queue = job.next_queue
        started = next_queue is not None and entity.get(next_queue) != step_state(job.processing_step + 1,
                                                                                  "processing")
        if next_queue is None or started or dequeue_count <= 1:
            _log.info("%s: job %s step %d already done; acknowledged", job.queue, job.id, job.processing_step)
            return Outcome.ALREADY_DONE
        # The earlier attempt recorded its result but may have died before sending: send it again.
        stored = entity.get(f"{name}_output")
        if stored is not None:
            job = job.with_output(name, json.loads(stored))
        self._storage.queue(next_queue).send_message(self._fit_queue(job.advanced()))
        _log.warning("%s: job %s redelivered after its step was recorded; sent on to %s again",
                     job.queue, job.id, next_queue)
        return Outcome.RESENT

    def _fit_queue(self, job: Job) -> str:
        """The message text, with the largest outputs moved to blobs until it fits a queue message."""
        message = job.to_json()
        while not fits_queue(message):
            candidates = [(len(json.dumps(v)), k) for k, v in job.job_output.items() if not is_link(v)]
            if not candidates:
                raise JobFormatError(f"job {job.id} is too large for a queue message even with linked content")
            _, largest = max(candidates)
            job = job.with_output(largest, self._linked.link(job.id, largest, job.job_output[largest]))
            message = job.to_json()
        return message

    def _record_rejection(self, body: bytes | str, queue: str, error: JobFormatError) -> None:
        """Best effort: when the message names its job, say in pipelinelogs why it was poisoned."""
        try:
            message = json.loads(body) if isinstance(body, (str, bytes)) else None
            definition = message.get("job_definition") if isinstance(message, dict) else None
            if not isinstance(definition, dict):
                return
            job_id, batch_id = definition.get("id"), definition.get("batch_id", "default")
            step = definition.get("processing_step", 0)
            if isinstance(job_id, str) and isinstance(batch_id, str) and job_id and batch_id:
                self._log.merge(batch_id, job_id, {
                    queue: step_state(step if isinstance(step, int) else 0, "failed"),
                    f"{queue}_exception": describe_exception(error) + f" (moved to {queue}-poison)",
                })
        except Exception:  # the message is already broken; the poison queue and the log keep it
            _log.debug("could not record the rejection of a message on %s", queue, exc_info=True)


def blob_image_reader(storage: Storage) -> Any:
    def read(url: str, max_bytes: int) -> bytes | None:
        try:
            return storage.read_blob_url(url, max_bytes)
        except ResourceNotFoundError:
            raise ImageFetchError(f"blob {url} does not exist") from None
        except ValueError as e:
            raise ImageTooLargeError(str(e)) from None

    return read
