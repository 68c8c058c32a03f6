"""pipelineoutput: the last step; writes the finished job and its outcome to SQL (``pipeline_output`` + labels).

Output::

    {"done": true, "engine": "PostgreSQL", "labels": 12, "outcome": "finished with failures",
     "failed_steps": ["ocr"]}

The outcome (``succeeded`` or ``finished with failures``; ``failed_steps`` only when some did)
is read from the job's recorded steps: its ``pipelinelogs`` entity, where the step runner wrote
each earlier step's ``step N: success|failed`` before sending the job on. That record is what
``imaginem status``, ``wait`` and the dashboard read, so the SQL row always agrees with them, and
it knows about failures that leave no trace in the message (a step that raised adds no output).
A step the entity has no state for (the entity unreadable, a queue listed twice) is judged from
the message: it failed if it left no output.

The classifier holds its worker's ``Database`` (``Services.database``), so messages reuse the connection. When
the server is down or the login fails it raises ``RetryableError``: the step runner records
it in pipelinelogs and the host retries the message, then poisons it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError

from classifiers.outputs import PipelineOutputOutput
from classifiers.spec import ClassifierSpec
from pipeline.images import Image
from pipeline.job import Job
from pipeline.logs import PIPELINELOGS, PipelineLog
from pipeline.progress import JobOutcome, failed_before
from pipeline.services import Services
from pipeline.sql.writer import OutputWriter

__all__ = ["NAME", "SPEC", "PipelineoutputClassifier", "build"]

NAME = "pipelineoutput"

_log = logging.getLogger(__name__)


class PipelineoutputClassifier:
    name = NAME
    needs_image = False

    def __init__(self, *, writer: OutputWriter, log: PipelineLog | None = None) -> None:
        self._writer = writer
        self._log = log

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        failed = failed_before(self._entity(job), job.processing_pipeline, job.processing_step, job.job_output)
        outcome = JobOutcome.FINISHED_WITH_FAILURES if failed else JobOutcome.SUCCEEDED
        written = self._writer.write(job.to_dict(), outcome=outcome.value)
        output: dict[str, Any] = {"done": True, "engine": written.engine, "labels": written.labels,
                                  "outcome": outcome.value}
        if failed:
            output["failed_steps"] = failed
        return output

    def _entity(self, job: Job) -> Mapping[str, Any]:
        if self._log is None:
            return {}
        try:
            return self._log.read(job.batch_id, job.id) or {}
        except AzureError as e:  # the message still tells which steps left no output
            _log.warning("pipelineoutput %s/%s: pipelinelogs unreadable (%s); outcome from the message",
                         job.batch_id, job.id, type(e).__name__)
            return {}


def build(services: Services) -> PipelineoutputClassifier:
    """SQL_CONNECTION_STRING through pyodbc, else the embedded SQLite file; it connects at the first job."""
    log = PipelineLog(services.storage.table(PIPELINELOGS, create=False))
    return PipelineoutputClassifier(writer=OutputWriter(database=services.database), log=log)


SPEC = ClassifierSpec(name=NAME, needs=(), service=None, needs_image=PipelineoutputClassifier.needs_image,
                      output=PipelineOutputOutput, build=build)
