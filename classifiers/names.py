"""Which Azure service a classifier can use instead of its local models, readable without importing one.

``pipeline.settings`` reads this table for the ``<CLASSIFIER>_BACKEND`` settings and their ``auto`` rule
(settings cannot import the classifiers: they import the settings). Each classifier's ``SPEC.service``
names the same service; tests/classifiers/test_catalogue.py checks that they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

__all__ = ["AZURE_SERVICES", "Service"]

Service = Literal["vision", "face"]
"""Computer Vision (``VISION_ENDPOINT``/``VISION_API_KEY``) or Face (``FACE_ENDPOINT``/``FACE_API_KEY``)."""

AZURE_SERVICES: Mapping[str, Service] = MappingProxyType({
    "generalclassification": "vision",
    "ocr": "vision",
    "facedetection": "face",
    "faceprint": "face",
    "facematch": "face",
})
