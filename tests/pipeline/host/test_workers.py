"""A worker process that dies is replaced (issue 9.8), with a real `imaginem host --workers 2`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from pipeline.host.azurite import free_port
from pipeline.services import Services
from tests.pipeline.helpers import job_message
from tests.pipeline.host.support import HostCommand, finished, until

pytestmark = pytest.mark.azurite


def test_a_killed_worker_is_restarted_and_the_host_carries_on(
    services: Services, unique: str, tmp_path: Path
) -> None:
    names = [f"k1{unique}", f"k2{unique}"]
    host = HostCommand(tmp_path, "--app", "tests.pipeline.noop_app:app", "--workers", "2", "--port", str(free_port()),
                       env={"IMAGINEM_TEST_QUEUES": ",".join(names)})
    try:
        until(lambda: len(host.worker_pids()) == 2, 60, "for two workers")
        victim = host.worker_pids()[1]
        os.kill(victim, signal.SIGKILL)

        until(lambda: "restarted" in host.output(), 30, "for the restart")
        until(lambda: len(host.worker_pids()) == 2 and victim not in host.worker_pids(), 30, "for a new worker")
        for i in range(4):
            services.storage.queue(names[0]).send_message(json.dumps(job_message(f"job-{i}", names, batch_id=unique)))
        until(lambda: all(finished(services.storage, unique, f"job-{i}") for i in range(4)), 60, "for the jobs")
        assert host.process.poll() is None
        assert host.interrupt() == 0, host.output()
    finally:
        host.kill()
    output = host.output()
    assert "was killed by SIGKILL; restarting it in 1 s" in output
    assert "Traceback" not in output and "stopped" in output
