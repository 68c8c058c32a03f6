"""A property of the whole step machinery on a real Azurite: any message sent to any queue ends recorded
(in its own job's entity), finished, or poisoned with its reason; never silently; and it never changes
another job's entity (issue 9, "Tests")."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.job import identify
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.step import StepRunner
from tests.pipeline.classifiers import Big, Noop
from tests.pipeline.helpers import drain, job_message
from tests.pipeline.test_step import QueuesOf

pytestmark = pytest.mark.azurite

MAX_DEQUEUE = 2
SUFFIX = "prop"  # served queues are q0prop<unique>..q2prop<unique>

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@st.composite
def impostors(draw: st.DrawFn, queues: list[str], victim: dict[str, Any]) -> tuple[str, str]:
    """The victim's batch and id with another definition, on a step the victim never ran (so a
    runner without the fingerprint check would write into its entity)."""
    definition = victim["job_definition"]
    pipeline, step = draw(st.sampled_from([([queues[2]], 0), ([queues[0], queues[2]], 1),
                                           ([queues[1], queues[2], queues[0]], 1)]))
    message = job_message(definition["id"], pipeline, batch_id=definition["batch_id"], step=step,
                          output=draw(st.sampled_from([{}, {queues[0]: {"forged": True}}])),
                          image_url=draw(st.sampled_from(["/other.png", definition["input"]["image_url"]])))
    return json.dumps(message), pipeline[step]


@st.composite
def bodies(draw: st.DrawFn, queues: list[str], victim: dict[str, Any]) -> tuple[str | bytes, str]:
    """(body, queue): job-like messages with hostile fields in hostile framings, impostors, or plain bytes."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=80)), draw(st.sampled_from(queues))
    if kind <= 3:
        return draw(impostors(queues, victim))
    return draw(messages(queues, victim)), draw(st.sampled_from(queues))


@st.composite
def messages(draw: st.DrawFn, queues: list[str], victim: dict[str, Any]) -> str:
    definition = victim["job_definition"]
    job_id = draw(st.sampled_from([definition["id"], "j1", "j2", 7, ".", "..", "", "a/b", None]))
    batch = draw(st.sampled_from([definition["batch_id"], "x", None]))
    names = queues + [f"nobody{queues[0]}x", f"{queues[0]}-poison", "Bad_Name"]
    pipeline = draw(st.lists(st.sampled_from(names), min_size=0, max_size=4)
                    | st.just([queues[0]] * 60) | st.just(definition["processing_pipeline"]))
    step = draw(st.integers(-1, 4))
    output = draw(st.dictionaries(st.sampled_from(queues + ["other"]),
                                  json_values | st.just(victim["link"]), max_size=3))
    message = job_message(job_id, pipeline, batch_id=batch, step=max(step, 0), output=output,  # type: ignore[arg-type]
                          image_url=draw(st.sampled_from([definition["input"]["image_url"], "/nowhere.png", ""])))
    if job_id is None:
        del message["job_definition"]["id"]
    if batch is None:
        del message["job_definition"]["batch_id"]
    if step < 0:
        message["job_definition"]["processing_step"] = "first"
    if draw(st.booleans()):
        message["job_definition"]["extra"] = draw(json_values)
    text = json.dumps(message)
    match draw(st.sampled_from(["raw", "raw", "raw", "base64", "trailing", "duplicate", "deep", "cut"])):
        case "base64":
            return base64.b64encode(text.encode()).decode()
        case "trailing":
            return text + "]"
        case "duplicate":
            return text[:-1] + ', "job_output": {}}'
        case "deep":
            return text[:-1] + ', "deep": ' + "[" * 600 + "]" * 600 + "}"
        case "cut":
            return text[: len(text) // 2]
    return text


def deliver(runner: StepRunner, services: Services, body: str | bytes, queue: str) -> list[tuple[str, str]]:
    """Run a message as the host would (retries, then the poison queue), following the job from queue to
    queue; every (queue, how it ended) on the way."""
    ended = []
    pending = [(body, queue)]
    while pending and len(ended) < 20:
        body, queue = pending.pop(0)
        classifier = Big(queue, 70_000) if queue.startswith("q2") else Noop(queue)
        for attempt in range(1, MAX_DEQUEUE + 1):
            try:
                ended.append((queue, runner.run(body, queue=queue, classifier=classifier, dequeue_count=attempt).value))
                break
            except Exception as e:  # what the host does with any exception: retry, then poison
                if attempt == MAX_DEQUEUE:
                    ended.append((queue, f"poisoned: {type(e).__name__}"))
        for name in runner_queues(queue):
            pending.extend((b, name) for b in drain(services.storage, name))
    return ended


def runner_queues(queue: str) -> list[str]:
    unique = queue[2:]
    return [f"q{i}{unique}" for i in range(3)]


def read(services: Services, batch: str, job: str) -> dict[str, Any] | None:
    found = list(services.storage.table(PIPELINELOGS).query_entities(
        "PartitionKey eq @p and RowKey eq @r", parameters={"p": batch, "r": job}))
    return dict(found[0]) if found else None


def test_any_message_on_any_queue_ends_recorded_and_touches_no_other_job(
    services: Services, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    queues = [f"q{i}{SUFFIX}{unique}" for i in range(3)]
    runner = StepRunner(services=services, max_dequeue_count=MAX_DEQUEUE, served_queues=QueuesOf(unique))
    victim = job_message("victim", queues[:2], batch_id=f"v{unique}")
    deliver(runner, services, json.dumps(victim), queues[0])
    victim_entity = read(services, f"v{unique}", "victim")
    assert victim_entity is not None and "job_output" in victim_entity
    link = {"linked_content": services.storage.upload_blob(
        "largemessages", f"v{unique}/victim/{queues[0]}.json", b'{"secret": true}', content_type="application/json")}
    victim_with_link = {**victim, "link": link}

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(delivery=bodies(queues, victim_with_link))
    def check(delivery: tuple[str | bytes, str]) -> None:
        body, queue = delivery
        caplog.clear()
        named = identify(body)
        before = read(services, named.batch_id, named.job_id) if named else None
        theirs = before is not None and before.get("fingerprint") not in (None, named.fingerprint if named else None)

        ended = deliver(runner, services, body, queue)

        assert ended and ended[0][0] == queue
        if named is None or named.fingerprint != victim_fingerprint:
            assert read(services, f"v{unique}", "victim") == victim_entity, (body, ended)
        if ended[0][1].startswith("poisoned"):
            logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert logged, (body, ended)  # never silent: the host log says why
            if named is not None and not theirs:
                after = read(services, named.batch_id, named.job_id)
                assert after is not None and after.get(f"{queue}_exception"), (body, ended, after)
        elif named is not None:
            after = read(services, named.batch_id, named.job_id)
            assert after is not None and str(after.get(queue, "")).startswith("step "), (body, ended, after)
        if theirs and named is not None:
            assert read(services, named.batch_id, named.job_id) == before, (body, ended)

    victim_fingerprint = victim_entity["fingerprint"]
    with caplog.at_level(logging.INFO, logger="pipeline"):
        check()
