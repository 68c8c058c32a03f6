"""A queue of the pipeline served by another app (``EXTERNAL_QUEUES``), with this app's own step protocol.

A job's ``processing_pipeline`` may name a queue that this Functions app does not serve, as the
original Imaginem's ``sample`` classifier was served by another app. That app must do what every
step does: record ``step N: success|failed`` and ``<name>_output`` in ``pipelinelogs``, add
``job_output[<name>]`` and send the job to the next queue. ``ExternalQueue`` does it with the same
``StepRunner``; the other app gives a plain function of (job, image, context) and calls ``run_once``
in its own loop, timer or trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.classifier import Output, StepContext
from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from pipeline.untrusted import one_line

__all__ = ["ExternalQueue", "FunctionClassifier"]

_log = logging.getLogger(__name__)


@dataclass(kw_only=True)  # not frozen: the Classifier protocol declares plain attributes
class FunctionClassifier:
    """A plain function seen as a classifier: its queue's name, whether it needs the image, the function."""

    name: str
    needs_image: bool
    function: Callable[[Job, Image | None, StepContext], Output]

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> Output:
        return self.function(job, image, context)


class ExternalQueue:
    """Runs the messages of one queue through ``classify``, one at a time, as a step of the pipeline."""

    def __init__(self, *, services: Services, name: str, classify: Callable[[Job, Image | None, StepContext], Output],
                 needs_image: bool = False, max_dequeue_count: int = 5, lease: int = 300,
                 retry_delay: int = 0) -> None:
        """``services`` reach the pipeline's storage account. A message is hidden for ``lease`` seconds while it
        runs; one that raised is tried again after ``retry_delay`` seconds, up to ``max_dequeue_count`` times,
        then it goes to ``<name>-poison``, as host.json's settings of the same names do for this app."""
        self.name = name
        self._classifier = FunctionClassifier(name=name, needs_image=needs_image, function=classify)
        self._runner = StepRunner(services=services, max_dequeue_count=max_dequeue_count,
                                  served_queues=frozenset({name}))
        self._storage = services.storage
        self._max_dequeue_count = max_dequeue_count
        self._lease = lease
        self._retry_delay = retry_delay

    def run_once(self) -> Outcome | None:
        """Run the next message of the queue; None when it is empty. A message that raises (it is not a job,
        storage failed) returns FAILED and is tried again later, or goes to the poison queue at its last attempt."""
        queue = self._storage.queue(self.name)
        message = next(iter(queue.receive_messages(max_messages=1, visibility_timeout=self._lease)),
                       None)
        if message is None:
            return None
        attempt = message.dequeue_count or 1
        try:
            outcome = self._runner.run(message.content, queue=self.name, classifier=self._classifier,
                                       dequeue_count=attempt)
        except Exception as e:  # the Functions host's contract: retry, then poison
            if attempt >= self._max_dequeue_count:
                self._storage.queue(f"{self.name}-poison").send_message(message.content)
                queue.delete_message(message)
                _log.error("%s: message %s moved to %s-poison after %d attempts: %s", self.name,
                           one_line(message.id), self.name, attempt, one_line(e))
            else:
                queue.update_message(message, visibility_timeout=self._retry_delay)
                _log.warning("%s: message %s failed (attempt %d of %d): %s", self.name, one_line(message.id),
                             attempt, self._max_dequeue_count, one_line(e))
            return Outcome.FAILED
        queue.delete_message(message)
        return outcome
