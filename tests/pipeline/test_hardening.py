"""Hostile messages against the step runner on a real Azurite: each ends with its reason recorded where a
user looks, and no other job's entity or artifacts change (issue 9 items 2, 3, 5, 6, 7, 10; issue 13 items 3, 4)."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from classifiers import facematch
from pipeline.classifier import StepContext
from pipeline.errors import JobConflictError, JobFormatError
from pipeline.images import Image
from pipeline.job import Job
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.linked import LARGEMESSAGES
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.pipeline.classifiers import Big, Boom, ImageSize, Noop
from tests.pipeline.helpers import drain, job_message
from tests.pipeline.images.test_images import png
from tests.pipeline.test_step import QueuesOf

pytestmark = pytest.mark.azurite


@pytest.fixture
def runner(services: Services, unique: str) -> StepRunner:
    return StepRunner(services=services, max_dequeue_count=2, served_queues=QueuesOf(unique))


def entity(services: Services, batch: str, job: str) -> dict[str, Any]:
    return dict(services.storage.table(PIPELINELOGS).get_entity(batch, job))


def rejected_to_the_end(runner: StepRunner, body: str | bytes, queue: str) -> JobFormatError:
    """Deliver a message every time the host would, until it is poisoned; the last error."""
    for attempt in (1, 2):
        with pytest.raises(JobFormatError) as caught:
            runner.run(body, queue=queue, classifier=Noop(queue), dequeue_count=attempt)
    return caught.value


class Reader(Noop):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.seen: dict[str, Any] = {}

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        self.seen = dict(job.job_output)
        return {}


# --- item 2 and 3: a job reads and writes only its own artifacts


def test_linked_content_of_another_job_or_blob_is_refused_and_recorded(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"big{unique}", f"read{unique}"]
    runner.run(json.dumps(job_message("victim", names, batch_id=f"a{unique}")), queue=names[0],
               classifier=Big(names[0], 70_000))
    [victim_message] = drain(services.storage, names[1])
    victim_link = json.loads(victim_message)["job_output"][names[0]]
    private = services.storage.upload_blob("inputimages", f"{unique}/private.json", b'{"secret": 1}',
                                           content_type="application/json")
    for i, url in enumerate([victim_link["linked_content"], private, "https://example.invalid/x.json",
                             victim_link["linked_content"].replace("/victim/", "/thief/../victim/")]):
        reader = Reader(names[1])
        body = json.dumps(job_message(f"thief-{i}", names, batch_id=f"b{unique}", step=1,
                                      output={names[0]: {"linked_content": url}}))
        assert runner.run(body, queue=names[1], classifier=reader) == Outcome.FAILED
        assert reader.seen == {}  # the classifier never saw the other content
        stored = entity(services, f"b{unique}", f"thief-{i}")
        assert stored[f"{names[1]}_exception"].startswith("LinkedContentError: linked content")
        assert "refused" in stored[f"{names[1]}_exception"]


def test_the_same_job_id_in_two_batches_keeps_two_sets_of_artifacts(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"big{unique}", f"read{unique}"]
    for batch, size in ((f"a{unique}", 70_000), (f"b{unique}", 80_000)):
        runner.run(json.dumps(job_message("same", names, batch_id=batch)), queue=names[0],
                   classifier=Big(names[0], size))
    blobs = sorted(b.name for b in services.storage.container(LARGEMESSAGES).list_blobs(name_starts_with=f"a{unique}/"))
    assert blobs == [f"a{unique}/same/{names[0]}.json"]
    forwarded = {json.loads(m)["job_definition"]["batch_id"]: m for m in drain(services.storage, names[1])}
    for batch, size in ((f"a{unique}", 70_000), (f"b{unique}", 80_000)):
        reader = Reader(names[1])
        runner.run(forwarded[batch], queue=names[1], classifier=reader)
        assert len(reader.seen[names[0]]["blob"]) == size - 12  # each batch reads its own


def test_a_message_with_another_definition_never_touches_the_job_it_names(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"one{unique}", f"two{unique}"]
    batch = f"batch{unique}"
    first = json.dumps(job_message("job", names, batch_id=batch))
    runner.run(first, queue=names[0], classifier=Noop(names[0]))
    [second] = drain(services.storage, names[1])
    runner.run(second, queue=names[1], classifier=Noop(names[1]))
    before = entity(services, batch, "job")

    replays = [job_message("job", names, batch_id=batch, image_url="https://example.invalid/other.jpg"),
               job_message("job", [names[0]], batch_id=batch),
               job_message("job", names, batch_id=batch, step=1, output={names[0]: {"forged": True}},
                           image_url="https://example.invalid/other.jpg")]
    for replay in replays:
        queue = replay["job_definition"]["processing_pipeline"][replay["job_definition"]["processing_step"]]
        for attempt in (1, 2):
            with pytest.raises(JobConflictError, match="already recorded with another definition"):
                runner.run(json.dumps(replay), queue=queue, classifier=Noop(queue), dequeue_count=attempt)
    # A message that cannot be parsed at all, naming the job, on its last delivery.
    broken = json.dumps(job_message("job", names, batch_id=batch, image_url="https://example.invalid/o.jpg"))[:-1]
    rejected_to_the_end(runner, broken, names[0])
    assert entity(services, batch, "job") == before
    assert drain(services.storage, names[1]) == []

    # The job itself, redelivered, is still recognised as done.
    assert runner.run(first, queue=names[0], classifier=Noop(names[0]), dequeue_count=2) == Outcome.ALREADY_DONE


# --- item 5: fail fast after the image failed once


class CountingFetcher:
    """An ``ImageFetcher`` that counts the reads of image URLs."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def read(self, url: str, **options: Any) -> bytes:
        self.calls += 1
        return self.inner.read(url, **options)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("kind", ["missing", "not an image"])
def test_an_image_that_failed_once_is_not_fetched_again(
    services: Services, unique: str, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "photo.png"
    if kind == "not an image":
        path.write_bytes(b"<html>not found</html>")
    fetcher = CountingFetcher(StepRunner(services=services, max_dequeue_count=2)._fetcher)
    runner = StepRunner(services=services, max_dequeue_count=2, fetcher=fetcher,  # type: ignore[arg-type]
                        served_queues=QueuesOf(unique))
    names = [f"s1{unique}", f"s2{unique}", f"n{unique}", f"s3{unique}"]
    steps = [ImageSize(names[0]), ImageSize(names[1]), Noop(names[2]), ImageSize(names[3])]
    body = json.dumps(job_message("job", names, batch_id=f"b{unique}", image_url=str(path)))
    for index, step in enumerate(steps):
        outcome = runner.run(body, queue=step.name, classifier=step)
        assert outcome == (Outcome.SUCCESS if index == 2 else Outcome.FAILED)
        if index + 1 < len(steps):
            [body] = drain(services.storage, names[index + 1])

    assert fetcher.calls == 1
    stored = entity(services, f"b{unique}", "job")
    reason = stored["image_error"]
    assert reason == stored[f"{names[0]}_exception"]
    assert reason.startswith("ImageFetchError" if kind == "missing" else "NotAnImageError")
    for later in (names[1], names[3]):
        assert stored[f"{later}_exception"] == (
            f"ImageUnavailableError: skipped: the image could not be read at step 0 ({names[0]})")


def test_a_good_image_serves_every_step(services: Services, unique: str, tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(png(30, 20))
    runner = StepRunner(services=services, max_dequeue_count=2, served_queues=QueuesOf(unique))
    names = [f"s1{unique}", f"s2{unique}"]
    body = json.dumps(job_message("job", names, batch_id=f"b{unique}", image_url=str(tmp_path / "ok.png")))
    assert runner.run(body, queue=names[0], classifier=ImageSize(names[0])) == Outcome.SUCCESS
    [body] = drain(services.storage, names[1])
    assert runner.run(body, queue=names[1], classifier=ImageSize(names[1])) == Outcome.SUCCESS
    assert "image_error" not in entity(services, f"b{unique}", "job")


# --- item 6 and issue 13 item 3: queues nobody serves, poison queues, too many steps


@pytest.mark.parametrize("pipeline, reason", [
    (["{q}", "nobody{u}x"], "is a queue nobody serves"),
    (["{q}", "{q}-poison"], "is a poison queue"),
    (["{q}"] * 51, "has 51 steps; at most 50 (MAX_PIPELINE_STEPS)"),
])
def test_a_pipeline_nobody_can_finish_is_rejected_with_its_reason_in_pipelinelogs(
    runner: StepRunner, services: Services, unique: str, pipeline: list[str], reason: str
) -> None:
    queue = f"q{unique}"
    steps = [name.format(q=queue, u="") for name in pipeline]
    error = rejected_to_the_end(runner, json.dumps(job_message("job", steps, batch_id=f"b{unique}")), queue)
    assert reason in str(error)
    stored = entity(services, f"b{unique}", "job")
    assert stored[queue] == "step 0: failed"
    assert reason in stored[f"{queue}_exception"]
    assert stored[f"{queue}_exception"].endswith(f"(moved to {queue}-poison)")


def test_external_queues_are_a_setting(services: Services, unique: str) -> None:
    other_app = replace(services, settings=replace(services.settings, external_queues=(f"elsewhere{unique}",)))
    runner = StepRunner(services=other_app, max_dequeue_count=2)
    body = json.dumps(job_message("job", ["ocr", f"elsewhere{unique}"], batch_id=f"b{unique}"))
    assert runner.run(body, queue="ocr", classifier=Noop("ocr")) == Outcome.SUCCESS
    assert len(drain(services.storage, f"elsewhere{unique}")) == 1
    with pytest.raises(JobFormatError, match="nobody serves"):
        StepRunner(services=services, max_dequeue_count=2).parse(body)


# --- item 7: poisoned messages say why


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("make, reason", [
    (lambda m: json.dumps(m) + "garbage", "Extra data"),
    (lambda m: json.dumps(m)[:-1] + ', "job_output": {}}', "has the key 'job_output' twice"),
    (lambda m: json.dumps({**m, "deep": nested(600)}), "deeper than 64 levels"),
])
def test_a_broken_message_naming_its_job_is_poisoned_with_its_reason(
    runner: StepRunner, services: Services, unique: str, make: Any, reason: str
) -> None:
    queue = f"q{unique}"
    rejected_to_the_end(runner, make(job_message(7, [queue], batch_id=f"b{unique}")), queue)  # type: ignore[arg-type]
    stored = entity(services, f"b{unique}", "7")  # an integer id is its string here too
    assert stored[queue] == "step 0: failed" and reason in stored[f"{queue}_exception"]


def test_a_message_too_large_even_with_linked_content_is_recorded(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"big{unique}", f"next{unique}"]
    forged = {f"out{i:03d}": "x" * 200 for i in range(330)}  # each too small to be worth a blob
    body = json.dumps(job_message("job", names, batch_id=f"b{unique}", output=forged))
    for attempt in (1, 2):
        with pytest.raises(JobFormatError, match="too large for a queue message even with linked content"):
            runner.run(body, queue=names[0], classifier=Big(names[0], 5000), dequeue_count=attempt)
    stored = entity(services, f"b{unique}", "job")
    assert stored[names[0]] == "step 0: failed"
    assert "too large for a queue message" in stored[f"{names[0]}_exception"]
    assert drain(services.storage, names[1]) == []


@pytest.mark.parametrize("job_id", [".", ".."])
def test_dot_ids_are_rejected_and_write_nothing(runner: StepRunner, services: Services, unique: str,
                                               job_id: str) -> None:
    queue = f"q{unique}"
    error = rejected_to_the_end(runner, json.dumps(job_message(job_id, [queue], batch_id=f"b{unique}")), queue)
    assert "is not a usable name" in str(error)
    assert list(services.storage.table(PIPELINELOGS).query_entities(f"PartitionKey eq 'b{unique}'")) == []


# --- item 10: a dependency that failed is named as the cause


def test_facematch_after_a_failed_faceprint_names_faceprint_and_its_reason(
    services: Services, unique: str
) -> None:
    runner = StepRunner(services=services, max_dequeue_count=2)
    body = json.dumps(job_message(f"job{unique}", ["faceprint", "facematch"], batch_id=f"b{unique}"))
    assert runner.run(body, queue="faceprint", classifier=Boom("faceprint")) == Outcome.FAILED
    [body] = drain(services.storage, "facematch")
    assert runner.run(body, queue="facematch", classifier=facematch.build(services)) == Outcome.FAILED
    assert entity(services, f"b{unique}", f"job{unique}")["facematch_exception"] == (
        "DependencyFailedError: facematch needs the output of faceprint, which failed: ValueError: the model exploded")

    alone = json.dumps(job_message(f"alone{unique}", ["facematch"], batch_id=f"b{unique}"))
    runner.run(alone, queue="facematch", classifier=facematch.build(services))
    assert "put faceprint before facematch" in entity(services, f"b{unique}", f"alone{unique}")["facematch_exception"]


# --- issue 13 item 4: untrusted values cannot forge a log line


def test_an_image_url_with_cr_lf_leaves_one_log_line(
    runner: StepRunner, services: Services, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"img{unique}", f"next{unique}"]
    url = "/nowhere/photo.png\r\nX-Injected: yes answered 404 Not Found"
    caplog.set_level(logging.INFO, logger="pipeline")
    body = json.dumps(job_message("job\u2028X-Forged: yes", names, batch_id=f"b{unique}", image_url=url))
    assert runner.run(body, queue=names[0], classifier=ImageSize(names[0])) == Outcome.FAILED
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.step")]
    assert any("X-Injected" in line and "X-Forged" in line for line in lines)
    assert all("\n" not in line and "\r" not in line and "\u2028" not in line for line in lines)


def test_of_two_definitions_racing_for_one_job_exactly_one_claims_it(services: Services, unique: str) -> None:
    log = PipelineLog(services.storage.table(PIPELINELOGS))
    log.merge(f"b{unique}", "job", {"q": "step 0: processing"})  # as submit leaves it: no fingerprint yet
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda i: log.claim(f"b{unique}", "job", f"print-{i}")["fingerprint"], range(8)))
    assert len(set(claimed)) == 1
    stored = entity(services, f"b{unique}", "job")
    assert stored["fingerprint"] == claimed[0] and stored["q"] == "step 0: processing"
    assert log.claim(f"b{unique}", "new", "mine")["fingerprint"] == "mine"
    assert log.claim(f"b{unique}", "new", "theirs")["fingerprint"] == "mine"
