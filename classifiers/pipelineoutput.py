"""pipelineoutput: the last step; writes the finished job and its outcome to SQL (``pipeline_output`` + labels).

Output::

    {"done": true, "engine": "PostgreSQL", "labels": 12, "outcome": "finished with failures",
     "failed_steps": ["ocr"]}

The outcome (``succeeded`` or ``finished with failures``; ``failed_steps`` only when some did)
is read from the job's recorded steps: its ``pipelinelogs`` entity as the step runner read it when
this step claimed the job (``StepContext.record``), where each earlier step's ``step N: success|failed``
was written before the job was sent on. That record is what ``imaginem status``, ``wait`` and the
dashboard read, so the SQL row always agrees with them, and it knows about failures that leave no
trace in the message (a step that raised adds no output). A step the record has no state for (no
record given, a queue listed twice) is judged from the message: it failed if it left no output.

The classifier holds its worker's ``Database`` (``Services.database``), so messages reuse the connection. When
the server is down or the login fails it raises ``RetryableError``: the step runner records
it in pipelinelogs and the host retries the message, then poisons it.
"""

from __future__ import annotations

from typing import Any

from classifiers.outputs import PipelineOutputOutput
from classifiers.spec import ClassifierSpec
from pipeline.classifier import StepContext
from pipeline.images import Image
from pipeline.job import Job
from pipeline.job_record import JobOutcome, failed_before
from pipeline.services import Services
from pipeline.sql.writer import OutputWriter

__all__ = ["NAME", "SPEC", "PipelineoutputClassifier", "build"]

NAME = "pipelineoutput"


class PipelineoutputClassifier:
    name = NAME
    needs_image = False

    def __init__(self, *, writer: OutputWriter) -> None:
        self._writer = writer

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        failed = failed_before(context.record, job.processing_pipeline, job.processing_step, job.job_output)
        outcome = JobOutcome.FINISHED_WITH_FAILURES if failed else JobOutcome.SUCCEEDED
        written = self._writer.write(job.to_dict(), outcome=outcome.value)
        output: PipelineOutputOutput = {"done": True, "engine": written.engine, "labels": written.labels,
                                        "outcome": outcome.value}
        if failed:
            output["failed_steps"] = failed
        return dict(output)


def build(services: Services) -> PipelineoutputClassifier:
    """SQL_CONNECTION_STRING through pyodbc, else the embedded SQLite file; it connects at the first job."""
    return PipelineoutputClassifier(writer=OutputWriter(database=services.database))


SPEC = ClassifierSpec(name=NAME, needs=(), service=None, needs_image=PipelineoutputClassifier.needs_image,
                      output=PipelineOutputOutput, build=build)
