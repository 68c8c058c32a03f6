"""Per-step timings in pipelinelogs against a real Azurite: recorded, plausible, shown by `imaginem status`.

Never about speed: only that the numbers are there, non-negative and consistent with each other.
"""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.job_record import PIPELINELOGS, PipelineLog, step_timings
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.pipeline.classifiers import Boom, ImageSize, Noop
from tests.pipeline.helpers import drain, job_message
from tests.pipeline.images.test_images import png

pytestmark = pytest.mark.azurite


def _served(unique: str) -> frozenset[str]:
    return frozenset({f"size{unique}", f"boom{unique}", f"last{unique}"})


def _run_job(services: Services, unique: str, batch: str) -> dict[str, dict[str, float]]:
    names = [f"size{unique}", f"boom{unique}", f"last{unique}"]
    runner = StepRunner(services=services, max_dequeue_count=3, served_queues=_served(unique))
    url = services.storage.upload_blob("inputimages", f"{batch}/a.png", png(64, 48), content_type="image/png")
    body = json.dumps(job_message("job", names, batch_id=batch, image_url=url))
    steps = [ImageSize(names[0]), Boom(names[1]), Noop(names[2])]
    outcomes = []
    for index, classifier in enumerate(steps):
        outcomes.append(runner.run(body, queue=classifier.name, classifier=classifier))
        if index + 1 < len(steps):
            [body] = drain(services.storage, steps[index + 1].name)
    assert outcomes == [Outcome.SUCCESS, Outcome.FAILED, Outcome.SUCCESS]
    entity = PipelineLog(services.storage.table(PIPELINELOGS)).read(batch, "job")
    assert entity is not None
    return {name[: -len(unique)]: t for name, t in step_timings(entity).items()}


def test_every_step_records_plausible_timings_even_a_failed_one(services: Services, unique: str) -> None:
    timings = _run_job(services, unique, f"batch{unique}")

    assert set(timings) == {"size", "boom", "last"}
    assert set(timings["size"]) == {"fetch_ms", "model_ms", "total_ms"}
    assert set(timings["boom"]) == {"model_ms", "total_ms"}  # no image: no fetch
    assert set(timings["last"]) == {"model_ms", "total_ms"}
    for step in timings.values():
        assert all(value >= 0 for value in step.values())
        parts = sum(v for k, v in step.items() if k != "total_ms")
        assert step["total_ms"] >= step["model_ms"]
        assert step["total_ms"] + 0.5 >= parts  # disjoint parts of the step (each rounded to 0.1 ms)


def test_status_shows_each_steps_timings_and_the_batch_total(
    services: Services, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = f"batch{unique}"
    timings = _run_job(services, unique, batch)

    assert main(["status", batch, "job"]) == 0
    out = capsys.readouterr().out
    assert "timings (ms)" in out
    for name in (f"size{unique}", f"boom{unique}", f"last{unique}"):
        assert name in out
    assert "fetch" in out and "model" in out

    assert main(["status", batch]) == 0
    out = capsys.readouterr().out
    assert "total ms" in out
    assert f"{sum(t['total_ms'] for t in timings.values()):.0f}" in out
