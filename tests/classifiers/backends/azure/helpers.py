"""Helpers for the Azure backend tests: images, jobs, settings pointing at the stub."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import numpy as np
import PIL.Image

from classifiers.backends.azure import RetryPolicy
from pipeline.images import Image, decode_image
from pipeline.job import Job, parse_job
from pipeline.settings import Settings
from tests.classifiers.backends.azure.stub import KEY, CognitiveStub

# a well-formed but made-up account: building clients for it never touches the network
FAKE_ACCOUNT = "imaginemtest"
FAKE_STORAGE = (
    f"DefaultEndpointsProtocol=https;AccountName={FAKE_ACCOUNT};"
    "AccountKey=dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleQ==;"
    "EndpointSuffix=core.windows.net"
)
FAST = RetryPolicy(attempts=3, backoff=0.05, max_wait=2.0, connect_timeout=2.0, read_timeout=5.0)


def azure_settings(base: Settings, stub: CognitiveStub, **changes: Any) -> Settings:
    return replace(base, vision_endpoint=stub.endpoint, vision_api_key=KEY, face_endpoint=stub.endpoint,
                   face_api_key=KEY, **changes)


def image_bytes(width: int = 640, height: int = 480, fmt: str = "JPEG", *, noise: bool = False) -> bytes:
    rng = np.random.default_rng(7)
    if noise:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        y, x = np.mgrid[0:height, 0:width]
        pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def make_image(url: str = "http://127.0.0.1:9/images/photo.jpg", **options: Any) -> Image:
    return decode_image(image_bytes(**options), url=url)


def make_job(image_url: str, *, job_id: str = "job-1", outputs: dict[str, Any] | None = None,
             pipeline: tuple[str, ...] = ("facedetection", "faceprint", "facematch")) -> Job:
    return parse_job({
        "job_definition": {"id": job_id, "batch_id": "batch-azure", "input": {"image_url": image_url},
                           "processing_pipeline": list(pipeline), "processing_step": 0},
        "job_output": outputs or {},
    })
