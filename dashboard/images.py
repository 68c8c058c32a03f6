"""Images and face crops for the browser, read with the app's credentials (containers stay private).

Only blobs of the pipeline's own image containers are served (``inputimages`` and the faces
container), never ``largemessages`` or another account, and nothing is fetched from elsewhere:
an image that is not in our storage has no dashboard address at all.
"""

from __future__ import annotations

from urllib.parse import quote

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from pipeline.images.check import image_type
from pipeline.responses import SECURITY_HEADERS, error
from pipeline.storage import Storage

__all__ = ["IMAGE_ROUTE", "ImageRoute", "image_type"]

IMAGE_ROUTE = "/api/images"

class ImageRoute:
    """Blob URL ↔ dashboard address, and the route that answers those addresses."""

    def __init__(self, *, storage: Storage, containers: tuple[str, ...], max_bytes: int) -> None:
        self._storage = storage
        self._containers = containers
        self._max_bytes = max_bytes

    def address(self, url: object) -> str | None:
        """The dashboard address of a blob URL of ours in an image container, else None."""
        if not isinstance(url, str):
            return None
        found = self._storage.blob_path(url)
        if found is None or found[0] not in self._containers:
            return None
        return f"{IMAGE_ROUTE}/{quote(found[0])}/{quote(found[1])}"

    def serve(self, container: str, blob: str) -> func.HttpResponse:
        if container not in self._containers:
            return error(404, "no such image container")
        if not blob or "\\" in blob or any(part in ("", ".", "..") for part in blob.split("/")):
            return error(400, "not a blob name")
        client = self._storage.container(container, create=False).get_blob_client(blob)
        try:
            size = client.get_blob_properties().size
            if size > self._max_bytes:
                return error(413, f"image is {size} bytes; the limit is {self._max_bytes} (IMAGE_MAX_BYTES)")
            data = client.download_blob().readall()
        except ResourceNotFoundError:
            return error(404, "no such image")
        kind = image_type(data)
        if kind is None:
            return error(415, "that blob is not an image")
        headers = dict(SECURITY_HEADERS)
        # An image answer is never a document: no script, even if opened on its own.
        headers.update({"Content-Security-Policy": "default-src 'none'; sandbox",
                        "Cache-Control": "private, max-age=300"})
        return func.HttpResponse(data, mimetype=kind, headers=headers)
