"""Where each job of a batch stands, read from its ``pipelinelogs`` entity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["JobProgress", "JobState", "job_progress"]

_STATE = re.compile(r"^step (\d+): (processing|success|failed)$")


class JobState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    """Rejected or failed for good before its last step: the message is in a poison queue."""


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


def job_progress(entity: Mapping[str, Any]) -> JobProgress:
    steps: list[tuple[int, str, str]] = []
    stopped = False
    for key, value in entity.items():
        if not isinstance(value, str):
            continue
        match = _STATE.match(value)
        if match:
            steps.append((int(match.group(1)), key, match.group(2)))
        elif value.startswith("rejected"):
            stopped = True
            steps.append((10_000, key, value))
    steps.sort()
    exceptions = {k[: -len("_exception")]: v for k, v in entity.items() if k.endswith("_exception")}
    if "job_output" in entity:
        state = JobState.FINISHED
    elif stopped or (steps and steps[-1][2] == "failed"):
        # A failed step whose successor was never enqueued: retried out and poisoned.
        state = JobState.STOPPED
    else:
        state = JobState.RUNNING
    return JobProgress(job_id=str(entity.get("RowKey", "")), state=state,
                       steps={queue: state_ for _, queue, state_ in steps}, exceptions=exceptions)
