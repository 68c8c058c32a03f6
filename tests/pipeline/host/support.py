"""Running the local host in tests: in a thread, or as the `imaginem host` command with its log in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.host.localhost import LocalHost
from pipeline.job_record import PIPELINELOGS
from pipeline.storage import Storage

HOST_JSON: dict[str, Any] = {
    "version": "2.0",
    "functionTimeout": "00:01:00",
    "extensions": {"queues": {"messageEncoding": "none", "batchSize": 4, "newBatchThreshold": 2,
                              "maxDequeueCount": 5, "visibilityTimeout": "00:00:01",
                              "maxPollingInterval": "00:00:00.200"}},
}


def until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting {what}"
        time.sleep(0.05)


def finished(storage: Storage, batch: str, job: str) -> bool:
    try:
        return "job_output" in storage.table(PIPELINELOGS).get_entity(batch, job)
    except Exception:
        return False


class Threaded:
    """A LocalHost serving in a thread of the test process."""

    def __init__(self, host: LocalHost) -> None:
        self.host = host
        self.thread = threading.Thread(target=host.serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.host.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


class HostCommand:
    """`imaginem host` as a user runs it, in its own process group, its output in ``log``."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str], host_json: dict[str, Any] = HOST_JSON) -> None:
        config = tmp / "host.json"
        config.write_text(json.dumps(host_json), encoding="utf-8")
        self.log = tmp / "host.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "host", "--host-json", str(config), *args],
                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        """The worker processes (children started through multiprocessing's spawn, not its resource tracker)."""
        pids = []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        for pid in map(int, children):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "multiprocessing" in command and "resource_tracker" not in command:
                pids.append(pid)
        return pids

    def interrupt(self) -> int:
        """Ctrl-C in the terminal (SIGINT to the group); the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(60)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
