"""When a worker polls each trigger queue: every queue with a back-off of its own, as in Functions.

A Functions queue listener polls its queue again at once after it found messages, and after an
empty poll waits a back-off that doubles up to ``maxPollingInterval``; when a function of the same
host sends to a queue, that queue's listener is told and polls at once (the WebJobs SDK's shared
queue watcher). ``PollSchedule`` keeps those times for one worker's queues: ``due`` lists the
queues to poll now, the nudged ones first; ``polled`` records what a poll found; ``nudge`` says a
message was just sent there (the local host nudges the queue a finished step's job went to next);
``wait`` is how long the worker may sleep before some queue is due.

Queues known to be empty are not polled again each time a message finishes: on two cores with
seven queues those empty polls cost the storage account and the worker as much as a classifier.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

__all__ = ["FIRST_BACKOFF", "PollSchedule"]

FIRST_BACKOFF = 0.05
"""Seconds after a queue's first empty poll before it is polled again; doubled after each one."""


class PollSchedule:
    """Per-queue poll times for one worker (not thread-safe: the worker holds its lock around calls)."""

    def __init__(self, queues: Iterable[str], *, max_interval: float, first: float = FIRST_BACKOFF,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._order = list(dict.fromkeys(queues))
        self._max = max(0.0, max_interval)
        self._first = min(first, self._max) if self._max else first
        self._clock = clock
        now = clock()
        self._due = dict.fromkeys(self._order, now)
        self._backoff = dict.fromkeys(self._order, 0.0)
        self._nudged: list[str] = []

    def due(self) -> list[str]:
        """The queues to poll now: nudged ones first (most recent first), then the rest in their order."""
        now = self._clock()
        ready = [q for q in self._order if self._due[q] <= now]
        first = [q for q in reversed(self._nudged) if q in ready]
        return list(dict.fromkeys([*first, *ready]))

    def polled(self, queue: str, received: int) -> None:
        """A poll of ``queue`` returned ``received`` messages: due again at once if any, else after its back-off."""
        if queue not in self._due:
            return
        if queue in self._nudged:
            self._nudged.remove(queue)
        if received:
            self._backoff[queue] = 0.0
            self._due[queue] = self._clock()
            return
        backoff = min(self._max, max(self._first, self._backoff[queue] * 2))
        self._backoff[queue] = backoff
        self._due[queue] = self._clock() + backoff

    def nudge(self, queue: str) -> None:
        """A message was just sent to ``queue``: poll it next, at once."""
        if queue not in self._due:
            return
        self._backoff[queue] = 0.0
        self._due[queue] = self._clock()
        if queue in self._nudged:
            self._nudged.remove(queue)
        self._nudged.append(queue)

    def wait(self, among: Iterable[str] | None = None) -> float:
        """Seconds until the next of ``among`` (default: every queue) is due; 0 when one is due now."""
        times = [self._due[q] for q in (self._order if among is None else among) if q in self._due]
        if not times:
            return self._max
        return max(0.0, min(times) - self._clock())
