"""Map coordinates a service returned for a downscaled copy back onto the original image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["box_string", "polygon_to_box", "unscale_box_string", "unscale_point", "unscale_rect"]


def _n(value: Any, scale: float) -> int:
    return round(float(value) / scale)


def unscale_rect(rect: dict[str, Any], scale: float) -> dict[str, Any]:
    """{left, top, width, height} or {x, y, w, h} in original pixels."""
    if scale == 1.0:
        return rect
    return {k: _n(v, scale) if isinstance(v, (int, float)) else v for k, v in rect.items()}


def unscale_point(point: dict[str, Any], scale: float) -> dict[str, Any]:
    if scale == 1.0:
        return point
    return {k: round(float(v) / scale, 1) if isinstance(v, (int, float)) else v for k, v in point.items()}


def box_string(left: float, top: float, width: float, height: float) -> str:
    """The OCR API's "l,t,w,h" bounding box."""
    return f"{round(left)},{round(top)},{round(width)},{round(height)}"


def unscale_box_string(box: str, scale: float) -> str:
    if scale == 1.0:
        return box
    return box_string(*(float(v) / scale for v in box.split(",")))


def polygon_to_box(polygon: Sequence[float], scale: float = 1.0) -> str:
    """The Read API's 8-number polygon as the "l,t,w,h" box around it."""
    xs, ys = polygon[0::2], polygon[1::2]
    left, top = min(xs) / scale, min(ys) / scale
    return box_string(left, top, max(xs) / scale - left, max(ys) / scale - top)
