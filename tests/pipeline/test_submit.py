"""Submitting jobs: the entity is claimed with the job's fingerprint before anything is sent."""

from __future__ import annotations

import pytest

from pipeline.errors import JobConflictError, JobFormatError
from pipeline.job_record import FINGERPRINT, PIPELINELOGS, PipelineLog
from pipeline.services import Services
from pipeline.submit import Submitter

pytestmark = pytest.mark.azurite


def test_a_job_id_reused_with_another_definition_is_refused_and_the_first_job_is_untouched(
    services: Services, unique: str
) -> None:
    submitter = Submitter(services)
    first = submitter.image_job(image_url="https://images.example/a.jpg", batch_id=f"b{unique}", job_id="j1",
                                pipeline=["ocr"], parameters={})
    submitter.send(first)
    log = PipelineLog(services.storage.table(PIPELINELOGS))
    before = log.read(first.batch_id, first.id)
    assert before is not None and before[FINGERPRINT] == first.fingerprint

    impostor = submitter.image_job(image_url="https://images.example/b.jpg", batch_id=f"b{unique}", job_id="j1",
                                   pipeline=["ocr"], parameters={})
    with pytest.raises(JobConflictError, match="already exists with another definition"):
        submitter.send(impostor)
    assert log.read(first.batch_id, first.id) == before
    submitter.send(first)  # the same job again is fine (its step is acknowledged if already done)


def test_submit_checks_the_pipeline_length_before_sending(services: Services, unique: str) -> None:
    submitter = Submitter(services)
    with pytest.raises(JobFormatError, match="50"):
        submitter.image_job(image_url="https://images.example/a.jpg", batch_id=f"b{unique}", job_id="j",
                            pipeline=["ocr"] * 51, parameters={})
