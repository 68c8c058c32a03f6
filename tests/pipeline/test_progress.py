"""Job outcomes from pipelinelogs entities: the recorded step states decide, not leftover exceptions."""

from __future__ import annotations

from pipeline.job_record import JobOutcome, JobState, failed_before, job_progress


def entity(**properties: str) -> dict[str, str]:
    return {"PartitionKey": "b1", "RowKey": "j1", **properties}


def test_each_outcome_of_the_contract() -> None:
    assert job_progress(entity(a="step 0: success", b="step 1: processing")).outcome is JobOutcome.IN_PROGRESS
    finished = job_progress(entity(a="step 0: success", b="step 1: success", job_output="{}"))
    assert (finished.state, finished.outcome, finished.batch_id) == (JobState.FINISHED, JobOutcome.SUCCEEDED, "b1")
    failed = job_progress(entity(a="step 0: failed", a_exception="ValueError: x", b="step 1: success",
                                 job_output="{}"))
    assert (failed.outcome, failed.failed_steps) == (JobOutcome.FINISHED_WITH_FAILURES, ["a"])
    stopped = job_progress(entity(a="step 0: success", b="step 1: failed", b_exception="RetryableError: down"))
    assert stopped.outcome is JobOutcome.STOPPED


def test_an_exception_of_an_attempt_that_was_retried_is_not_a_failure() -> None:
    """A retried or requeued step keeps its exception in the entity after it succeeded."""
    job = job_progress(entity(a="step 0: success", a_exception="RetryableError: down (attempt 1 of 5, will retry)",
                              job_output="{}"))
    assert job.outcome is JobOutcome.SUCCEEDED and job.errors == 1


def test_failed_before_reads_the_states_then_the_message() -> None:
    pipeline = ["a", "b", "c", "a", "pipelineoutput"]
    recorded = entity(a="step 3: success", b="step 1: failed", c="step 2: success")
    # b is recorded as failed even with an output; a (listed twice) is judged by its output.
    assert failed_before(recorded, pipeline, 4, {"a": {}, "b": {}}) == ["b"]
    assert failed_before({}, pipeline, 4, {"b": {}, "c": {}}) == ["a", "a"]
    assert failed_before(entity(a="step 0: success"), ["a", "pipelineoutput"], 1, {}) == []
