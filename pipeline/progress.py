"""Where each job of a batch stands, and its outcome, read from its ``pipelinelogs`` entity.

A job's outcome (DESIGN.md) comes from the recorded state of each step (``step N: success`` or
``failed``), not from its ``_exception`` properties: an exception of an attempt that was then
retried, or of a poisoned step that ran again once requeued, stays in the entity after success.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.job_record import PipelineLog, step_state

__all__ = ["JobOutcome", "JobProgress", "JobState", "failed_before", "job_progress", "wait_for_batch"]

_STATE = re.compile(r"^step (\d+): (processing|success|failed)$")


class JobState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    """Failed for good before its last step (rejected or retried out): the message is in a poison queue."""


class JobOutcome(StrEnum):
    """A job's outcome as the CLI, the dashboard and the SQL row show it (DESIGN.md, pipelinelogs)."""

    SUCCEEDED = "succeeded"
    """Every step succeeded."""
    FINISHED_WITH_FAILURES = "finished with failures"
    """It reached its last step; some steps failed."""
    STOPPED = "stopped"
    """A message went to a poison queue."""
    IN_PROGRESS = "in progress"


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    state: JobState
    steps: dict[str, str]
    """queue → its state (processing, success, failed), in step order."""
    exceptions: dict[str, str]
    batch_id: str = ""

    @property
    def errors(self) -> int:
        return len(self.exceptions)

    @property
    def failed_steps(self) -> list[str]:
        """The queues whose step is recorded as failed, in step order."""
        return [queue for queue, state in self.steps.items() if state == "failed"]

    @property
    def outcome(self) -> JobOutcome:
        if self.state == JobState.RUNNING:
            return JobOutcome.IN_PROGRESS
        if self.state == JobState.STOPPED:
            return JobOutcome.STOPPED
        if self.failed_steps:
            return JobOutcome.FINISHED_WITH_FAILURES
        return JobOutcome.SUCCEEDED


def job_progress(entity: Mapping[str, Any]) -> JobProgress:
    steps: list[tuple[int, str, str]] = []
    for key, value in entity.items():
        match = _STATE.match(value) if isinstance(value, str) else None
        if match:
            steps.append((int(match.group(1)), key, match.group(2)))
    steps.sort()
    exceptions = {k[: -len("_exception")]: v for k, v in entity.items() if k.endswith("_exception")}
    if "job_output" in entity:
        state = JobState.FINISHED
    elif steps and steps[-1][2] == "failed":
        # A failed step whose successor was never enqueued: retried out and poisoned.
        state = JobState.STOPPED
    else:
        state = JobState.RUNNING
    return JobProgress(job_id=str(entity.get("RowKey", "")), state=state,
                       steps={queue: state_ for _, queue, state_ in steps}, exceptions=exceptions,
                       batch_id=str(entity.get("PartitionKey", "")))


def failed_before(entity: Mapping[str, Any], pipeline: Sequence[str], step: int,
                  outputs: Mapping[str, Any]) -> list[str]:
    """The queues before ``step`` whose step failed, as the last step sees them (pipelineoutput).

    The entity's ``step N: success|failed`` decides; a step it holds no state for (a queue that
    appears twice, an entity that could not be read) failed when it left no output in the message.
    """
    failed = []
    for index, queue in enumerate(pipeline[:step]):
        state = entity.get(queue)
        if state == step_state(index, "failed"):
            failed.append(queue)
        elif state != step_state(index, "success") and queue not in outputs:
            failed.append(queue)
    return failed


def wait_for_batch(log: PipelineLog, batch_id: str, *, timeout: float, interval: float = 0.5,
                   console: Console | None = None, expected: int = 0,
                   grace: float | None = None) -> list[JobProgress] | None:
    """Show a progress bar until every job of the batch is finished or stopped.

    Returns the jobs; None on timeout; [] when the batch has no job at all after ``grace`` seconds
    (or at the timeout): an unknown batch, or one whose jobs were never submitted.
    """
    began = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console or Console(stderr=True)) as bar:
        task = bar.add_task(batch_id, total=None)
        while True:
            jobs = [job_progress(e) for e in log.batch(batch_id)]
            done = [j for j in jobs if j.state != JobState.RUNNING]
            failed = sum(len(j.failed_steps) for j in jobs)
            bar.update(task, total=max(len(jobs), expected) or None, completed=len(done),
                       description=f"{batch_id} ({failed} failed step(s))")
            if jobs and len(done) == len(jobs) >= expected:
                return jobs
            waited = time.monotonic() - began
            if not jobs and waited > min(timeout, grace if grace is not None else timeout):
                return []
            if waited > timeout:
                return None
            time.sleep(interval)
