"""The DELETE routes on the local host (cross-site rule, what they answer, the audit) and the retention
schedule: its timer runs on the local host, and expired working copies, linked content and faces go."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
import requests

from dashboard.forget import FORGET_HEADER, PRINCIPAL_HEADER, forget_blueprint
from pipeline.forget.audit import ERASURES_TABLE
from pipeline.forget.build import build_eraser
from pipeline.forget.retention import Retention
from pipeline.forget.timer import RETENTION_SCHEDULE, retention_blueprint
from pipeline.host.azurite import free_port
from pipeline.host.localhost import LocalHost, triggers_of
from pipeline.host.timers import TimerTrigger
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from tests.forget.search import find_everywhere
from tests.forget.synthetic import Synthetic, random_id
from tests.pipeline.host.support import Threaded, until

pytestmark = pytest.mark.azurite

CONFIG = QueueConfig(batch_size=1, new_batch_threshold=0, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.1, message_encoding="none", lease_seconds=5, function_timeout=60)


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, list[datetime]]]:
    """The forget routes and a timer firing every second, on a local host."""
    ticks: list[datetime] = []
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(forget_blueprint(settings))
    ticker = func.Blueprint()

    @ticker.function_name("tick")
    @ticker.timer_trigger(arg_name="timer", schedule="*/1 * * * * *")
    def tick(timer: func.TimerRequest) -> None:
        ticks.append(datetime.now(UTC))

    app.register_functions(ticker)
    port = free_port()
    running = Threaded(LocalHost(app=app, settings=settings, config=CONFIG, http_port=port))
    until(running.host.ready.is_set, what="for the host")
    yield f"http://127.0.0.1:{port}/api", ticks
    running.stop()


def test_delete_routes_need_the_header_erase_and_audit_without_ids(
        served: tuple[str, list[datetime]], services: Services) -> None:
    api, ticks = served
    storage = services.storage
    batch = random_id("http")
    database = Database.from_settings(services.settings)
    data = Synthetic(storage=storage, database=database, index=services.face_index)
    data.job(batch, "a", people=[data.person()])
    data.job(batch, "b")

    refused = requests.delete(f"{api}/batches/{batch}/jobs/a", timeout=30)
    assert refused.status_code == 403 and FORGET_HEADER in refused.json()["error"]
    assert storage.table(PIPELINELOGS).get_entity(batch, "a")

    headers = {FORGET_HEADER: "1", PRINCIPAL_HEADER: "someone@example.com"}
    job = requests.delete(f"{api}/batches/{batch}/jobs/a", headers=headers, timeout=60)
    assert job.status_code == 200, job.text
    assert job.json()["complete"] and {s["store"] for s in job.json()["stores"]} >= {"pipelinelogs", "sql", "blobs"}
    whole = requests.delete(f"{api}/batches/{batch}", headers=headers, timeout=60)
    assert whole.status_code == 200 and whole.json()["complete"]
    nobody = requests.delete(f"{api}/people/no-such-face", headers=headers, timeout=60)
    assert nobody.status_code == 200
    assert find_everywhere(storage, database, [batch, "someone@example.com"]) == []
    audits = [a for a in storage.table(ERASURES_TABLE).list_entities()
              if a.get("trigger") == "http" and "requested_by" in a]
    assert {"job", "batch", "person"} <= {a["kind"] for a in audits}
    assert all(len(a["requested_by"]) == 64 for a in audits)  # a salted hash, never the name
    until(lambda: len(ticks) >= 1, what="the local host to run the timer")  # it fires every second
    database.close()


def test_the_retention_timer_is_wired_with_its_daily_schedule() -> None:
    app = func.FunctionApp()
    app.register_functions(retention_blueprint(Settings()))
    timers: list[TimerTrigger] = []
    triggers_of(app, timers)
    assert [(t.function_name, t.schedule) for t in timers] == [("retention", RETENTION_SCHEDULE)]


def test_retention_expires_old_copies_and_faces_and_keeps_the_rest(services: Services) -> None:
    settings = replace(services.settings, face_retention_days=1)
    storage = services.storage
    database = Database.from_settings(settings)
    data = Synthetic(storage=storage, database=database, index=services.face_index)
    batch = random_id("keep")
    faces = data.job(batch, "old", people=[data.person()])
    data.snapshot()
    retention = Retention(settings=settings, storage=storage, eraser=build_eraser(services))

    soon = retention.apply(datetime.now(UTC) + timedelta(hours=2))  # faces one day old not yet: nothing goes
    assert soon.faces is not None and soon.faces.complete
    assert storage.container("workingcopies").get_blob_client(f"{batch}/old/original").exists()
    assert find_everywhere(storage, database, [faces[0].face_id]) != []

    later = retention.apply(datetime.now(UTC) + timedelta(days=8))
    assert later.faces is not None and later.faces.complete, [s.summary() for s in later.faces.stores]
    assert not storage.container("workingcopies").get_blob_client(f"{batch}/old/original").exists()
    assert find_everywhere(storage, database, [faces[0].face_id]) == []
    entity = storage.table(PIPELINELOGS).get_entity(batch, "old")  # the job and its photo stay
    assert json.loads(entity["faceprint_output"])["faces"] == [{"forgotten": True}]
    assert storage.container("inputimages").get_blob_client(f"{batch}/old").exists()
    database.close()


def test_next_fire_reads_ncrontab() -> None:
    from pipeline.host.timers import next_fire

    monday = datetime(2026, 12, 7, 2, 17, 3, tzinfo=UTC)
    assert next_fire("0 30 3 * * *", monday) == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    assert next_fire("*/5 * * * * *", monday) == datetime(2026, 12, 7, 2, 17, 5, tzinfo=UTC)
    assert next_fire("0 0 0 * * 0", monday) == datetime(2026, 12, 13, tzinfo=UTC)
    with pytest.raises(ValueError):
        next_fire("0 0 25 * * *", monday)
