"""The job parser: property tests for round trips and arbitrary bytes, and the error messages users see."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dependencies import Dependencies
from pipeline.errors import JobFormatError
from pipeline.job import DEFAULT_BATCH_ID, MAX_NESTING, identify, next_queue_named, parse_job
from tests.pipeline.helpers import job_message

queue_names = st.from_regex(r"[a-z][a-z0-9]{2,20}", fullmatch=True)
keys = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\#?"),
               min_size=1, max_size=40).filter(lambda s: s.strip() == s and s.strip() and s not in (".", ".."))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    pipeline = draw(st.lists(queue_names, min_size=1, max_size=7))
    message = job_message(draw(keys), pipeline, batch_id=draw(keys),
                          step=draw(st.integers(0, len(pipeline) - 1)),
                          output=draw(st.dictionaries(st.text(max_size=10), json_values, max_size=4)))
    message["job_definition"]["input"]["image_url"] = draw(st.text(min_size=1).filter(lambda s: s.strip() == s))
    message.update(draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in message), json_values,
                                        max_size=2)))
    return message


@given(messages())
def test_round_trip_keeps_every_field(message: dict[str, Any]) -> None:
    job = parse_job(json.dumps(message).encode())
    assert job.to_dict() == message
    assert parse_job(job.to_json()) == job


@given(messages())
def test_base64_of_the_json_reads_the_same(message: dict[str, Any]) -> None:
    raw = json.dumps(message).encode()
    assert parse_job(base64.b64encode(raw)) == parse_job(raw)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_projects_own_error(body: bytes) -> None:
    try:
        parse_job(body)
    except JobFormatError:
        pass


@settings(max_examples=200)
@given(json_values)
def test_arbitrary_json_raises_only_the_projects_own_error(value: Any) -> None:
    for body in (json.dumps(value), json.dumps({"job_definition": value}),
                 json.dumps({"job_definition": {"id": "x", "input": value, "processing_pipeline": value}})):
        try:
            parse_job(body)
        except JobFormatError:
            pass


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["job_definition"].update(processing_step=9),
         r"processing_step 9 is past the end of processing_pipeline \(7 queues\)"),
        (lambda m: m["job_definition"].update(processing_step="1"), "processing_step must be an integer"),
        (lambda m: m["job_definition"].update(processing_step=-1), "processing_step -1 is negative"),
        (lambda m: m["job_definition"].pop("id"), "job_definition.id is missing"),
        (lambda m: m["job_definition"].update(id="a/b"), "job_definition.id 'a/b' contains"),
        (lambda m: m["job_definition"].update(batch_id=""), "job_definition.batch_id must not be empty"),
        (lambda m: m["job_definition"]["input"].pop("image_url"), "image_url is missing"),
        (lambda m: m["job_definition"].update(processing_pipeline=["ocr", "Not_A_Queue"]),
         r"processing_pipeline\[1\] 'Not_A_Queue' is not a queue name"),
        (lambda m: m.update(job_output=[]), "job_output must be an object"),
    ],
)
def test_errors_name_the_field_and_the_problem(change: Any, message: str) -> None:
    body = job_message("job-1", ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint",
                                 "facematch", "pipelineoutput"])
    change(body)
    with pytest.raises(JobFormatError, match=message):
        parse_job(json.dumps(body))


def test_missing_batch_id_defaults_and_is_written_back() -> None:
    body = job_message("job-1", ["ocr"])
    del body["job_definition"]["batch_id"]
    job = parse_job(json.dumps(body))
    assert job.batch_id == DEFAULT_BATCH_ID == "default"
    assert job.to_dict()["job_definition"]["batch_id"] == "default"


def test_pipeline_is_derived_from_classifiers_then_from_the_default() -> None:
    deps = Dependencies.load()
    body = job_message("job-1", ["ocr"])
    del body["job_definition"]["processing_pipeline"]
    body["job_definition"]["input"]["image_classifiers"] = ["facematch", "ocr"]
    job = parse_job(json.dumps(body), default_pipeline=["pipelineoutput"], resolve=deps.resolve)
    assert job.processing_pipeline == ("facedetection", "faceprint", "facematch", "ocr")

    body["job_definition"]["input"]["image_classifiers"] = []
    assert parse_job(json.dumps(body), default_pipeline=["ocr", "pipelineoutput"]).processing_pipeline == (
        "ocr", "pipelineoutput")

    body["job_definition"]["input"]["image_classifiers"] = ["nope"]
    with pytest.raises(JobFormatError, match="unknown classifier"):
        parse_job(json.dumps(body), resolve=deps.resolve)


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body, reason",
    [
        ('{"job_definition": {"id": "a", "id": "b", "input": {"image_url": "u"}, "processing_pipeline": ["ocr"]}}',
         "has the key 'id' twice"),
        (json.dumps(job_message("job-1", ["ocr"])) + ' {"more": 1}', "Extra data"),
        (json.dumps({**job_message("job-1", ["ocr"]), "extra": nested(600)}), f"deeper than {MAX_NESTING} levels"),
        (json.dumps(job_message(".", ["ocr"])), "job_definition.id '.' is not a usable name"),
        (json.dumps(job_message("..", ["ocr"])), "job_definition.id '..' is not a usable name"),
        (json.dumps(job_message("job-1", ["ocr"], batch_id="..")), "batch_id '..' is not a usable name"),
        (json.dumps(job_message("job-1", ["ocr", "ocr-poison"])), r"processing_pipeline\[1\] 'ocr-poison' is a poison"),
        (json.dumps(job_message("job-1", ["ocr"] * 51)), "has 51 steps; at most 50 \\(MAX_PIPELINE_STEPS\\)"),
    ],
)
def test_messages_that_would_fail_later_are_rejected_at_parse_time(body: str, reason: str) -> None:
    with pytest.raises(JobFormatError, match=reason):
        parse_job(body)


def test_a_pipeline_may_name_only_queues_somebody_serves() -> None:
    body = json.dumps(job_message("job-1", ["ocr", "nobody", "pipelineoutput"]))
    with pytest.raises(JobFormatError, match=r"processing_pipeline\[1\] 'nobody' is a queue nobody serves"):
        parse_job(body, known_queue=lambda q: q in ("ocr", "pipelineoutput"))
    assert parse_job(body, known_queue=lambda q: True).processing_pipeline[1] == "nobody"
    assert len(parse_job(json.dumps(job_message("job-1", ["ocr"] * 80)), max_steps=80).processing_pipeline) == 80


def test_an_integer_id_is_the_same_job_as_its_string_everywhere() -> None:
    as_int, as_str = job_message(7, ["ocr"]), job_message("7", ["ocr"])  # type: ignore[arg-type]
    job = parse_job(json.dumps(as_int))
    assert job.id == "7" and job.to_dict()["job_definition"]["id"] == "7"  # passed on as the string
    assert job.fingerprint == parse_job(json.dumps(as_str)).fingerprint
    named = identify(json.dumps(as_int) + "garbage")
    assert named is not None and (named.batch_id, named.job_id, named.fingerprint) == ("b1", "7", job.fingerprint)


def test_the_fingerprint_is_the_definition_without_step_or_outputs() -> None:
    base = parse_job(json.dumps(job_message("job-1", ["ocr", "pipelineoutput"])))
    later = parse_job(json.dumps(job_message("job-1", ["ocr", "pipelineoutput"], step=1, output={"ocr": {}})))
    assert later.fingerprint == base.fingerprint
    for other in (job_message("job-1", ["ocr"]), job_message("job-1", ["ocr", "pipelineoutput"], image_url="x"),
                  job_message("job-1", ["ocr", "pipelineoutput"], batch_id="b2"),
                  job_message("job-1", ["ocr", "pipelineoutput"], extra={"x": 1})):
        assert parse_job(json.dumps(other)).fingerprint != base.fingerprint
    without_batch = job_message("job-1", ["ocr", "pipelineoutput"], batch_id="default")
    del without_batch["job_definition"]["batch_id"]
    defaulted = parse_job(json.dumps(without_batch))
    assert parse_job(defaulted.advanced().to_json()).fingerprint == defaulted.fingerprint


def test_identify_reads_what_a_broken_message_names_or_nothing() -> None:
    raw = json.dumps(job_message("job-1", ["ocr"], batch_id="b9", step=0))
    for body in (raw + "}}", base64.b64encode(raw.encode()).decode(), raw.replace('"id"', '"id": "job-1", "id"')):
        named = identify(body)
        assert named is not None and (named.batch_id, named.job_id) == ("b9", "job-1")
    for body in ("not json", "[]", json.dumps(job_message("..", ["ocr"])), '{"job_definition": {"id": 1.5}}'):
        assert identify(body) is None


@pytest.mark.parametrize(("body", "expected"), [
    (json.dumps({"job_definition": {"processing_pipeline": ["a", "b", "c"], "processing_step": 1}}), "c"),
    (base64.b64encode(json.dumps({"job_definition": {"processing_pipeline": ["a", "b"]}}).encode()), "b"),
    (json.dumps({"job_definition": {"processing_pipeline": ["a", "b"], "processing_step": 1}}), None),  # the last
    (json.dumps({"job_definition": {"processing_pipeline": ["a", 7], "processing_step": 0}}), None),
    (json.dumps({"job_definition": {"processing_pipeline": "a,b", "processing_step": 0}}), None),
    (json.dumps({"job_definition": {"processing_pipeline": ["a", "b"], "processing_step": -1}}), None),
    (json.dumps({"job_definition": {"processing_pipeline": ["a", "b"], "processing_step": "0"}}), None),
    (json.dumps({"job_definition": {"processing_pipeline": ["a", "b"], "processing_step": 10**30}}), None),
    (json.dumps({"job_definition": []}), None),
    (json.dumps([1, 2]), None),
    ("[" * 100_000, None),
    (b"\xff\xfe not text", None),
    ("", None),
    ("not json at all", None),
])
def test_the_next_queue_a_message_names_is_read_leniently(body: Any, expected: str | None) -> None:
    assert next_queue_named(body) == expected
