"""Bounded work per image for the face classifiers: at most ``MAX_FACES_PER_IMAGE`` faces, handled
in small batches, and face prints that a float32 index can hold.

A message may carry a forged ``facedetection`` output with thousands of faces; every face
classifier takes only the first ``limit`` and records ``faces_capped`` {limit, found} when it cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from pipeline.errors import ClassifierError

__all__ = ["FACE_BATCH", "PRINT_DIMENSIONS", "batches", "cap", "check_prints"]

FACE_BATCH = 16
"""Faces handed to a model (or cropped and written) at a time."""
PRINT_DIMENSIONS = 128
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FACE_ID_MAX = 255

T = TypeVar("T")


def cap(faces: Sequence[T], limit: int) -> tuple[list[T], dict[str, Any]]:
    """The first ``limit`` faces, and ``{"faces_capped": {limit, found}}`` to merge into the output when it cut."""
    if len(faces) <= limit:
        return list(faces), {}
    return list(faces[:limit]), {"faces_capped": {"limit": limit, "found": len(faces)}}


def batches(items: Sequence[T], size: int = FACE_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check_prints(faces: Sequence[Any], source: str) -> None:
    """Raise ``ClassifierError`` unless every face's ``print`` is a 128-d embedding of numbers finite
    in float32, or a Face service faceId (a short string)."""
    for i, face in enumerate(faces):
        where = f"{source} faces[{i}].print"
        vector = face.get("print") if isinstance(face, dict) else None
        if isinstance(vector, str):
            if not vector.strip() or len(vector) > _FACE_ID_MAX:
                raise ClassifierError(f"{where} is not a usable Face service faceId")
            continue
        if not isinstance(vector, list) or len(vector) != PRINT_DIMENSIONS:
            size = len(vector) if isinstance(vector, list) else type(vector).__name__
            raise ClassifierError(f"{where} must be {PRINT_DIMENSIONS} finite numbers or a faceId, not {size}")
        for v in vector:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or abs(v) > _FLOAT32_MAX \
                    or not math.isfinite(v):
                raise ClassifierError(
                    f"{where} must be {PRINT_DIMENSIONS} finite numbers; {str(v)[:40]} is not finite in float32")
