"""The step runner against a real Azurite: the pipelinelogs contract, failures, redelivery, linked content."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pipeline.classifier import Classifier, StepContext
from pipeline.errors import JobFormatError, RetryableError
from pipeline.job import parse_job
from pipeline.job_record import PIPELINELOGS
from pipeline.linked import QUEUE_MESSAGE_LIMIT, TABLE_PROPERTY_LIMIT
from pipeline.services import Services
from pipeline.step import Outcome, StepRunner
from tests.pipeline.classifiers import Big, Boom, Flaky, Noop
from tests.pipeline.helpers import drain, job_message, peek_count

pytestmark = pytest.mark.azurite


class QueuesOf:
    """The queues of one test: every name ending in its unique suffix."""

    def __init__(self, unique: str) -> None:
        self.unique = unique

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.endswith(self.unique)


@pytest.fixture
def runner(services: Services, unique: str) -> StepRunner:
    return StepRunner(services=services, max_dequeue_count=3, served_queues=QueuesOf(unique))


def entity(services: Services, batch: str, job: str) -> dict[str, Any]:
    return dict(services.storage.table(PIPELINELOGS).get_entity(batch, job))


def run_through(runner: StepRunner, services: Services, first_body: str, steps: list[Classifier]) -> list[Outcome]:
    """Run a job through every step, taking each message from its queue as a host would."""
    outcomes = []
    body = first_body
    for index, classifier in enumerate(steps):
        outcomes.append(runner.run(body, queue=classifier.name, classifier=classifier))
        if index + 1 < len(steps):
            [body] = drain(services.storage, steps[index + 1].name)
    return outcomes


def test_a_job_through_three_steps_leaves_exactly_the_contract_entity(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"a{unique}", f"b{unique}", f"c{unique}"]
    steps: list[Classifier] = [Noop(n) for n in names]
    message = job_message("job-1", names, batch_id=f"batch{unique}", extra_field={"kept": True})
    message["top_level_extra"] = [1, 2]

    assert run_through(runner, services, json.dumps(message), steps) == [Outcome.SUCCESS] * 3

    stored = entity(services, f"batch{unique}", "job-1")
    final = json.loads(stored.pop("job_output"))
    assert stored.pop("fingerprint") == parse_job(message).fingerprint
    for name in names:  # each step's timings (tests/pipeline/test_timings.py checks their values)
        stored.pop(f"{name}_timings")
    assert stored == {
        "PartitionKey": f"batch{unique}",
        "RowKey": "job-1",
        "image_url": "https://example.invalid/a.jpg",
        names[0]: "step 0: success",
        f"{names[0]}_output": json.dumps({"seen": []}),
        names[1]: "step 1: success",
        f"{names[1]}_output": json.dumps({"seen": [names[0]]}),
        names[2]: "step 2: success",
        f"{names[2]}_output": json.dumps({"seen": sorted(names[:2])}),
    }
    assert final["job_definition"]["processing_step"] == 2
    assert final["job_definition"]["extra_field"] == {"kept": True}
    assert final["top_level_extra"] == [1, 2]
    assert final["job_output"] == {names[0]: {"seen": []}, names[1]: {"seen": [names[0]]},
                                   names[2]: {"seen": sorted(names[:2])}}
    assert all(peek_count(services.storage, n) == 0 for n in names)


def test_a_failing_classifier_is_recorded_and_the_job_moves_on(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"boom{unique}", f"after{unique}"]
    message = json.dumps(job_message("job-2", names, batch_id=f"batch{unique}"))

    assert run_through(runner, services, message, [Boom(names[0]), Noop(names[1])]) == [
        Outcome.FAILED, Outcome.SUCCESS]

    stored = entity(services, f"batch{unique}", "job-2")
    assert stored[names[0]] == "step 0: failed"
    assert stored[f"{names[0]}_exception"] == "ValueError: the model exploded"
    assert f"{names[0]}_output" not in stored
    assert stored[names[1]] == "step 1: success"
    assert json.loads(stored["job_output"])["job_output"] == {names[1]: {"seen": []}}


@pytest.mark.parametrize("encoding", ["raw", "base64"])
def test_raw_and_base64_messages_are_both_accepted(
    runner: StepRunner, services: Services, unique: str, encoding: str
) -> None:
    names = [f"enc{unique}", f"next{unique}"]
    raw = json.dumps(job_message("job-3", names, batch_id=f"batch{unique}"))
    body = raw if encoding == "raw" else base64.b64encode(raw.encode()).decode()

    assert runner.run(body, queue=names[0], classifier=Noop(names[0])) == Outcome.SUCCESS

    [forwarded] = drain(services.storage, names[1])
    assert json.loads(forwarded)["job_definition"]["processing_step"] == 1  # the project sends raw JSON


def test_a_redelivered_message_of_a_done_step_is_acknowledged_without_a_second_copy(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"once{unique}", f"twice{unique}"]
    first, second = Noop(names[0]), Noop(names[1])
    body = json.dumps(job_message("job-4", names, batch_id=f"batch{unique}"))
    runner.run(body, queue=names[0], classifier=first)
    [forwarded] = drain(services.storage, names[1])
    runner.run(forwarded, queue=names[1], classifier=second)

    # The same message again, as a duplicate copy and as a redelivery after a lost acknowledgement.
    assert runner.run(body, queue=names[0], classifier=first, dequeue_count=1) == Outcome.ALREADY_DONE
    assert runner.run(body, queue=names[0], classifier=first, dequeue_count=2) == Outcome.ALREADY_DONE
    assert runner.run(forwarded, queue=names[1], classifier=second, dequeue_count=2) == Outcome.ALREADY_DONE

    assert (first.calls, second.calls) == (1, 1)
    assert peek_count(services.storage, names[1]) == 0


def test_a_redelivery_after_a_crash_before_sending_sends_the_job_on(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"crash{unique}", f"lost{unique}"]
    classifier = Noop(names[0])
    body = json.dumps(job_message("job-5", names, batch_id=f"batch{unique}"))
    runner.run(body, queue=names[0], classifier=classifier)
    drain(services.storage, names[1])  # as if the send had never happened

    assert runner.run(body, queue=names[0], classifier=classifier, dequeue_count=2) == Outcome.RESENT

    [resent] = drain(services.storage, names[1])
    assert json.loads(resent)["job_output"] == {names[0]: {"seen": []}}
    assert classifier.calls == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"\xff\xfe not json", "neither UTF-8 JSON nor base64"),
        (b'{"job_definition": {"id": "x"}}', "job_definition.input is missing"),
        (b"[]", "must be a JSON object"),
    ],
)
def test_a_malformed_message_raises_so_the_host_retries_and_poisons_it(
    runner: StepRunner, unique: str, body: bytes, reason: str
) -> None:
    with pytest.raises(JobFormatError, match=reason):
        runner.run(body, queue=f"bad{unique}", classifier=Noop(f"bad{unique}"))


def test_a_message_on_the_wrong_queue_is_rejected(runner: StepRunner, unique: str) -> None:
    body = json.dumps(job_message("job-6", [f"one{unique}", f"two{unique}"], step=1))
    with pytest.raises(JobFormatError, match=f"is for 'two{unique}'"):
        runner.run(body, queue=f"one{unique}", classifier=Noop(f"one{unique}"))


def test_the_last_rejection_names_the_reason_in_pipelinelogs(
    runner: StepRunner, services: Services, unique: str
) -> None:
    body = json.dumps({"job_definition": {"id": "job-7", "batch_id": f"batch{unique}", "input": {}}})
    for attempt in (1, 2, 3):
        with pytest.raises(JobFormatError):
            runner.run(body, queue=f"rej{unique}", classifier=Noop(f"rej{unique}"), dequeue_count=attempt)
    stored = entity(services, f"batch{unique}", "job-7")
    assert stored[f"rej{unique}"] == "step 0: failed"
    assert stored[f"rej{unique}_exception"] == (
        f"JobFormatError: job_definition.input.image_url is missing or not a string (moved to rej{unique}-poison)")


def test_a_retryable_failure_is_recorded_then_raised_and_marked_failed_on_the_last_attempt(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"flaky{unique}", f"then{unique}"]
    classifier = Flaky(names[0], failures=5)
    body = json.dumps(job_message("job-8", names, batch_id=f"batch{unique}"))

    with pytest.raises(RetryableError):
        runner.run(body, queue=names[0], classifier=classifier, dequeue_count=1)
    stored = entity(services, f"batch{unique}", "job-8")
    assert stored[names[0]] == "step 0: processing"
    assert stored[f"{names[0]}_exception"] == "RetryableError: database is down (attempt 1 of 3, will retry)"

    with pytest.raises(RetryableError):
        runner.run(body, queue=names[0], classifier=classifier, dequeue_count=3)
    stored = entity(services, f"batch{unique}", "job-8")
    assert stored[names[0]] == "step 0: failed"
    assert stored[f"{names[0]}_exception"] == "RetryableError: database is down"
    assert peek_count(services.storage, names[1]) == 0


def test_a_dependency_output_is_what_the_next_classifier_sees(
    runner: StepRunner, services: Services, unique: str
) -> None:
    seen: list[dict[str, Any]] = []

    class Reader(Noop):
        def __call__(self, job: Any, image: Any, context: StepContext) -> dict[str, Any]:
            seen.append(dict(job.job_output))
            return {}

    names = [f"big{unique}", f"reader{unique}"]
    size = TABLE_PROPERTY_LIMIT // 2 + 10  # too big for a table property once UTF-16 encoded
    body = json.dumps(job_message("job-9", names, batch_id=f"batch{unique}"))
    run_through(runner, services, body, [Big(names[0], size), Reader(names[1])])

    stored = entity(services, f"batch{unique}", "job-9")
    link = json.loads(stored[f"{names[0]}_output"])
    assert set(link) == {"linked_content"} and link["linked_content"].endswith(
        f"largemessages/batch{unique}/job-9/{names[0]}.json")
    assert len(json.dumps(seen[0][names[0]])) == size  # expanded before the classifier ran


@pytest.mark.parametrize("delta", [-200, +200])
def test_linked_content_round_trip_at_the_table_property_limit(
    runner: StepRunner, services: Services, unique: str, delta: int
) -> None:
    names = [f"edge{unique}", f"tail{unique}"]
    size = TABLE_PROPERTY_LIMIT // 2 + delta
    body = json.dumps(job_message("job-10", names, batch_id=f"batch{unique}"))
    runner.run(body, queue=names[0], classifier=Big(names[0], size))

    stored = entity(services, f"batch{unique}", "job-10")[f"{names[0]}_output"]
    [forwarded] = drain(services.storage, names[1])
    output = json.loads(forwarded)["job_output"][names[0]]
    if delta < 0:
        assert len(stored) == size and output == json.loads(stored)
    else:
        assert "linked_content" in json.loads(stored) and "linked_content" in output
    assert len(forwarded.encode()) <= QUEUE_MESSAGE_LIMIT


def test_outputs_that_fit_a_table_but_not_a_message_are_linked_in_the_message(
    runner: StepRunner, services: Services, unique: str
) -> None:
    names = [f"m1{unique}", f"m2{unique}", f"m3{unique}"]
    size = TABLE_PROPERTY_LIMIT // 2 - 100  # fits a table property; two of them overflow a message
    body = json.dumps(job_message("job-11", names, batch_id=f"batch{unique}"))
    runner.run(body, queue=names[0], classifier=Big(names[0], size))
    [second] = drain(services.storage, names[1])
    runner.run(second, queue=names[1], classifier=Big(names[1], size))
    [third] = drain(services.storage, names[2])

    assert len(third.encode()) <= QUEUE_MESSAGE_LIMIT
    outputs = json.loads(third)["job_output"]
    assert any("linked_content" in v for v in outputs.values())
    seen: dict[str, Any] = {}

    class Reader(Noop):
        def __call__(self, job: Any, image: Any, context: StepContext) -> dict[str, Any]:
            seen.update(job.job_output)
            return {}

    runner.run(third, queue=names[2], classifier=Reader(names[2]))
    assert {k: len(v["blob"]) for k, v in seen.items()} == {n: size - 12 for n in names[:2]}
