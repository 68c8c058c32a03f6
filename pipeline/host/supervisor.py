"""Worker processes kept alive: one that dies is restarted after a back-off, and the log says so.

A worker that exits with ``EXIT_CONFIG`` found a configuration error that a restart cannot fix:
then every worker is stopped and ``run`` raises ``ConfigurationError``. Any other end (a crash,
``kill -9``, a step past ``functionTimeout``) is a restart, one second later at first, doubling up
to ``restart_limit`` while the worker keeps dying young.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from pipeline.errors import ConfigurationError

__all__ = ["EXIT_CONFIG", "EXIT_TIMED_OUT", "Supervisor"]

_log = logging.getLogger(__name__)

EXIT_CONFIG = 4
"""A worker's exit code for a configuration error: the host stops instead of restarting it."""
EXIT_TIMED_OUT = 75
"""A worker's exit code after one of its steps ran past functionTimeout (it cannot be cancelled)."""
_HEALTHY_SECONDS = 60.0
"""A worker that lived this long before dying is restarted after the first back-off again."""


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    started: float = 0.0
    restarts: int = 0
    restart_at: float = 0.0


def _ending(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    if code == EXIT_TIMED_OUT:
        return "stopped because a step ran past functionTimeout"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, *, start: Callable[[int], BaseProcess], count: int, stop: threading.Event,
                 restart_first: float = 1.0, restart_limit: float = 30.0, shutdown_seconds: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``start(i)`` starts worker ``i`` and returns its process; ``stop`` ends ``run``."""
        self._start = start
        self._slots = [_Slot(i) for i in range(count)]
        self._stop = stop
        self._first = restart_first
        self._limit = restart_limit
        self._shutdown_seconds = shutdown_seconds
        self._clock = clock

    def pids(self) -> list[int | None]:
        """The process id of each worker, None while one waits to be restarted."""
        return [s.process.pid if s.process is not None and s.process.is_alive() else None for s in self._slots]

    def run(self) -> None:
        try:
            for slot in self._slots:
                self._launch(slot)
            while not self._stop.wait(0.2):
                for slot in self._slots:
                    self._watch(slot)
        finally:
            self._shutdown()

    def _launch(self, slot: _Slot) -> None:
        slot.process = self._start(slot.index)
        slot.started = self._clock()

    def _watch(self, slot: _Slot) -> None:
        now = self._clock()
        if slot.process is None:
            if now >= slot.restart_at:
                self._launch(slot)
                _log.warning("worker%d restarted (pid %s)", slot.index, slot.process.pid if slot.process else "?")
            return
        if slot.process.is_alive():
            return
        code = slot.process.exitcode
        slot.process = None
        if code == EXIT_CONFIG:
            raise ConfigurationError(f"worker{slot.index} stopped on a configuration error (see its log above)")
        if now - slot.started >= _HEALTHY_SECONDS:
            slot.restarts = 0
        delay = min(self._limit, self._first * 2 ** slot.restarts)
        slot.restarts += 1
        slot.restart_at = now + delay
        _log.error("worker%d %s; restarting it in %g s (its messages in hand return when their leases run out)",
                   slot.index, _ending(code), delay)

    def _shutdown(self) -> None:
        running = [s.process for s in self._slots if s.process is not None]
        for process in running:
            if process.is_alive() and process.pid is not None:
                _signal(process.pid, signal.SIGTERM)
        deadline = self._clock() + self._shutdown_seconds
        for process in running:
            process.join(max(0.0, deadline - self._clock()))
            if process.is_alive() and process.pid is not None:
                _log.warning("%s did not stop within %g s; killed (its messages return when their leases run out)",
                             process.name, self._shutdown_seconds)
                _signal(process.pid, signal.SIGKILL)
                process.join()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
