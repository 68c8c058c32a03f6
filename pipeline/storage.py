"""Queue, table and blob clients from one storage connection string, each created once.

One ``Storage`` per process (built where the app is wired, then passed in); clients are
cached per name so every message reuses the same connections.
"""

from __future__ import annotations

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
                if create:
                    try:
                        create_it(found)
                    except ResourceExistsError:
                        pass
                cache[name] = found
            return found

    def blob_path(self, url: str) -> tuple[str, str] | None:
        """(container, blob name) when the URL is a blob of this account, else None."""
        base = urlsplit(self._blobs_svc.url)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            return None
        prefix = base.path.rstrip("/") + "/"
        if not target.path.startswith(prefix):
            return None
        container, _, blob = target.path[len(prefix):].partition("/")
        if not container or not blob:
            return None
        return container, unquote(blob)

    def read_blob_url(self, url: str, max_bytes: int) -> bytes | None:
        """The blob's bytes when the URL is of this account (None otherwise).

        Raises ``ResourceNotFoundError`` for a missing blob and ``ValueError`` past ``max_bytes``.
        """
        path = self.blob_path(url)
        if path is None:
            return None
        blob = self._blobs_svc.get_blob_client(*path)
        size = blob.get_blob_properties().size
        if size > max_bytes:
            raise ValueError(f"blob {url} is {size} bytes; the limit is {max_bytes}")
        return blob.download_blob().readall()

    def upload_blob(self, container: str, name: str, data: bytes, *, content_type: str) -> str:
        """Write a blob (overwriting) and return its URL."""
        from azure.storage.blob import ContentSettings

        blob = self.container(container).get_blob_client(name)
        blob.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
        return str(blob.url)


