"""How an image reaches a Cognitive Services endpoint: by URL when the cloud can read it, else bytes.

A public URL is sent as is; a private blob of our own account as a short-lived read-only SAS
URL (signed with the account key, or with a user-delegation key under managed identity); loopback
and private hosts (Azurite, a laptop) as bytes. Bytes over the service's size or side limits,
or in a format it does not read, are re-encoded (and downscaled) first; ``scale``
says how to map the coordinates the service returns back onto the original image.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import PIL.Image
from azure.storage.blob import BlobSasPermissions, UserDelegationKey, generate_blob_sas

from pipeline.images import Image
from pipeline.storage import Storage

__all__ = ["FACE_LIMITS", "OCR_LIMITS", "READ_LIMITS", "VISION_LIMITS", "Limits", "Payload", "Transfer",
           "is_private_url"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one operation accepts: bytes, longest side and formats (PIL names)."""

    max_bytes: int
    max_side: int
    formats: frozenset[str]


_CV_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP"})
VISION_LIMITS = Limits(4 * 1024 * 1024, 16_000, _CV_FORMATS)
OCR_LIMITS = Limits(4 * 1024 * 1024, 4_200, _CV_FORMATS)
READ_LIMITS = Limits(4 * 1024 * 1024, 10_000, _CV_FORMATS | {"TIFF"})
FACE_LIMITS = Limits(6 * 1024 * 1024, 4_096, _CV_FORMATS)


@dataclass(frozen=True)
class Payload:
    """Either a URL the service fetches or the bytes to upload; ``scale`` = sent size / original size."""

    url: str | None = None
    data: bytes | None = None
    scale: float = 1.0

    @property
    def by_url(self) -> bool:
        return self.url is not None


def is_private_url(url: str) -> bool:
    """True when the cloud cannot reach the URL's host: loopback, private ranges, single-label names."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith((".localhost", ".local", ".internal")) or "." not in host
    return not address.is_global


def _account_key(connection_string: str) -> tuple[str, str] | None:
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    name, key = parts.get("AccountName", ""), parts.get("AccountKey", "")
    return (name, key) if name and key else None


class Transfer:
    """Chooses URL or bytes for each image and prepares the bytes within a service's limits."""

    def __init__(self, *, storage: Storage | None, sas_minutes: int = 15,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._storage = storage
        self._sas_minutes = sas_minutes
        self._now = now
        self._lock = threading.Lock()
        self._key: tuple[UserDelegationKey | None, datetime] = (None, datetime.min.replace(tzinfo=UTC))

    def reachable_url(self, url: str) -> str | None:
        """A URL the cloud can read for this image URL, or None when bytes must be sent."""
        if urlsplit(url).scheme.lower() not in ("http", "https") or is_private_url(url):
            return None
        path = self._storage.blob_path(url) if self._storage is not None else None
        if path is None:
            return url
        return self.sas_url(url, *path)

    def sas_url(self, url: str, container: str, blob: str) -> str | None:
        """A read-only SAS URL for a blob of our account: signed with the account key from the connection
        string, or with a user-delegation key when the storage uses a token credential (managed identity)."""
        assert self._storage is not None
        start = self._now() - timedelta(minutes=5)
        expiry = self._now() + timedelta(minutes=self._sas_minutes)
        account = _account_key(self._storage.connection_string)
        if account is not None:
            name, key = account
            token = generate_blob_sas(
                account_name=name, container_name=container, blob_name=blob, account_key=key,
                permission=BlobSasPermissions(read=True), start=start, expiry=expiry,
            )
        elif self._storage.credential is not None:
            service = self._storage.blob_service
            token = generate_blob_sas(
                account_name=str(service.account_name), container_name=container, blob_name=blob,
                user_delegation_key=self._delegation_key(start, expiry),
                permission=BlobSasPermissions(read=True), start=start, expiry=expiry,
            )
        else:
            return None
        # an existing query (someone else's SAS) is replaced by ours
        return f"{url.split('?', 1)[0]}?{token}"

    def _delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        """A user-delegation key valid until at least ``expiry``, asked for once per hour at most."""
        with self._lock:
            key, until = self._key
            if key is None or until < expiry:
                until = max(expiry, self._now() + timedelta(hours=1))
                assert self._storage is not None
                key = self._storage.blob_service.get_user_delegation_key(start, until)
                self._key = (key, until)
            return key

    def payload(self, image: Image, limits: Limits, *, prefer_url: bool = True) -> Payload:
        """What to send for ``image`` to an operation with ``limits``."""
        fits = (
            len(image.data) <= limits.max_bytes
            and max(image.width, image.height) <= limits.max_side
            and image.format.upper() in limits.formats
        )
        if prefer_url and fits:
            url = self.reachable_url(image.url)
            if url is not None:
                return Payload(url=url)
        if fits:
            return Payload(data=image.data)
        return self.shrink(image, limits)

    def shrink(self, image: Image, limits: Limits) -> Payload:
        """Re-encode as JPEG, downscaling until the bytes and the longest side fit."""
        pil = image.pil
        scale = min(1.0, limits.max_side / max(image.width, image.height))
        quality = 90
        while True:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            frame = pil if size == pil.size else pil.resize(size, PIL.Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            frame.save(buffer, format="JPEG", quality=quality)
            if buffer.tell() <= limits.max_bytes:
                _log.info("sending %s re-encoded: %sx%s, %s bytes (was %s bytes)",
                          image.url, size[0], size[1], buffer.tell(), len(image.data))
                return Payload(data=buffer.getvalue(), scale=size[0] / image.width)
            if quality > 80:
                quality = 80
            else:
                scale *= 0.8

    def payload_for_url(self, url: str, load: Callable[[], Image], limits: Limits) -> Payload:
        """Like ``payload`` when only the URL is at hand: the image is loaded only if bytes must go."""
        reachable = self.reachable_url(url)
        if reachable is not None:
            return Payload(url=reachable)
        return self.payload(load(), limits, prefer_url=False)
