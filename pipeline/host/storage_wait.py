"""The host waits for storage at its start, as it waits out an outage later (``outage``).

``imaginem azurite &`` followed at once by ``imaginem host`` is the README's own recipe, and
Azurite needs a second or two to listen: a host that gave up on the first refusal failed it.
The wait is bounded; past it, storage is unreachable (StorageUnreachableError), which is not a
setting's fault and so not a ConfigurationError.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from azure.core.exceptions import AzureError

from pipeline.errors import StorageUnreachableError
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["STORAGE_WAIT_SECONDS", "wait_for_storage"]

_log = logging.getLogger(__name__)

STORAGE_WAIT_SECONDS = 30.0
"""How long a starting host waits for storage to answer (Azurite listens in about 1.4 s)."""


def _answers(storage: Storage) -> AzureError | None:
    try:
        storage.queue_service.get_service_properties(retry_total=0)
    except AzureError as e:
        return e
    return None


def wait_for_storage(storage: Storage, *, timeout: float = STORAGE_WAIT_SECONDS, interval: float = 0.5,
                     stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic) -> None:
    """Return once storage answers (or ``stop`` is set); raise StorageUnreachableError after ``timeout`` seconds."""
    began = clock()
    error = _answers(storage)
    if error is None:
        return
    url = storage.queue_service.url
    _log.warning("waiting for storage at %s (up to %g s): %s", url, timeout, _reason(error))
    stop = stop or threading.Event()
    while clock() - began < timeout:
        if stop.wait(interval):
            return
        error = _answers(storage)
        if error is None:
            _log.info("storage at %s answered after %.1f s", url, clock() - began)
            return
    raise StorageUnreachableError(
        f"storage at {url} did not answer within {timeout:g} s ({_reason(error)}). "
        "Is Azurite running (`imaginem azurite`) and AzureWebJobsStorage right?")


def _reason(error: Exception) -> str:
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {one_line(first)}"
