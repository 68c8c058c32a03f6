"""The pipelineoutput classifier: built from the settings, on every engine, and behind the step runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from classifiers.pipelineoutput import NAME, PipelineoutputClassifier, build
from pipeline.classifier import NO_CONTEXT, StepContext
from pipeline.dependencies import Dependencies
from pipeline.errors import RetryableError
from pipeline.host.azurite import Azurite, free_port
from pipeline.job import parse_job
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.queries import ResultsQueries
from pipeline.step import Outcome, StepRunner
from pipeline.storage import Storage
from tests.pipeline.classifiers import Boom, Noop
from tests.pipeline.sql.conftest import Engine
from tests.pipeline.sql.helpers import job_message
from tests.support.pgserver import PostgresServer

pytestmark = pytest.mark.sql


def services_for(settings: Settings, azurite: Azurite) -> Services:
    settings = replace(settings, storage_connection_string=azurite.connection_string)
    return Services(settings=settings, storage=Storage(settings.storage_connection_string),
                    dependencies=Dependencies.load())


def test_the_classifier_writes_the_job_and_reports_engine_and_labels(engine: Engine, azurite: Azurite) -> None:
    classifier = build(services_for(engine.settings, azurite))
    assert isinstance(classifier, PipelineoutputClassifier)
    assert (classifier.name, classifier.needs_image) == (NAME, False)
    job = parse_job(job_message("job-1", tags=[("cat", 0.9)], text="Hello world"))

    output = classifier(job, None, NO_CONTEXT)

    expected_engine = {"sqlite-embedded": "SQLite (embedded)", "sqlite-odbc": "SQLite",
                       "postgresql": "PostgreSQL"}[engine.name]
    assert output == {"done": True, "engine": expected_engine, "labels": 3, "outcome": "succeeded"}
    database = engine.database()
    row = ResultsQueries(database=database).job("job-1")
    database.close()
    assert row is not None and row["job_output"] == job.to_dict()["job_output"]
    assert row["outcome"] == "succeeded"


def test_a_job_whose_earlier_steps_failed_is_still_written(make_engine: Callable[[str], Engine],
                                                           azurite: Azurite) -> None:
    engine = make_engine("sqlite-embedded")
    message = job_message("job-1")
    message["job_output"] = {"generalclassification": None, "ocr": {}, "facematch": {"matches": "oops"}}

    output = build(services_for(engine.settings, azurite))(parse_job(message), None, NO_CONTEXT)

    assert output == {"done": True, "engine": "SQLite (embedded)", "labels": 0, "outcome": "succeeded"}
    database = engine.database()
    assert [row.id for row in ResultsQueries(database=database).recent_jobs()] == ["job-1"]
    database.close()


@pytest.mark.azurite
def test_a_database_outage_is_recorded_in_pipelinelogs_and_raised_for_a_retry(
    services: Services, unique: str, postgres: PostgresServer
) -> None:
    dead = postgres.odbc_connection_string(port=free_port())
    settings = replace(services.settings, sql_connection_string=dead)
    runner = StepRunner(services=services, max_dequeue_count=3)
    classifier = build(replace(services, settings=settings))
    message = job_message("job-1", batch_id=f"batch{unique}")
    message["job_definition"]["processing_pipeline"] = ["pipelineoutput"]
    message["job_definition"]["processing_step"] = 0

    with pytest.raises(RetryableError):
        runner.run(json.dumps(message), queue=NAME, classifier=classifier, dequeue_count=1)

    entity = services.storage.table(PIPELINELOGS).get_entity(f"batch{unique}", "job-1")
    assert entity[NAME] == "step 0: processing"
    recorded = entity[f"{NAME}_exception"]
    assert recorded.startswith("RetryableError: PostgreSQL at 127.0.0.1:")
    assert "cannot connect" in recorded and recorded.endswith("(attempt 1 of 3, will retry)")
    assert postgres.password not in recorded


@pytest.mark.azurite
def test_the_last_step_writes_the_job_and_logs_success(services: Services, unique: str) -> None:
    runner = StepRunner(services=services, max_dequeue_count=3)
    classifier = build(services)  # no SQL_CONNECTION_STRING: the embedded file in the data folder
    message = job_message("job-1", batch_id=f"batch{unique}", tags=[("cat", 0.9)])
    message["job_definition"]["processing_pipeline"] = ["pipelineoutput"]
    message["job_definition"]["processing_step"] = 0

    assert runner.run(json.dumps(message), queue=NAME, classifier=classifier) is Outcome.SUCCESS

    entity = services.storage.table(PIPELINELOGS).get_entity(f"batch{unique}", "job-1")
    assert entity[NAME] == "step 0: success"
    assert json.loads(entity[f"{NAME}_output"]) == {"done": True, "engine": "SQLite (embedded)", "labels": 1,
                                                    "outcome": "succeeded"}
    database = Database.from_settings(services.settings)
    assert [row.id for row in ResultsQueries(database=database).batch_jobs(f"batch{unique}")] == ["job-1"]
    database.close()


@pytest.mark.azurite
def test_a_job_with_a_failed_step_is_written_as_finished_with_failures(services: Services, unique: str) -> None:
    """Issue 9, item 9: a job whose steps failed appeared in results like a success."""
    names = [f"boom{unique}", f"noop{unique}", NAME]
    runner = StepRunner(services=services, max_dequeue_count=3)
    for name in names[:2]:
        runner.serve(name)
    batch = f"batch{unique}"
    message = job_message("job-1", batch_id=batch, tags=[("cat", 0.9)])
    message["job_definition"]["processing_pipeline"] = names
    message["job_definition"]["processing_step"] = 0

    assert runner.run(json.dumps(message), queue=names[0], classifier=Boom(names[0])) is Outcome.FAILED
    [sent] = services.storage.queue(names[1]).receive_messages()
    assert runner.run(sent.content, queue=names[1], classifier=Noop(names[1])) is Outcome.SUCCESS
    [last] = services.storage.queue(NAME).receive_messages()
    assert runner.run(last.content, queue=NAME, classifier=build(services)) is Outcome.SUCCESS

    entity = services.storage.table(PIPELINELOGS).get_entity(batch, "job-1")
    assert json.loads(entity[f"{NAME}_output"]) == {
        "done": True, "engine": "SQLite (embedded)", "labels": 1, "outcome": "finished with failures",
        "failed_steps": [names[0]]}
    database = Database.from_settings(services.settings)
    queries = ResultsQueries(database=database)
    assert [(row.id, row.outcome) for row in queries.batch_jobs(batch)] == [("job-1", "finished with failures")]
    assert queries.recent_jobs(batch_ids=[batch], outcomes=["succeeded"]) == []
    database.close()


@pytest.mark.azurite
def test_the_outcome_follows_the_recorded_steps_over_the_message(services: Services, unique: str) -> None:
    """A step recorded as failed counts even if the message carries its key; a recorded success counts too."""
    batch = f"batch{unique}"
    classifier = build(services)
    failed = job_message("job-1", batch_id=batch, tags=[("cat", 0.9)])
    succeeded = job_message("job-2", batch_id=batch)
    del succeeded["job_output"]["generalclassification"]

    assert classifier(parse_job(failed), None, StepContext(record={"generalclassification": "step 0: failed"})
                      )["outcome"] == "finished with failures"
    assert classifier(parse_job(succeeded), None, StepContext(record={"generalclassification": "step 0: success"})
                      )["outcome"] == "succeeded"
