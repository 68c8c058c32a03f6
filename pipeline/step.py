"""Run one step of a job: parse, expand, run the classifier, record, send the job on.

Chaining lives here and only here: a classifier returns or raises, and this module decides
what is recorded in ``pipelinelogs`` and which queue gets the job next.

At-least-once delivery: the step's result, its output and the next queue's
``step N+1: processing`` are merged into the job's entity *before* the next message is sent,
and a message whose step is already recorded as done is acknowledged without running again.
A redelivery (dequeue count above 1) of a done step whose successor has not started yet is
sent on again, because the first copy may never have left (a crash between merge and send).

One job, one definition: the first step claims the entity with the job's fingerprint, and a
message naming the same batch and id with another definition is refused without writing into
that entity. The first failure to get the image is recorded once (``image_error``); later image
steps of the job are skipped at once, each saying in one line which step could not get the image,
instead of fetching again (and so are the steps that need a skipped step's output). An image fetched from
outside is fetched once per job (its working copy, ``working_copy``) and decoded once per worker
process while its job's steps follow each other there (``pipeline.images.job_images``).

Each step also records how long its parts took (``<classifier>_timings``, see ``pipeline.timings``)
in its own merge. What a step records, and in which words, is ``pipeline.job_record``'s to say.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Container, Mapping
from enum import StrEnum
from typing import Any

from pipeline.classifier import Classifier, StepContext
from pipeline.errors import (
    DependencyFailedError,
    DependencySkippedError,
    ImageError,
    ImageUnavailableError,
    JobConflictError,
    JobFormatError,
    MissingDependencyError,
    RetryableError,
)
from pipeline.forget.tombstones import FORGOTTEN_TABLE, Tombstones
from pipeline.images import Image, ImageFetcher
from pipeline.images.cache import DecodedImages
from pipeline.images.job_images import JobImages
from pipeline.images.working_copy import WorkingCopies
from pipeline.job import Job, identify, parse_job
from pipeline.job_record import (
    FINGERPRINT,
    PIPELINELOGS,
    PipelineLog,
    StepRecord,
    StepState,
    describe_exception,
    finished_message,
    image_skip,
    is_skipped,
    recorded_exception,
    recorded_output,
    skipped_like,
    state_is,
    step_reached,
)
from pipeline.linked import LinkedContent, fits_queue, fits_table_property, is_link
from pipeline.services import Services
from pipeline.timings import StepTimer
from pipeline.untrusted import one_line

__all__ = ["Outcome", "StepRunner"]

_log = logging.getLogger(__name__)

_LINK_WORTH = 300
"""Outputs whose JSON is shorter than this are not moved to a blob: the link would be about as long."""


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    ALREADY_DONE = "already done"
    RESENT = "resent"
    FORGOTTEN = "forgotten"


def _done(job: Job, entity: Mapping[str, Any]) -> bool:
    """Whether this step already ran to an end that moved the job on (so a copy must not run again).

    A step that failed for good on a transient error stopped the job (its message went to the poison
    queue): it is not done, so a message requeued from the poison queue runs it again.
    """
    step = job.processing_step
    if state_is(entity, job.queue, step, StepState.SUCCESS):
        return True
    if not state_is(entity, job.queue, step, StepState.FAILED):
        return False
    if job.next_queue is None:
        return finished_message(entity) is not None
    return step_reached(entity, job.next_queue, step + 1)


class StepRunner:
    """Runs steps for every classifier of one process; built once and passed to each trigger."""

    def __init__(
        self,
        *,
        services: Services,
        max_dequeue_count: int,
        fetcher: ImageFetcher | None = None,
        images: JobImages | None = None,
        log: PipelineLog | None = None,
        linked: LinkedContent | None = None,
        served_queues: Container[str] = frozenset(),
    ) -> None:
        """``served_queues``: queues this app serves besides the classifiers of dependencies.json and
        ``EXTERNAL_QUEUES`` (each ``classifier_blueprint`` adds its own); a pipeline naming any other
        queue is rejected. ``images`` defaults to the ``fetcher``, the working copies of the storage
        account and a cache of decoded images of this runner's own, of ``IMAGE_CACHE_BYTES``."""
        settings = services.settings
        self.services = services
        self._storage = services.storage
        self._max_dequeue_count = max_dequeue_count
        self._fetcher = fetcher or ImageFetcher.from_settings(settings, services.storage)
        self._images = images or JobImages(
            fetcher=self._fetcher,
            copies=WorkingCopies(storage=services.storage, max_bytes=settings.image_max_bytes),
            cache=DecodedImages(max_bytes=settings.image_cache_bytes))
        self._log = log or PipelineLog(services.storage.table(PIPELINELOGS))
        self._linked = linked or LinkedContent(services.storage)
        self._queues = {*services.dependencies.classifiers, *settings.external_queues}
        self._served = served_queues
        self._tombstones = Tombstones(table=services.storage.table(FORGOTTEN_TABLE))

    def serve(self, queue: str) -> None:
        """Say that this app serves ``queue`` (a trigger of the app listens on it)."""
        self._queues.add(queue)

    def knows_queue(self, name: str) -> bool:
        """Whether somebody serves the queue: a classifier, an external queue or one of this app's."""
        return name in self._queues or name in self._served

    def parse(self, body: bytes | str) -> Job:
        settings = self.services.settings
        return parse_job(body, default_pipeline=settings.pipeline_definition,
                         resolve=self.services.dependencies.resolve, known_queue=self.knows_queue,
                         max_steps=settings.max_pipeline_steps)

    def run(self, body: bytes | str, *, queue: str, classifier: Classifier, dequeue_count: int = 1) -> Outcome:
        """Process one message from ``queue``. Raises only for messages the host must retry or poison."""
        timer = StepTimer()
        try:
            job = self.parse(body)
            if job.queue != queue:
                raise JobFormatError(
                    f"message is for {job.queue!r} (processing_step {job.processing_step}) "
                    f"but arrived on {queue!r}"
                )
        except JobFormatError as e:
            _log.error("%s: rejected message (attempt %d of %d): %s",
                       queue, dequeue_count, self._max_dequeue_count, one_line(e))
            if dequeue_count >= self._max_dequeue_count:
                self._record_rejection(body, queue, e)
            raise
        if self._tombstones.forgotten(job.batch_id, job.id):  # forgotten: no work, no writes, acknowledged
            _log.info("%s: job %s was forgotten; message dropped", queue, one_line(job.id))
            return Outcome.FORGOTTEN

        entity = self._log.claim(job.batch_id, job.id, job.fingerprint)
        if entity.get(FINGERPRINT) != job.fingerprint:
            _log.error("%s: refused a message naming job %s of batch %s, which is recorded with another "
                       "definition (attempt %d of %d)", queue, one_line(job.id), one_line(job.batch_id),
                       dequeue_count, self._max_dequeue_count)
            raise JobConflictError(
                f"job {job.id!r} of batch {job.batch_id!r} is already recorded with another definition "
                f"(fingerprint {str(entity.get(FINGERPRINT))[:12]}…, this message {job.fingerprint[:12]}…): "
                "refused; give the new job an id of its own"
            )
        step = job.processing_step
        if _done(job, entity):
            return self._redelivered(job, entity, classifier.name, dequeue_count)

        record = StepRecord(queue=job.queue, step=step, image_url=job.image_url)
        try:
            image = self._image(job, classifier, entity, record, timer)
            output = self._classify(job, classifier, image, timer, StepContext(record=entity))
        except RetryableError as e:
            final = dequeue_count >= self._max_dequeue_count
            _log.warning("%s: job %s attempt %d of %d: %s", queue, one_line(job.id), dequeue_count,
                         self._max_dequeue_count, one_line(e))
            record.state(StepState.FAILED if final else StepState.PROCESSING)
            record.exception(classifier.name, describe_exception(e) + (
                "" if final else f" (attempt {dequeue_count} of {self._max_dequeue_count}, will retry)"))
            self._log.record(job.batch_id, job.id, record.timings(classifier.name, timer.to_json()))
            raise
        except Exception as e:  # a classifier's failure is recorded and the job moves on
            if isinstance(e, MissingDependencyError):
                e = _explained(e, job, entity)
            _log.warning("%s: job %s failed: %s", queue, one_line(job.id), one_line(describe_exception(e)))
            self._finish(job, entity, classifier.name, None, describe_exception(e), record, timer)
            return Outcome.FAILED
        self._finish(job, entity, classifier.name, output, None, record, timer)
        return Outcome.SUCCESS

    def _image(self, job: Job, classifier: Classifier, entity: Mapping[str, Any],
               record: StepRecord, timer: StepTimer) -> Image | None:
        """The image for a classifier that needs it; a new working copy or the first failure is kept in ``record``."""
        if not classifier.needs_image:
            return None
        skipped = image_skip(entity)
        if skipped:
            raise ImageUnavailableError(skipped)
        try:
            with timer.phase("fetch_ms"):
                return self._images.get(job, entity, record.properties)
        except ImageError as e:
            record.image_error(describe_exception(e))
            raise

    def _classify(self, job: Job, classifier: Classifier, image: Image | None, timer: StepTimer,
                  context: StepContext) -> dict[str, Any]:
        expanded = job.with_outputs(self._linked.expand_outputs(job.job_output, batch_id=job.batch_id,
                                                                job_id=job.id))
        decoded_before = image.decode_ms if image is not None else 0.0
        try:
            with timer.phase("model_ms"):
                output = classifier(expanded, image, context)
        finally:
            if image is not None:
                timer.add("decode_ms", image.decode_ms - decoded_before)
                self._images.keep(job, image)
        if not isinstance(output, dict):
            raise TypeError(f"{classifier.name} returned {type(output).__name__}, not a dict")
        return output

    def _finish(
        self, job: Job, entity: Mapping[str, Any], name: str, output: dict[str, Any] | None, error: str | None,
        record: StepRecord, timer: StepTimer,
    ) -> None:
        step = job.processing_step
        record.state(StepState.FAILED if error else StepState.SUCCESS)
        if error is not None:
            record.exception(name, error)
        else:
            stored: Any = output
            text = json.dumps(output, ensure_ascii=False)
            if not fits_table_property(text):
                stored = self._linked.link(job.batch_id, job.id, name, output)
                text = json.dumps(stored)
            record.output(name, text)
            job = job.with_output(name, stored)

        next_queue = job.next_queue
        if next_queue is None:
            final = job.to_json()
            if not fits_table_property(final):
                final = json.dumps(self._linked.link(job.batch_id, job.id, "job_output", job.to_dict()))
            self._log.record(job.batch_id, job.id, record.finished(final).timings(name, timer.to_json()))
            _log.info("%s: job %s finished (%s)", job.queue, one_line(job.id), record.current_state)
            return
        try:
            message = self._fit_queue(job.advanced())
        except JobFormatError as e:  # nothing can carry it on: say so in its entity, then let it be poisoned
            self._log.record(job.batch_id, job.id,
                             record.state(StepState.FAILED).exception(name, describe_exception(e)))
            raise
        if not step_reached(entity, next_queue, step + 1):
            record.next_step(next_queue)
        # The timings ride in the step's own merge: one table transaction per step, not two.
        self._log.record(job.batch_id, job.id, record.timings(name, timer.to_json()))
        self._storage.queue(next_queue).send_message(message)
        _log.info("%s: job %s %s, sent to %s", job.queue, one_line(job.id), record.current_state, next_queue)

    def _redelivered(self, job: Job, entity: Mapping[str, Any], name: str, dequeue_count: int) -> Outcome:
        next_queue = job.next_queue
        started = next_queue is not None and not state_is(entity, next_queue, job.processing_step + 1,
                                                              StepState.PROCESSING)
        if next_queue is None or started or dequeue_count <= 1:
            _log.info("%s: job %s step %d already done; acknowledged", job.queue, one_line(job.id),
                      job.processing_step)
            return Outcome.ALREADY_DONE
        # The earlier attempt recorded its result but may have died before sending: send it again.
        stored = recorded_output(entity, name)
        if stored is not None:
            job = job.with_output(name, stored)
        self._storage.queue(next_queue).send_message(self._fit_queue(job.advanced()))
        _log.warning("%s: job %s redelivered after its step was recorded; sent on to %s again",
                     job.queue, one_line(job.id), next_queue)
        return Outcome.RESENT

    def _fit_queue(self, job: Job) -> str:
        """The message text, with the largest outputs moved to blobs until it fits a queue message."""
        message = job.to_json()
        while not fits_queue(message):
            candidates = [(size, k) for k, v in job.job_output.items()
                          if not is_link(v) and (size := len(json.dumps(v))) >= _LINK_WORTH]
            if not candidates:
                raise JobFormatError(
                    f"job {job.id!r} is too large for a queue message even with linked content "
                    f"({len(message.encode('utf-8', 'surrogatepass'))} bytes)"
                )
            _, largest = max(candidates)
            job = job.with_output(largest, self._linked.link(job.batch_id, job.id, largest, job.job_output[largest]))
            message = job.to_json()
        return message

    def _record_rejection(self, body: bytes | str, queue: str, error: JobFormatError) -> None:
        """Best effort: when the message names its job, say in pipelinelogs why it was poisoned,
        unless that entity belongs to a job with another definition (then only the host log says it)."""
        try:
            named = identify(body)
            if named is None:
                return
            entity = self._log.read(named.batch_id, named.job_id) or {}
            if entity.get(FINGERPRINT) not in (None, "", named.fingerprint):
                _log.error("%s: the rejected message names job %s of batch %s, which is recorded with another "
                           "definition: not written into its entity", queue, one_line(named.job_id),
                           one_line(named.batch_id))
                return
            record = StepRecord(queue=queue, step=named.step)
            record.exception(queue, describe_exception(error) + f" (moved to {queue}-poison)")
            if not state_is(entity, queue, named.step, StepState.SUCCESS):
                record.state(StepState.FAILED)
            self._log.record(named.batch_id, named.job_id, record)
        except Exception:  # the message is already broken; the poison queue and the log keep it
            _log.debug("could not record the rejection of a message on %s", queue, exc_info=True)


def _explained(error: MissingDependencyError, job: Job, entity: Mapping[str, Any]) -> MissingDependencyError:
    """A missing output whose classifier ran earlier in this job and failed: say so, with its reason
    (or, when that classifier was skipped because of an earlier failure, skipped for the same cause)."""
    reason = recorded_exception(entity, error.needs)
    earlier = job.processing_pipeline[: job.processing_step]
    if type(error) is MissingDependencyError and reason and error.needs in earlier:
        if is_skipped(reason):
            return DependencySkippedError(error.classifier, error.needs, skipped_like(reason))
        return DependencyFailedError(error.classifier, error.needs, reason)
    return error
