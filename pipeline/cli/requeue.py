"""``imaginem requeue``: poisoned jobs back on their queues, shown as in progress again; anything else stays put.

A message in a poison queue that is not a job (it failed the same checks a step makes) would only be
poisoned again: it is left where it is and counted, with its reason, so a person can look at it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.errors import JobFormatError
from pipeline.job import Job
from pipeline.job_record import PipelineLog, StepRecord, StepState
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["RequeueReport", "mark_requeued", "requeue"]

_HOLD_SECONDS = 60
"""How long a message being looked at stays invisible; the ones left behind are made visible again at once."""


@dataclass
class RequeueReport:
    moved: int = 0
    left: list[tuple[str, str]] = field(default_factory=list)
    """(poison queue, why its message is not a job) for each message left in place."""


def mark_requeued(log: PipelineLog, job: Job) -> None:
    """The one write to pipelinelogs: the job's step shows ``processing`` again, so its outcome is in progress."""
    log.record(job.batch_id, job.id, StepRecord(queue=job.queue, step=job.processing_step).state(StepState.PROCESSING))


def requeue(*, storage: Storage, log: PipelineLog, queues: Sequence[str],
            parse: Callable[[str], Job]) -> RequeueReport:
    """Move every job of ``<queue>-poison`` back to ``<queue>``; ``parse`` is the job check (JobFormatError)."""
    report = RequeueReport()
    for queue in queues:
        poison, target = storage.queue(f"{queue}-poison"), storage.queue(queue)
        left = []
        while batch := list(poison.receive_messages(max_messages=32, visibility_timeout=_HOLD_SECONDS)):
            for message in batch:
                try:
                    job = parse(message.content)
                except JobFormatError as e:
                    left.append(message)
                    report.left.append((f"{queue}-poison", one_line(e)))
                    continue
                mark_requeued(log, job)  # before the send: the step's own record comes after it
                target.send_message(message.content)
                poison.delete_message(message)
                report.moved += 1
        for message in left:
            poison.update_message(message, visibility_timeout=0)
    return report
