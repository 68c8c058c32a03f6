"""The CLI's progress bar: a batch's jobs followed in ``pipelinelogs`` until each is finished or stopped."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.job_record import JobProgress, JobState, PipelineLog, job_progress

__all__ = ["wait_for_batch"]


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
