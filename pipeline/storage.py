"""Queue, table and blob clients from one storage connection string, each created once.

One ``Storage`` per process (built where the app is wired, then passed in); clients are
cached per name so every message reuses the same connections.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, QueueServiceClient

from pipeline.settings import Settings
from pipeline.untrusted import one_line

__all__ = ["Storage"]

C = TypeVar("C")


class Storage:
    """The pipeline's storage account: queues, tables and blob containers by name."""

    def __init__(self, connection_string: str = "", *, account_name: str = "",
                 credential: TokenCredential | None = None, service_urls: Mapping[str, str] | None = None) -> None:
        """From a connection string, or from an account name with a token credential (managed identity).

        ``credential`` defaults to ``DefaultAzureCredential``; ``service_urls`` ({"blob", "queue", "table"} →
        URL) default to the public cloud's endpoints of ``account_name``. No account key is needed then.
        """
        self.connection_string = connection_string
        self.credential: TokenCredential | None = None
        if connection_string:
            self._queues_svc = QueueServiceClient.from_connection_string(connection_string)
            self._tables_svc = TableServiceClient.from_connection_string(connection_string)
            self._blobs_svc = BlobServiceClient.from_connection_string(connection_string)
        elif account_name:
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            self.credential = credential
            urls = {kind: f"https://{account_name}.{kind}.core.windows.net" for kind in ("blob", "queue", "table")}
            urls.update(service_urls or {})
            self._queues_svc = QueueServiceClient(urls["queue"], credential)
            self._tables_svc = TableServiceClient(endpoint=urls["table"], credential=credential)
            self._blobs_svc = BlobServiceClient(urls["blob"], credential)
        else:
            raise ValueError("Storage needs a connection string or an account name")
        self._lock = threading.Lock()
        self._created: set[tuple[int, str]] = set()
        self._queues: dict[str, QueueClient] = {}
        self._tables: dict[str, TableClient] = {}
        self._containers: dict[str, ContainerClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, credential: TokenCredential | None = None) -> Storage:
        return cls(settings.storage_connection_string, account_name=settings.storage_account_name,
                   credential=credential)

    @property
    def blob_service(self) -> BlobServiceClient:
        return self._blobs_svc

    @property
    def queue_service(self) -> QueueServiceClient:
        return self._queues_svc

    @property
    def table_service(self) -> TableServiceClient:
        return self._tables_svc

    def queue(self, name: str, *, create: bool = True) -> QueueClient:
        return self._cached(self._queues, name, self._queues_svc.get_queue_client,
                            lambda c: c.create_queue(), create)

    def table(self, name: str, *, create: bool = True) -> TableClient:
        return self._cached(self._tables, name, self._tables_svc.get_table_client,
                            lambda c: c.create_table(), create)

    def container(self, name: str, *, create: bool = True) -> ContainerClient:
        return self._cached(self._containers, name, self._blobs_svc.get_container_client,
                            lambda c: c.create_container(), create)

    def _cached(self, cache: dict[str, C], name: str, client: Callable[[str], C],
                create_it: Callable[[C], object], create: bool) -> C:
        """The client for ``name``, made (and its resource created if asked) on first use only."""
        with self._lock:
            found = cache.get(name)
            if found is None:
                found = client(name)
                cache[name] = found
            # A client first asked for without creating its resource is created when a caller needs it.
            if create and (id(cache), name) not in self._created:
                try:
                    create_it(found)
                except ResourceExistsError:
                    pass
                self._created.add((id(cache), name))
            return found

    def owns(self, url: str) -> bool:
        """Whether the URL's host is one of this account's endpoints (blob, dfs, queue, table, secondary).

        Such URLs are read with the account's credentials or not at all, never over plain HTTP.
        """
        target = _host_port(url)
        if target is None:
            return False
        for endpoint in (self._blobs_svc.url, self._queues_svc.url, self._tables_svc.url):
            mine = _host_port(endpoint)
            if mine is None:
                continue
            if target == mine:
                return True
            if _is_address(mine[0]):
                continue  # Azurite and other path-style endpoints: only that host and port
            account, _, rest = mine[0].partition(".")
            _, _, suffix = rest.partition(".")  # "blob.core.windows.net" -> "core.windows.net"
            first, _, other = target[0].partition(".")
            if "." in suffix and first in (account, f"{account}-secondary") and other.partition(".")[2] == suffix:
                return True
        return False

    def blob_path(self, url: str) -> tuple[str, str] | None:
        """(container, blob name) when the URL is a blob of this account, else None.

        Host and scheme are compared the way the service reads them (any case, http or https,
        default ports); the container and name are percent-decoded.
        """
        base, target = urlsplit(self._blobs_svc.url), urlsplit(url)
        if target.scheme.lower() not in ("http", "https") or _host_port(url) != _host_port(self._blobs_svc.url):
            return None
        prefix = base.path.rstrip("/") + "/"
        if not target.path.startswith(prefix):
            return None
        container, _, blob = target.path[len(prefix):].partition("/")
        if not container or not blob:
            return None
        return unquote(container), unquote(blob)

    def read_blob_url(self, url: str, max_bytes: int) -> bytes | None:
        """The blob's bytes when the URL is of this account (None otherwise).

        Raises ``ResourceNotFoundError`` for a missing blob and ``ValueError`` past ``max_bytes``.
        """
        path = self.blob_path(url)
        if path is None:
            return None
        # One request for most blobs: the first GET brings the size and up to 32 MiB, the rest only if allowed.
        download = self._blobs_svc.get_blob_client(*path).download_blob()
        if download.size > max_bytes:
            raise ValueError(f"blob {one_line(url)} is {download.size} bytes; the limit is {max_bytes}")
        return download.readall()

    def upload_blob(self, container: str, name: str, data: bytes, *, content_type: str) -> str:
        """Write a blob (overwriting) and return its URL."""
        from azure.storage.blob import ContentSettings

        blob = self.container(container).get_blob_client(name)
        blob.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
        return str(blob.url)


def _host_port(url: str) -> tuple[str, int | None] | None:
    """(lower-case host without a trailing dot, port or None for the scheme's default), None if unreadable."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    return host, None if port == {"http": 80, "https": 443}.get(parts.scheme.lower()) else port


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
