"""`imaginem azurite` and `imaginem host` fail fast and clearly (issue 9.10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.host.azurite import free_port
from tests.pipeline.host.support import until


def imaginem(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A port someone else already listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s


def free_triple() -> int:
    """A port whose next two are free too (imaginem azurite uses three in a row)."""
    while True:
        base = free_port()
        try:
            for port in (base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue


def test_azurite_on_a_taken_port_fails_with_a_clear_message(listening: socket.socket) -> None:
    answer = imaginem("azurite", "--blob-port", str(listening.getsockname()[1]))
    assert answer.returncode == 4
    assert "is taken" in answer.stderr and "Traceback" not in answer.stderr


def test_azurite_stops_node_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "azurite.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "azurite", "--blob-port", str(free_triple())],
                                   stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        until(lambda: "AzureWebJobsStorage=" in log.read_text(), 60, "for azurite")
        [node] = map(int, Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    until(lambda: not Path(f"/proc/{node}").exists(), 15, "for node to end")


@pytest.mark.azurite
def test_host_with_its_http_port_taken_fails_with_exit_4(azurite: object, listening: socket.socket) -> None:
    answer = imaginem("host", "--app", "function_app:app", "--port", str(listening.getsockname()[1]))
    assert answer.returncode == 4, answer.stderr
    assert "cannot serve HTTP on 127.0.0.1" in answer.stderr and "Traceback" not in answer.stderr
