"""One cause, one error (issue 23 item 5): a job whose image is not an image records the first failure in
full; every later step that needed the image, or a skipped step's output, says in one line that it was
skipped and where the image could not be read; ``imaginem status`` and the Batch page show the cause once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboard.jobs import batch_view
from pipeline.classifier import StepContext
from pipeline.cli import main
from pipeline.errors import MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.job_record import JobOutcome, PipelineLog, job_progress
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.pipeline.classifiers import ImageSize, Noop
from tests.pipeline.helpers import job_message
from tests.pipeline.images.test_images import png
from tests.pipeline.test_hardening import entity
from tests.pipeline.test_step import QueuesOf, run_through

pytestmark = pytest.mark.azurite


class Needs(Noop):
    """Like facematch: needs another classifier's output, not the image."""

    def __init__(self, name: str, needs: str) -> None:
        super().__init__(name)
        self.needs = needs

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        if self.needs not in job.job_output:
            raise MissingDependencyError(self.name, self.needs)
        return {}


def run_not_an_image(services: Services, unique: str, tmp_path: Path) -> tuple[list[str], list[Outcome]]:
    """Five image steps, a step needing the last one's output, a last step: the image is an HTML page."""
    (tmp_path / "page.png").write_bytes(b"<html><body>404 not found</body></html>")
    names = [f"{n}{unique}" for n in ("general", "ocr", "detect", "crop", "print", "match", "out")]
    steps = [*(ImageSize(n) for n in names[:5]), Needs(names[5], names[4]), Noop(names[6])]
    body = json.dumps(job_message("job", names, batch_id=f"b{unique}", image_url=str(tmp_path / "page.png")))
    runner = StepRunner(services=services, max_dequeue_count=2, served_queues=QueuesOf(unique))
    return names, run_through(runner, services, body, steps)


def test_a_page_that_is_not_an_image_gives_one_error_and_the_rest_say_skipped(
    services: Services, unique: str, tmp_path: Path
) -> None:
    names, outcomes = run_not_an_image(services, unique, tmp_path)
    assert outcomes == [Outcome.FAILED] * 6 + [Outcome.SUCCESS]
    stored = entity(services, f"b{unique}", "job")
    first = stored[f"{names[0]}_exception"]
    assert first == stored["image_error"] and first.startswith("NotAnImageError: ")
    skipped = f"skipped: the image could not be read at step 0 ({names[0]})"
    for name in names[1:5]:
        assert stored[f"{name}_exception"] == f"ImageUnavailableError: {skipped}"
    assert stored[f"{names[5]}_exception"] == f"DependencySkippedError: {skipped}"
    # Exactly one full error: no other exception repeats the first one's reason.
    full = [k for k, v in stored.items() if k.endswith("_exception") and "NotAnImageError" in v]
    assert full == [f"{names[0]}_exception"]
    # The states and the outcome are as before: every skipped step failed.
    progress = job_progress(stored)
    assert progress.failed_steps == names[:6] and progress.outcome is JobOutcome.FINISHED_WITH_FAILURES
    assert progress.causes == {names[0]: first} and progress.skipped == names[1:6]


def test_status_and_the_batch_page_show_the_cause_once(
    services: Services, unique: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, _ = run_not_an_image(services, unique, tmp_path)
    assert main(["status", f"b{unique}"]) == 0
    table = capsys.readouterr().out
    assert table.count("NotAnImageError") == 1 and "5 later step(s) skipped" in table
    assert "ImageUnavailableError" not in table

    assert main(["status", f"b{unique}", "--json"]) == 0
    [job] = json.loads(capsys.readouterr().out)
    assert job["skipped"] == names[1:6] and len(job["exceptions"]) == 6

    log = PipelineLog(services.storage.table("pipelinelogs"))
    [row] = batch_view(f"b{unique}", log.batch(f"b{unique}"))["jobs"]
    assert list(row["causes"]) == [names[0]] and row["skipped"] == 5


def test_a_good_image_skips_nothing(services: Services, unique: str, tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(png(30, 20))
    names = [f"a{unique}", f"b{unique}"]
    body = json.dumps(job_message("job", names, batch_id=f"b{unique}", image_url=str(tmp_path / "ok.png")))
    runner = StepRunner(services=services, max_dequeue_count=2, served_queues=QueuesOf(unique))
    assert run_through(runner, services, body, [ImageSize(n) for n in names]) == [Outcome.SUCCESS] * 2
    progress = job_progress(entity(services, f"b{unique}", "job"))
    assert (progress.causes, progress.skipped) == ({}, [])
