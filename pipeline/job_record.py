"""The job record: a job's ``pipelinelogs`` entity, written and read here and nowhere else.

One entity per job (PartitionKey batch_id, RowKey job id), merged, never replaced (DESIGN.md):
``image_url``; ``<queue>`` = ``step N: processing|success|failed``; ``<classifier>_output``;
``<classifier>_exception`` (``Type: message``); ``<classifier>_timings`` (``pipeline.timings``);
``job_output``, the final message written by the last step. Besides the contract an entity holds
``fingerprint`` (the job definition's hash, claimed by the first step that runs: a message with another
definition is refused rather than written into this entity) and ``image_error`` (the first failure to
fetch or decode the image: later image steps are skipped, each recording one short ``skipped: …`` line
that names the step which failed, and so are the steps that need a skipped step's output).

A job's outcome comes from the recorded state of each step, not from its ``_exception`` properties: an
exception of an attempt that was then retried, or of a poisoned step that ran again once requeued, stays
in the entity after success.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

__all__ = [
    "FINGERPRINT",
    "IMAGE_ERROR",
    "PIPELINELOGS",
    "JobOutcome",
    "JobProgress",
    "JobState",
    "PipelineLog",
    "StepRecord",
    "StepState",
    "describe_exception",
    "exceptions",
    "failed_before",
    "finished_message",
    "image_skip",
    "is_skipped",
    "job_progress",
    "output_property",
    "parse_state",
    "recorded_exception",
    "recorded_output",
    "rewritten_message",
    "rewritten_output",
    "skipped_like",
    "state_is",
    "step_properties",
    "step_reached",
    "step_state",
    "step_timings",
]

PIPELINELOGS = "pipelinelogs"
FINGERPRINT = "fingerprint"
IMAGE_ERROR = "image_error"
_IMAGE_URL = "image_url"
_JOB_OUTPUT = "job_output"
_OUTPUT, _EXCEPTION, _TIMINGS = "_output", "_exception", "_timings"

_STATE = re.compile(r"^step (\d+): (processing|success|failed)$")
_SKIPPED = "skipped: "
"""The start of the message of a step skipped because of an earlier step's failure (after ``Type: ``)."""


class StepState(StrEnum):
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


def step_properties(queue: str) -> tuple[str, ...]:
    """A step's own properties in the order they are written: its state, output, exception and timings."""
    return queue, f"{queue}{_OUTPUT}", f"{queue}{_EXCEPTION}", f"{queue}{_TIMINGS}"


# --- the ``<queue>`` property: ``step N: state``


def step_state(step: int, state: str) -> str:
    """The value of a ``<queue>`` property: ``step N: processing|success|failed``."""
    return f"step {step}: {StepState(state)}"


def parse_state(value: object) -> tuple[int, StepState] | None:
    """``(N, state)`` of a ``step N: state`` value; None for anything else."""
    match = _STATE.match(value) if isinstance(value, str) else None
    return (int(match.group(1)), StepState(match.group(2))) if match else None


def state_is(entity: Mapping[str, Any], queue: str, step: int, state: str) -> bool:
    """Whether the entity records ``queue`` at ``step`` in ``state``."""
    return entity.get(queue) == step_state(step, state)


def step_reached(entity: Mapping[str, Any], queue: str, step: int) -> bool:
    """Whether ``queue`` has any state recorded for ``step`` (enqueued, running or ended)."""
    return str(entity.get(queue, "")).startswith(f"step {step}:")


# --- the other properties


def describe_exception(error: BaseException) -> str:
    """``Type: message``, as recorded in ``<classifier>_exception``."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def recorded_exception(entity: Mapping[str, Any], classifier: str) -> str | None:
    value = entity.get(classifier + _EXCEPTION)
    return str(value) if value else None


def recorded_output(entity: Mapping[str, Any], classifier: str, *, lenient: bool = False) -> Any:
    """A classifier's output as recorded (its JSON parsed; a link stays a link); None when there is none.

    ``lenient``: a value that is not JSON is returned as it is instead of raising ``JSONDecodeError``.
    """
    stored = entity.get(classifier + _OUTPUT)
    if not isinstance(stored, str):
        return stored
    try:
        return json.loads(stored)
    except json.JSONDecodeError:
        if lenient:
            return stored
        raise


def output_property(classifier: str) -> str:
    """The entity property that holds a classifier's output (to select it in a query)."""
    return classifier + _OUTPUT


def rewritten_output(classifier: str, value: Any) -> dict[str, str]:
    """The properties that replace a classifier's recorded output with ``value`` (merged into the entity)."""
    return {classifier + _OUTPUT: json.dumps(value, ensure_ascii=False)}


def rewritten_message(value: Any) -> dict[str, str]:
    """The properties that replace the final message with ``value`` (merged into the entity)."""
    return {_JOB_OUTPUT: json.dumps(value, ensure_ascii=False)}


def finished_message(entity: Mapping[str, Any]) -> str | None:
    """The final message (``job_output``, JSON or a link to it) written by the last step; None before."""
    value = entity.get(_JOB_OUTPUT)
    return None if value is None else str(value)


def exceptions(entity: Mapping[str, Any]) -> dict[str, str]:
    """classifier → its recorded exception, for every ``<classifier>_exception`` of an entity."""
    return {k[: -len(_EXCEPTION)]: str(v) for k, v in entity.items() if k.endswith(_EXCEPTION)}


def step_timings(entity: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """classifier → its recorded timings, for every ``<classifier>_timings`` of an entity that parses."""
    found: dict[str, dict[str, float]] = {}
    for key, value in entity.items():
        if not key.endswith(_TIMINGS) or not isinstance(value, str):
            continue
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            found[key[: -len(_TIMINGS)]] = {k: float(v) for k, v in parsed.items()
                                                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return found


# --- one cause, one error: steps skipped because of an earlier failure


def is_skipped(exception: str) -> bool:
    """Whether a recorded ``Type: message`` says the step was skipped because of an earlier step's failure."""
    return exception.partition(": ")[2].startswith(_SKIPPED)


def image_skip(entity: Mapping[str, Any]) -> str | None:
    """The message of an image step skipped because an earlier step could not get the image; None if none did.

    ``skipped: the image could not be read at step N (queue)``: the step whose exception is ``image_error``.
    """
    reason = entity.get(IMAGE_ERROR)
    if not reason:
        return None
    where = [(state[0], name) for name, text in exceptions(entity).items()
             if text == reason and (state := parse_state(entity.get(name))) is not None]
    at = f"step {min(where)[0]} ({min(where)[1]})" if where else "an earlier step"
    return f"{_SKIPPED}the image could not be read at {at}"


def skipped_like(exception: str) -> str:
    """The message of a step skipped because a step it needs was skipped: the same cause, in the same words."""
    return exception.partition(": ")[2]


# --- writing


@dataclass
class StepRecord:
    """What one step merges into its job's entity, in one transaction (``PipelineLog.merge``)."""

    queue: str
    step: int
    image_url: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    """Properties other modules add as they are (``working_copy``); written with the rest."""

    def __post_init__(self) -> None:
        if self.image_url is not None:
            self.properties[_IMAGE_URL] = self.image_url

    def state(self, state: str) -> StepRecord:
        self.properties[self.queue] = step_state(self.step, state)
        return self

    @property
    def current_state(self) -> str | None:
        value = self.properties.get(self.queue)
        return None if value is None else str(value)

    def exception(self, classifier: str, text: str) -> StepRecord:
        self.properties[classifier + _EXCEPTION] = text
        return self

    def output(self, classifier: str, text: str) -> StepRecord:
        """``text``: the output as JSON, or its linked_content as JSON."""
        self.properties[classifier + _OUTPUT] = text
        return self

    def timings(self, classifier: str, text: str) -> StepRecord:
        self.properties[classifier + _TIMINGS] = text
        return self

    def image_error(self, text: str) -> StepRecord:
        """The first failure to get the image: later image steps are skipped because of it."""
        self.properties[IMAGE_ERROR] = text
        return self

    def next_step(self, queue: str) -> StepRecord:
        """The next queue enqueued: ``step N+1: processing``."""
        self.properties[queue] = step_state(self.step + 1, StepState.PROCESSING)
        return self

    def finished(self, message: str) -> StepRecord:
        """The final message (JSON or a link to it): the job reached its last step."""
        self.properties[_JOB_OUTPUT] = message
        return self


class PipelineLog:
    """Reads and merges job entities; never replaces one."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    def read(self, batch_id: str, job_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._table.get_entity(batch_id, job_id))
        except ResourceNotFoundError:
            return None

    def merge(self, batch_id: str, job_id: str, properties: Mapping[str, Any]) -> None:
        entity = {"PartitionKey": batch_id, "RowKey": job_id, **properties}
        self._table.upsert_entity(entity, mode=UpdateMode.MERGE)

    def record(self, batch_id: str, job_id: str, record: StepRecord) -> None:
        self.merge(batch_id, job_id, record.properties)

    def claim(self, batch_id: str, job_id: str, fingerprint: str) -> dict[str, Any]:
        """The job's entity, its ``fingerprint`` set to ``fingerprint`` if it had none (atomically,
        so of two definitions racing for one job exactly one wins). Compare the returned one."""
        for _ in range(5):
            try:
                entity = self._table.get_entity(batch_id, job_id)
            except ResourceNotFoundError:
                claimed = {"PartitionKey": batch_id, "RowKey": job_id, FINGERPRINT: fingerprint}
                try:
                    self._table.create_entity(claimed)
                    return claimed
                except ResourceExistsError:
                    continue
            if entity.get(FINGERPRINT):
                return dict(entity)
            try:
                self._table.update_entity({"PartitionKey": batch_id, "RowKey": job_id, FINGERPRINT: fingerprint},
                                          mode=UpdateMode.MERGE, etag=entity.metadata["etag"],
                                          match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return {**entity, FINGERPRINT: fingerprint}
        raise ResourceModifiedError(f"pipelinelogs entity {batch_id}/{job_id} kept changing while claimed")

    def batch(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job entity of a batch."""
        escaped = batch_id.replace("'", "''")
        return [dict(e) for e in self._table.query_entities(f"PartitionKey eq '{escaped}'")]


# --- reading: where a job stands, and its outcome


class JobState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    """Failed for good before its last step (rejected or retried out): the message is in a poison queue."""


class JobOutcome(StrEnum):
    """A job's outcome as the CLI, the dashboard and the SQL row show it (DESIGN.md, pipelinelogs)."""

    SUCCEEDED = "succeeded"
    """Every step succeeded."""
    FINISHED_WITH_FAILURES = "finished with failures"
    """It reached its last step; some steps failed."""
    STOPPED = "stopped"
    """A message went to a poison queue."""
    IN_PROGRESS = "in progress"


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    state: JobState
    steps: dict[str, str]
    """queue → its state (processing, success, failed), in step order."""
    exceptions: dict[str, str]
    batch_id: str = ""

    @property
    def errors(self) -> int:
        return len(self.exceptions)

    @property
    def failed_steps(self) -> list[str]:
        """The queues whose step is recorded as failed, in step order."""
        return [queue for queue, state in self.steps.items() if state == StepState.FAILED]

    @property
    def causes(self) -> dict[str, str]:
        """The exceptions that are a cause of their own: all but the steps skipped because of another."""
        return {name: text for name, text in self.exceptions.items() if not is_skipped(text)}

    @property
    def skipped(self) -> list[str]:
        """The classifiers skipped because of an earlier step's failure (each says which)."""
        return [name for name, text in self.exceptions.items() if is_skipped(text)]

    @property
    def outcome(self) -> JobOutcome:
        if self.state == JobState.RUNNING:
            return JobOutcome.IN_PROGRESS
        if self.state == JobState.STOPPED:
            return JobOutcome.STOPPED
        if self.failed_steps:
            return JobOutcome.FINISHED_WITH_FAILURES
        return JobOutcome.SUCCEEDED


def job_progress(entity: Mapping[str, Any]) -> JobProgress:
    steps: list[tuple[int, str, StepState]] = []
    for key, value in entity.items():
        parsed = parse_state(value)
        if parsed:
            steps.append((parsed[0], key, parsed[1]))
    steps.sort()
    if _JOB_OUTPUT in entity:
        state = JobState.FINISHED
    elif steps and steps[-1][2] == StepState.FAILED:
        # A failed step whose successor was never enqueued: retried out and poisoned.
        state = JobState.STOPPED
    else:
        state = JobState.RUNNING
    return JobProgress(job_id=str(entity.get("RowKey", "")), state=state,
                       steps={queue: str(state_) for _, queue, state_ in steps}, exceptions=exceptions(entity),
                       batch_id=str(entity.get("PartitionKey", "")))


def failed_before(entity: Mapping[str, Any], pipeline: Sequence[str], step: int,
                  outputs: Mapping[str, Any]) -> list[str]:
    """The queues before ``step`` whose step failed, as the last step sees them (pipelineoutput).

    The entity's ``step N: success|failed`` decides; a step it holds no state for (a queue that
    appears twice, an entity that could not be read) failed when it left no output in the message.
    """
    failed = []
    for index, queue in enumerate(pipeline[:step]):
        if state_is(entity, queue, index, StepState.FAILED):
            failed.append(queue)
        elif not state_is(entity, queue, index, StepState.SUCCESS) and queue not in outputs:
            failed.append(queue)
    return failed
