"""A storage outage seen from a polling loop: logged once when it starts and once when it ends.

As the Functions host's queue listener does, a worker keeps polling through the outage, backing
off (doubling from ``first`` up to ``limit``) instead of dying; messages stay in the queues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pipeline.untrusted import one_line

__all__ = ["Outage"]

_log = logging.getLogger(__name__)


class Outage:
    def __init__(self, *, first: float, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._first = max(0.05, first)
        self._limit = max(self._first, limit)
        self._clock = clock
        self._since: float | None = None
        self._delay = 0.0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: Exception) -> float:
        """A poll failed: the seconds to wait before the next one."""
        if self._since is None:
            self._since = self._clock()
            self._delay = self._first
            _log.warning("storage unreachable (%s: %s); polling on with a back-off of up to %g s",
                         type(error).__name__, one_line(error), self._limit)
        else:
            self._delay = min(self._limit, self._delay * 2)
            _log.debug("storage still unreachable: %s", one_line(error))
        return self._delay

    def succeeded(self) -> None:
        if self._since is not None:
            _log.warning("storage reachable again after %.1f s; polling resumed", self._clock() - self._since)
            self._since = None
