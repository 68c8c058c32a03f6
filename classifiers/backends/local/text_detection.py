"""Text detection in two passes, with RapidOCR's DB detector: coarse over the whole image, fine where needed.

The coarse pass runs with the image's long side at ``COARSE_SIDE``. Its lines at least
``MIN_COARSE_HEIGHT`` px high are kept. Where its probability map shows text that it did not box,
or boxed too small to trust, the image is cut into regions (``MARGIN`` coarse px around each) and
each region is detected again at the fine scale, the long side of the whole image at ``FINE_SIDE``
(PaddleOCR's default 960). A photo without text costs one coarse pass; small text (a name tag,
a word on a motorcycle's tank) is still found at the fine scale. When the regions would cover
more than ``MAX_FINE_SHARE`` of the image, one fine pass over the whole image replaces them, and
an image whose fine scale is close to its coarse one (at most ``SINGLE_PASS_GAIN`` times) gets
only the fine pass. Images are never enlarged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

__all__ = ["COARSE_SIDE", "FINE_SIDE", "MARGIN", "MAX_FINE_SHARE", "MIN_COARSE_HEIGHT", "SINGLE_PASS_GAIN",
           "Detection", "detect"]

COARSE_SIDE = 480
FINE_SIDE = 960
MIN_COARSE_HEIGHT = 16
MARGIN = 12
MAX_FINE_SHARE = 0.5
SINGLE_PASS_GAIN = 1.25
_MIN_FINE_SIDE = 64  # px of a region at the fine scale: less gives the network no context


@dataclass
class Detection:
    """Line quads (top-left, top-right, bottom-right, bottom-left) in the image's pixels, and how they were found."""

    boxes: list[np.ndarray] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)  # "coarse", "fine" (whole image) or "region"
    fine_share: float = 0.0  # of the image's area detected again at the fine scale


def detect(detector: Any, image: np.ndarray, *, coarse_side: int = COARSE_SIDE,
           fine_side: int = FINE_SIDE) -> Detection:
    """The text lines of a BGR ``image`` found by RapidOCR's ``TextDetector`` (its session and DB post-process)."""
    height, width = image.shape[:2]
    long_side = max(height, width)
    fine = min(1.0, fine_side / long_side)
    coarse = min(1.0, coarse_side / long_side)
    if fine <= coarse * SINGLE_PASS_GAIN:
        return Detection(_sorted(_boxes(detector, image, fine)[1]), ["fine"], 1.0)
    pred, found = _boxes(detector, image, coarse)
    kept = [b for b in found if _height(b) * coarse >= MIN_COARSE_HEIGHT]
    regions = _regions(pred > detector.postprocess_op.thresh, kept, (height, width), fine)
    share = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) / (height * width)
    if share > MAX_FINE_SHARE:
        return Detection(_sorted(_boxes(detector, image, fine)[1]), ["coarse", "fine"], 1.0)
    boxes, passes = list(kept), ["coarse"]
    for x0, y0, x1, y1 in regions:
        _, inside = _boxes(detector, image[y0:y1, x0:x1], fine)
        shifted = [b + np.array([x0, y0], dtype=np.float32) for b in inside]
        boxes += [b for b in shifted if not _covered(b, kept)]
        passes.append("region")
    return Detection(_sorted(boxes), passes, share)


def _boxes(detector: Any, image: np.ndarray, scale: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The probability map and the boxes (in ``image``'s pixels) of one pass at ``scale``."""
    height, width = image.shape[:2]
    size = (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))
    resized = cv2.resize(image, size)
    tensor = ((resized.astype(np.float32) / 255.0 - detector.mean) / detector.std).transpose(2, 0, 1)
    preds = detector.session(tensor[np.newaxis].astype(np.float32))
    boxes, _ = detector.postprocess_op(preds, (height, width))
    return preds[0, 0], [np.asarray(b, dtype=np.float32) for b in boxes]


def _height(quad: np.ndarray) -> float:
    """The shorter side of the quad: a horizontal line's height, a vertical line's width."""
    return float(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[0] - quad[1])))


def _regions(mask: np.ndarray, kept: Sequence[np.ndarray], size: tuple[int, int],
             fine: float) -> list[tuple[int, int, int, int]]:
    """Rectangles (left, top, right, bottom, image pixels) around the coarse map's text outside the kept boxes."""
    height, width = size
    sy, sx = mask.shape[0] / height, mask.shape[1] / width
    loose = mask.astype(np.uint8)
    for quad in kept:  # text already boxed needs no second look
        cv2.fillPoly(loose, [np.round(quad * (sx, sy)).astype(np.int32)], 0)
    if not loose.any():
        return []
    grown = cv2.dilate(loose, np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown)
    least = _MIN_FINE_SIDE / fine  # image pixels
    out = []
    for left, top, w, h, _ in stats[1:count]:
        x0, x1 = _widened(left / sx, (left + w) / sx, least, width)
        y0, y1 = _widened(top / sy, (top + h) / sy, least, height)
        out.append((x0, y0, x1, y1))
    return out


def _widened(start: float, end: float, least: float, limit: int) -> tuple[int, int]:
    """The span grown around its centre to at least ``least`` pixels, within 0..limit."""
    grow = max(0.0, least - (end - start)) / 2
    lo, hi = max(0, int(start - grow)), min(limit, int(np.ceil(end + grow)))
    return lo, max(hi, lo + 1)


def _covered(quad: np.ndarray, kept: Sequence[np.ndarray]) -> bool:
    """Whether the quad's centre lies in a kept box (a region that cut through a line found coarsely)."""
    centre = tuple(float(v) for v in quad.mean(axis=0))
    return any(cv2.pointPolygonTest(k.reshape(-1, 1, 2), centre, False) >= 0 for k in kept)


def _sorted(boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Top to bottom, then left to right (the reader orders lines itself; this keeps results stable)."""
    return sorted(boxes, key=lambda b: (round(float(b[0][1]) / 10), float(b[0][0])))
