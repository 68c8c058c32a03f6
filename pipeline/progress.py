"""Where each job of a batch stands, read from its ``pipelinelogs`` entity."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.logs import PipelineLog

__all__ = ["JobOutcome", "JobProgress", "JobState", "job_progress", "wait_for_batch"]

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
    """queue → its state, in step order."""
    exceptions: dict[str, str]

    @property
    def errors(self) -> int:
        return len(self.exceptions)

    @property
    def outcome(self) -> JobOutcome:
        if self.state == JobState.RUNNING:
            return JobOutcome.IN_PROGRESS
        if self.state == JobState.STOPPED:
            return JobOutcome.STOPPED
        if self.exceptions or any(s == "failed" for s in self.steps.values()):
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
                       steps={queue: state_ for _, queue, state_ in steps}, exceptions=exceptions)


def wait_for_batch(log: PipelineLog, batch_id: str, *, timeout: float, interval: float = 0.5,
                   console: Console | None = None, expected: int = 0) -> list[JobProgress] | None:
    """Show a progress bar until every job of the batch is finished or stopped; None on timeout."""
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console or Console(stderr=True)) as bar:
        task = bar.add_task(batch_id, total=None)
        while True:
            jobs = [job_progress(e) for e in log.batch(batch_id)]
            done = [j for j in jobs if j.state != JobState.RUNNING]
            bar.update(task, total=max(len(jobs), expected) or None, completed=len(done),
                       description=f"{batch_id} ({sum(j.errors for j in jobs)} exception(s))")
            if jobs and len(done) == len(jobs) >= expected:
                return jobs
            if time.monotonic() > deadline:
                return None
            time.sleep(interval)
