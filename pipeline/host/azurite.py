"""Start the pinned Azurite emulator (from node_modules) on free or given ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigurationError
from pipeline.settings import azurite_connection_string

__all__ = ["Azurite", "find_azurite", "free_port", "start_azurite"]

_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as node binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def find_azurite() -> str:
    local = _ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise ConfigurationError("azurite is not installed: run `npm ci` in the project folder")


@dataclass
class Azurite:
    process: subprocess.Popen[bytes]
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(blob=self.blob_port, queue=self.queue_port, table=self.table_port)

    def stop(self) -> None:
        """Stop Azurite and anything it started (its own process group)."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()

    def _signal(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def start_azurite(
    *, ports: tuple[int, int, int] | None = None, location: Path | None = None, quiet: bool = True
) -> Azurite:
    """Start Azurite in memory (or persisting to ``location``) and wait until it listens."""
    blob, queue, table = ports or (free_port(), free_port(), free_port())
    taken = [p for p in (blob, queue, table) if _taken(p)]
    if taken:  # else the readiness probe below would find whatever listens there
        raise ConfigurationError(f"port {', '.join(map(str, taken))} on 127.0.0.1 is taken (another Azurite?); "
                                 "stop it or choose other ports (--blob-port)")
    args = [
        find_azurite(), "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose",
        "--blobHost", "127.0.0.1", "--blobPort", str(blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(table),
    ]
    if location is None:
        args.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(location)]
    out = subprocess.DEVNULL if quiet else None
    # Its own process group: a Ctrl-C to ours does not kill it under a host still writing; stop() ends it.
    process = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True)
    emulator = Azurite(process=process, blob_port=blob, queue_port=queue, table_port=table)
    try:
        _wait_until_listening(process, (blob, queue, table))
    except BaseException:  # a timeout, or Ctrl-C/SIGTERM while it starts: it must not outlive us
        emulator.stop()
        raise
    return emulator


def _wait_until_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...]) -> None:
    deadline = time.monotonic() + 30
    for port in ports:
        while True:
            if process.poll() is not None:
                raise ConfigurationError(f"azurite exited with code {process.returncode}; are the ports free?")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ConfigurationError("azurite did not start within 30 s") from None
                time.sleep(0.1)
