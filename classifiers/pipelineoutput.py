"""pipelineoutput: the last step; writes the finished job to SQL (``pipeline_output`` + labels).

Output::

    {"done": true, "engine": "PostgreSQL", "labels": 12}

The classifier holds one ``Database`` for its worker, so messages reuse the connection. When
the server is down or the login fails it raises ``RetryableError``: the step runner records
it in pipelinelogs and the host retries the message, then poisons it.
"""

from __future__ import annotations

from typing import Any

from pipeline.images import Image
from pipeline.job import Job
from pipeline.services import Services
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter

__all__ = ["NAME", "PipelineoutputClassifier", "build"]

NAME = "pipelineoutput"


class PipelineoutputClassifier:
    name = NAME
    needs_image = False

    def __init__(self, *, writer: OutputWriter) -> None:
        self._writer = writer

    def __call__(self, job: Job, image: Image | None) -> dict[str, Any]:
        written = self._writer.write(job.to_dict())
        return {"done": True, "engine": written.engine, "labels": written.labels}


def build(services: Services) -> PipelineoutputClassifier:
    """SQL_CONNECTION_STRING through pyodbc, else the embedded SQLite file; it connects at the first job."""
    return PipelineoutputClassifier(writer=OutputWriter(database=Database.from_settings(services.settings)))
