"""Send one image to one operation: by URL first when allowed, by bytes when the service can't fetch it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import IO, Any

from classifiers.backends.azure.calls import ServiceCaller, ServiceError
from classifiers.backends.azure.transfer import Limits, Payload, Transfer
from pipeline.images import Image

__all__ = ["send_image"]

_log = logging.getLogger(__name__)


def _cannot_fetch(error: ServiceError) -> bool:
    code = error.code.lower()
    return error.status == 400 and ("url" in code or "download" in str(error).lower())


def send_image(
    *,
    caller: ServiceCaller,
    what: str,
    transfer: Transfer,
    payload: Payload,
    load: Callable[[], Image],
    limits: Limits,
    by_url: Callable[[str], Any],
    by_stream: Callable[[IO[bytes]], Any],
) -> tuple[Any, Payload]:
    """Run the operation; returns the SDK's answer and the payload that was finally sent."""
    if payload.url is not None:
        url = payload.url
        try:
            return caller(what, lambda: by_url(url)), payload
        except ServiceError as e:
            if not _cannot_fetch(e):
                raise
            _log.info("%s could not fetch the image by URL (%s); sending the bytes", caller.service, e.code)
            payload = transfer.payload(load(), limits, prefer_url=False)
    data = payload.data
    assert data is not None
    # a fresh stream per attempt: a retried upload must start from the first byte
    return caller(what, lambda: by_stream(io.BytesIO(data))), payload
