"""Leases on received queue messages: renewed while they wait and run, bounded by ``functionTimeout``.

As the Functions host does, a message is received invisible for a lease and its visibility is
renewed (``update_message``, which returns a new pop receipt) while its step runs, so a step slower
than the lease is not delivered a second time. A step that runs past ``functionTimeout`` ends its
lease and is handed to ``on_timeout``, which fails the invocation.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from pipeline.untrusted import one_line

__all__ = ["Lease", "Leases"]

_log = logging.getLogger(__name__)


class Lease:
    """One received message: its current pop receipt, and when its step started."""

    def __init__(self, *, queue: str, client: QueueClient, message: Any, now: float) -> None:
        self.queue = queue
        self.client = client
        self.message = message
        self.receipt: str = message.pop_receipt
        self.renewed = now
        self.started: float | None = None
        self.lock = threading.Lock()
        self.ended = False
        self.warned = False

    def start(self, now: float) -> None:
        """The step begins: from now on ``functionTimeout`` counts."""
        self.started = now

    def end(self) -> str | None:
        """Stop renewing; the pop receipt to settle the message with, or None when the lease is already over."""
        with self.lock:
            if self.ended:
                return None
            self.ended = True
            return self.receipt


class Leases:
    """The leases a worker holds, renewed every third of ``lease_seconds`` by one thread."""

    def __init__(self, *, lease_seconds: float, function_timeout: float | None,
                 on_timeout: Callable[[Lease, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.lease_seconds = max(1, math.ceil(lease_seconds))  # the queue service counts whole seconds
        self._function_timeout = function_timeout
        self._on_timeout = on_timeout
        self._clock = clock
        self._held: set[Lease] = set()
        self._lock = threading.Lock()

    @property
    def tick(self) -> float:
        """How often ``run`` looks at the leases."""
        limits = [self.lease_seconds / 3, 1.0] + ([self._function_timeout / 4] if self._function_timeout else [])
        return max(0.05, min(limits))

    def hold(self, queue: str, client: QueueClient, message: Any) -> Lease:
        lease = Lease(queue=queue, client=client, message=message, now=self._clock())
        with self._lock:
            self._held.add(lease)
        return lease

    def drop(self, lease: Lease) -> None:
        lease.end()
        with self._lock:
            self._held.discard(lease)

    def held(self) -> list[Lease]:
        with self._lock:
            return list(self._held)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.tick):
            self.look()

    def look(self) -> None:
        """Renew the leases due for it and time out the steps past ``functionTimeout``."""
        for lease in self.held():
            now = self._clock()
            if self._function_timeout and lease.started is not None and now - lease.started > self._function_timeout:
                receipt = lease.end()
                if receipt is not None:
                    self.drop(lease)
                    self._on_timeout(lease, receipt)
            elif now - lease.renewed >= self.lease_seconds / 3:
                self._renew(lease, now)

    def _renew(self, lease: Lease, now: float) -> None:
        with lease.lock:
            if lease.ended:
                return
            try:
                # No SDK retries: the next look retries, well before the lease runs out.
                updated = lease.client.update_message(lease.message.id, lease.receipt,
                                                      visibility_timeout=self.lease_seconds, retry_total=0)
            except ResourceNotFoundError as e:
                lease.ended = True
                _log.warning("%s: lost the lease of message %s (it may run again elsewhere): %s", lease.queue,
                             one_line(lease.message.id), one_line(e))
                return
            except AzureError as e:
                lease.renewed = now - self.lease_seconds / 6  # try again in a sixth of the lease
                level = logging.DEBUG if lease.warned else logging.WARNING
                lease.warned = True
                _log.log(level, "%s: could not renew the lease of message %s: %s: %s", lease.queue,
                         one_line(lease.message.id), type(e).__name__, one_line(e))
                return
            lease.receipt = str(updated.pop_receipt)
            lease.renewed = now
