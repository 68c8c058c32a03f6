"""The job message: parse from queue bytes, validate, and serialize back.

A message body is raw JSON or base64 of that JSON. Unknown fields anywhere are kept and
passed on untouched. Errors are ``JobFormatError`` naming the field and the problem.

Ids are strings; an integer id is accepted as its decimal string everywhere (the message passed
on carries the string). A job's *fingerprint* is a hash of its definition without
``processing_step``: two messages with the same batch and id but another fingerprint are two
different jobs claiming one name.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigurationError, JobFormatError

__all__ = [
    "next_queue_named",
    "check_key",
    "DEFAULT_BATCH_ID",
    "DEFAULT_MAX_PIPELINE_STEPS",
    "MAX_NESTING",
    "Identity",
    "Job",
    "identify",
    "is_queue_name",
    "parse_job",
]

DEFAULT_BATCH_ID = "default"
DEFAULT_MAX_PIPELINE_STEPS = 50
MAX_NESTING = 64
"""Deepest nesting of objects and lists a message may have (deeper ones overflow the stack later)."""
POISON_SUFFIX = "-poison"

_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
# Table keys forbid / \ # ? and control characters; keep them short enough to read.
_KEY_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")

PipelineResolver = Callable[[Sequence[str]], Sequence[str]]
QueueCheck = Callable[[str], bool]


def is_queue_name(name: object) -> bool:
    return isinstance(name, str) and bool(_QUEUE_NAME.match(name))


@dataclass(frozen=True)
class Job:
    """One job: where it is in its pipeline, what it has produced, and everything else it carried."""

    id: str
    batch_id: str
    image_url: str
    processing_pipeline: tuple[str, ...]
    processing_step: int
    job_output: Mapping[str, Any]
    _message: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def queue(self) -> str:
        """The queue this message is on now."""
        return self.processing_pipeline[self.processing_step]

    @property
    def next_queue(self) -> str | None:
        nxt = self.processing_step + 1
        return self.processing_pipeline[nxt] if nxt < len(self.processing_pipeline) else None

    @property
    def image_parameters(self) -> Mapping[str, Any]:
        params = self._message["job_definition"].get("input", {}).get("image_parameters")
        return params if isinstance(params, dict) else {}

    @property
    def fingerprint(self) -> str:
        """A hash of the job's definition: everything but ``processing_step`` and ``job_output``."""
        return _fingerprint(self._message["job_definition"])

    def with_output(self, classifier: str, output: Any) -> Job:
        outputs = dict(self.job_output)
        outputs[classifier] = output
        return _replace(self, job_output=outputs)

    def with_outputs(self, outputs: Mapping[str, Any]) -> Job:
        return _replace(self, job_output=dict(outputs))

    def advanced(self) -> Job:
        """The job as the next queue will see it."""
        if self.next_queue is None:
            raise ValueError("the last step has no next queue")
        return _replace(self, processing_step=self.processing_step + 1)

    def to_dict(self) -> dict[str, Any]:
        message = copy.deepcopy(dict(self._message))
        definition = message["job_definition"]
        definition["processing_pipeline"] = list(self.processing_pipeline)
        definition["processing_step"] = self.processing_step
        definition.setdefault("batch_id", self.batch_id)
        message["job_output"] = copy.deepcopy(dict(self.job_output))
        return message

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _replace(job: Job, **changes: Any) -> Job:
    return dataclasses.replace(job, **changes)


def _fingerprint(definition: Mapping[str, Any]) -> str:
    fields = {k: v for k, v in definition.items() if k != "processing_step"}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JobFormatError(f"message has the key {key!r} twice in one object")
        result[key] = value
    return result


def _too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether objects and lists nest deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _text(body: bytes | str) -> str:
    """The JSON text of a body: raw or base64-decoded."""
    if isinstance(body, str):
        text = body
    else:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JobFormatError("message is neither UTF-8 JSON nor base64 of it") from None
    stripped = text.strip()
    if not stripped:
        raise JobFormatError("message is empty")
    if stripped[0] not in "{[":
        try:
            text = base64.b64decode(stripped, validate=True).decode("utf-8-sig")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise JobFormatError("message is neither JSON nor base64 of JSON") from None
    return text


def _decode(body: bytes | str) -> Any:
    text = _text(body)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, RecursionError) as e:
        # The position lets a person fix a hand-written job file (`imaginem submit job.json`).
        detail = f"{e.msg} at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) \
            else "nested too deeply"
        raise JobFormatError(f"message is not valid JSON: {detail}") from None


def check_key(value: Any, name: str) -> str:
    """``value`` as a batch or job id, or ``JobFormatError`` saying why no job can have it."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise JobFormatError(f"{name} must be a string, not {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise JobFormatError(f"{name} must not be empty")
    if len(text) > 255:
        raise JobFormatError(f"{name} is {len(text)} characters long; at most 255")
    if _KEY_FORBIDDEN.search(text):
        raise JobFormatError(f"{name} {text!r} contains / \\ # ? or a control character")
    if text.strip() in (".", ".."):
        raise JobFormatError(f"{name} {text!r} is not a usable name")
    return text


def parse_job(
    body: bytes | str | Mapping[str, Any],
    *,
    default_pipeline: Sequence[str] = (),
    resolve: PipelineResolver | None = None,
    known_queue: QueueCheck | None = None,
    max_steps: int = DEFAULT_MAX_PIPELINE_STEPS,
) -> Job:
    """Read a job from a queue message body (raw JSON, base64 JSON, or an already-decoded dict).

    Without ``processing_pipeline`` the pipeline is ``resolve(input.image_classifiers)``, or
    ``default_pipeline`` when the job names no classifiers either. With ``known_queue`` every
    queue of the pipeline must be one somebody serves; a pipeline is at most ``max_steps`` long.
    """
    message = dict(body) if isinstance(body, Mapping) else _decode(body)
    if _too_deep(message):
        raise JobFormatError(f"message nests objects or lists deeper than {MAX_NESTING} levels")
    if isinstance(body, Mapping):
        message = copy.deepcopy(message)
    if not isinstance(message, dict):
        raise JobFormatError(f"message must be a JSON object, not {type(message).__name__}")
    definition = message.get("job_definition")
    if not isinstance(definition, dict):
        raise JobFormatError("job_definition is missing or not an object")

    if "id" not in definition:
        raise JobFormatError("job_definition.id is missing")
    job_id = check_key(definition["id"], "job_definition.id")
    batch_id = check_key(definition.get("batch_id", DEFAULT_BATCH_ID), "job_definition.batch_id")

    inputs = definition.get("input")
    if not isinstance(inputs, dict):
        raise JobFormatError("job_definition.input is missing or not an object")
    image_url = inputs.get("image_url")
    if not isinstance(image_url, str) or not image_url.strip():
        raise JobFormatError("job_definition.input.image_url is missing or not a string")
    params = inputs.get("image_parameters", {})
    if not isinstance(params, dict):
        raise JobFormatError("job_definition.input.image_parameters must be an object")

    pipeline = definition.get("processing_pipeline")
    if pipeline is None:
        pipeline = _derive_pipeline(inputs.get("image_classifiers"), default_pipeline, resolve)
    if not isinstance(pipeline, list) or not pipeline:
        raise JobFormatError("job_definition.processing_pipeline must be a non-empty list of queue names")
    if len(pipeline) > max_steps:
        raise JobFormatError(
            f"job_definition.processing_pipeline has {len(pipeline)} steps; at most {max_steps} (MAX_PIPELINE_STEPS)"
        )
    for i, name in enumerate(pipeline):
        where = f"job_definition.processing_pipeline[{i}] {name!r}"
        if not is_queue_name(name):
            raise JobFormatError(f"{where} is not a queue name (3-63 lowercase letters, digits and single hyphens)")
        if name.endswith(POISON_SUFFIX):
            raise JobFormatError(f"{where} is a poison queue, not a step")
        if known_queue is not None and not known_queue(name):
            raise JobFormatError(
                f"{where} is a queue nobody serves: not a classifier of dependencies.json nor in EXTERNAL_QUEUES"
            )

    step = definition.get("processing_step", 0)
    if isinstance(step, bool) or not isinstance(step, int):
        raise JobFormatError(f"job_definition.processing_step must be an integer, not {step!r}")
    if step < 0:
        raise JobFormatError(f"job_definition.processing_step {step} is negative")
    if step >= len(pipeline):
        raise JobFormatError(
            f"processing_step {step} is past the end of processing_pipeline ({len(pipeline)} queues)"
        )

    output = message.get("job_output", {})
    if output is None:
        output = {}
    if not isinstance(output, dict):
        raise JobFormatError(f"job_output must be an object, not {type(output).__name__}")

    definition["id"] = job_id
    definition["batch_id"] = batch_id
    definition["processing_pipeline"] = list(pipeline)
    definition["processing_step"] = step
    message["job_output"] = output
    return Job(
        id=job_id,
        batch_id=batch_id,
        image_url=image_url.strip(),
        processing_pipeline=tuple(pipeline),
        processing_step=step,
        job_output=output,
        _message=message,
    )


def _derive_pipeline(
    classifiers: Any, default_pipeline: Sequence[str], resolve: PipelineResolver | None
) -> list[str]:
    if classifiers is None or classifiers == []:
        if not default_pipeline:
            raise JobFormatError("job_definition.processing_pipeline is missing and no default is configured")
        return list(default_pipeline)
    if not isinstance(classifiers, list) or not all(isinstance(c, str) for c in classifiers):
        raise JobFormatError("job_definition.input.image_classifiers must be a list of classifier names")
    if resolve is None:
        return list(classifiers)
    try:
        return list(resolve(classifiers))
    except ConfigurationError as e:
        raise JobFormatError(f"job_definition.input.image_classifiers: {e}") from None


@dataclass(frozen=True)
class Identity:
    """Who a message that could not be parsed says it is: enough to record why it was refused."""

    batch_id: str
    job_id: str
    step: int
    fingerprint: str


def identify(body: bytes | str) -> Identity | None:
    """The batch, id and step a broken message names, read leniently (trailing text and repeated
    keys tolerated), or None when it names no usable job."""
    try:
        text = _text(body).lstrip()
        message, _ = json.JSONDecoder().raw_decode(text)
        definition = message.get("job_definition") if isinstance(message, dict) else None
        if not isinstance(definition, dict) or "id" not in definition:
            return None
        job_id = check_key(definition["id"], "id")
        batch_id = check_key(definition.get("batch_id", DEFAULT_BATCH_ID), "batch_id")
        step = definition.get("processing_step", 0)
        step = step if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < 10_000 else 0
        fields = {**definition, "id": job_id, "batch_id": batch_id}
        return Identity(batch_id=batch_id, job_id=job_id, step=step, fingerprint=_fingerprint(fields))
    except (JobFormatError, ValueError, RecursionError, TypeError):
        return None


def next_queue_named(body: bytes | str) -> str | None:
    """The queue a message's job goes to after this step (``processing_pipeline[processing_step + 1]``),
    read leniently; None for a last step or a message that names none. A hint for the host's polling,
    not a parse: the step itself decides where the job goes."""
    try:
        message, _ = json.JSONDecoder().raw_decode(_text(body).lstrip())
        definition = message.get("job_definition") if isinstance(message, dict) else None
        if not isinstance(definition, dict):
            return None
        pipeline, step = definition.get("processing_pipeline"), definition.get("processing_step", 0)
        if not isinstance(pipeline, list) or not isinstance(step, int) or not 0 <= step < len(pipeline) - 1:
            return None
        queue = pipeline[step + 1]
        return queue if isinstance(queue, str) else None
    except (JobFormatError, ValueError, RecursionError, TypeError):
        return None
