"""Fail fast when the storage account does not answer, instead of after the SDK's retries (about 85 s).

Each endpoint (queue, table, blob) is probed with one TCP connection and a short timeout, with no
retry; only then do the commands use the storage clients.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from pipeline.errors import StorageUnreachableError
from pipeline.storage import Storage

__all__ = ["StorageUnreachableError", "probe_storage"]

TIMEOUT = 3.0


def probe_storage(storage: Storage, *, timeout: float = TIMEOUT) -> None:
    """Raise StorageUnreachableError naming the first endpoint that cannot be reached."""
    seen: set[tuple[str, int]] = set()
    for service, url in (("queue", storage.queue_service.url), ("table", storage.table_service.url),
                         ("blob", storage.blob_service.url)):
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (host, port) in seen:
            continue
        seen.add((host, port))
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as e:
            reason = "no answer" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
            raise StorageUnreachableError(
                f"the {service} endpoint {parts.scheme}://{parts.netloc} cannot be reached ({reason}, "
                f"{timeout:g} s probe). Is Azurite running (`imaginem azurite`) or AzureWebJobsStorage right?"
            ) from None
