"""Issue 23, item 2: `imaginem azurite &` then `imaginem host` at once: the host waits for storage to listen."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.errors import StorageUnreachableError
from pipeline.host.azurite import free_port, start_azurite
from pipeline.host.storage_wait import wait_for_storage
from pipeline.settings import azurite_connection_string
from pipeline.storage import Storage
from tests.pipeline.helpers import job_message
from tests.pipeline.host.support import HostCommand, finished, until
from tests.pipeline.host.test_cli_errors import free_triple, imaginem


def test_the_wait_is_bounded_and_says_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    nowhere = free_port()
    storage = Storage(azurite_connection_string(blob=nowhere, queue=nowhere, table=nowhere))
    began = time.monotonic()
    with pytest.raises(StorageUnreachableError, match=r"did not answer within 0.5 s"):
        wait_for_storage(storage, timeout=0.5, interval=0.1)
    assert time.monotonic() - began < 10
    assert f"waiting for storage at http://127.0.0.1:{nowhere}" in caplog.text


def test_host_with_storage_down_gives_up_after_its_wait_with_exit_5() -> None:
    nowhere = free_port()
    answer = imaginem("host", "--app", "tests.pipeline.noop_app:app", "--port", str(free_port()), "--storage-wait", "1",
                      env={"AzureWebJobsStorage": azurite_connection_string(blob=nowhere, queue=nowhere,
                                                                            table=nowhere)})
    assert answer.returncode == 5, answer.stderr
    assert "waiting for storage at" in answer.stderr
    assert "storage unreachable: storage at http://127.0.0.1:" in answer.stderr
    assert "did not answer within 1 s" in answer.stderr
    assert "configuration error" not in answer.stderr and "Traceback" not in answer.stderr
    assert "dashboard:" not in answer.stderr  # printed only once the routes listen


def test_a_host_started_before_azurite_comes_up_and_runs_a_job(tmp_path: Path, unique: str) -> None:
    blob = free_triple()
    connection = azurite_connection_string(blob=blob, queue=blob + 1, table=blob + 2)
    names = [f"w1{unique}", f"w2{unique}"]
    port = free_port()
    host = HostCommand(tmp_path, "--app", "tests.pipeline.noop_app:app", "--workers", "2", "--port", str(port),
                       env={"AzureWebJobsStorage": connection, "IMAGINEM_TEST_QUEUES": ",".join(names)})
    emulator = None
    try:
        until(lambda: "waiting for storage at" in host.output(), 60, "for the host to wait")
        time.sleep(2)
        emulator = start_azurite(ports=(blob, blob + 1, blob + 2))
        until(lambda: f"dashboard: http://127.0.0.1:{port}/api/dashboard/" in host.output(), 60, "for the host")
        storage = Storage(connection)
        storage.queue(names[0]).send_message(json.dumps(job_message("job-1", names, batch_id=unique)))
        until(lambda: finished(storage, unique, "job-1"), 60, "for the job")
        assert host.interrupt() == 0, host.output()
    finally:
        host.kill()
        if emulator is not None:
            emulator.stop()
    assert "Traceback" not in host.output() and "configuration error" not in host.output()
