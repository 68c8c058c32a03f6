"""The host rides out a storage outage (issue 13.1): Azurite stopped by its pid while jobs are in flight and queued."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.host.azurite import free_port, start_azurite
from pipeline.storage import Storage
from tests.pipeline.helpers import job_message
from tests.pipeline.host.support import HostCommand, finished, until

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

OUTAGE_SECONDS = 6.0
"""Longer than the first poll back-offs (0.2, 0.4, 0.8, 1.6, 3.2 s)."""


def test_jobs_in_flight_and_queued_finish_after_storage_returns(tmp_path: Path, unique: str) -> None:
    emulator = start_azurite(location=tmp_path / "azurite")  # persisting: queued messages survive the stop
    ports = (emulator.blob_port, emulator.queue_port, emulator.table_port)
    storage = Storage(emulator.connection_string)
    names = [f"o1{unique}", f"o2{unique}"]
    jobs = [f"job-{i}" for i in range(8)]
    host = HostCommand(tmp_path, "--app", "tests.pipeline.host.slow_app:app", "--workers", "2",
                       "--port", str(free_port()),
                       env={"AzureWebJobsStorage": emulator.connection_string,
                            "IMAGINEM_TEST_QUEUES": ",".join(names), "IMAGINEM_TEST_STEP_SECONDS": "1"})
    try:
        until(lambda: len(host.worker_pids()) == 2, 60, "for two workers")
        for job in jobs:
            storage.queue(names[0]).send_message(json.dumps(job_message(job, names, batch_id=unique)))
        until(lambda: "step 0: success" in host.output(), 60, "for the first step")  # others in flight, queued
        emulator.stop()  # SIGTERM to its pid: Azurite saves its data and ends
        time.sleep(OUTAGE_SECONDS)
        emulator = start_azurite(ports=ports, location=tmp_path / "azurite")
        back = time.monotonic()
        done_before = {j for j in jobs if finished(storage, unique, j)}
        until(lambda: any(finished(storage, unique, j) for j in jobs if j not in done_before), 120, "for a job")
        print(f"\nfirst job finished {time.monotonic() - back:.1f} s after storage returned "
              f"(outage {OUTAGE_SECONDS:g} s)")
        until(lambda: all(finished(storage, unique, j) for j in jobs), 180, "for every job")
        assert host.process.poll() is None, host.output()
        assert len(host.worker_pids()) == 2
        assert host.interrupt() == 0, host.output()
    finally:
        host.kill()
        emulator.stop()
    output = host.output()
    # Once per worker that polled during the outage (a worker busy in steps meets it as step retries
    # instead), and each outage's end is logged too.
    outages = output.count("storage unreachable")
    assert 1 <= outages <= 2, output
    assert output.count("storage reachable again") == outages, output
    assert "restarting" not in output and "Traceback" not in output
