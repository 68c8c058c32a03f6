"""Offline OCR with RapidOCR 3 (PP-OCR detection, orientation and recognition models run by
onnxruntime), in the shape of Azure Computer Vision's OCR API.

Models: the three ONNX files inside the installed ``rapidocr`` package, passed by path, so
RapidOCR never takes its download branch; a missing file is a ``ConfigurationError``.

Shape:
- lines are RapidOCR's text lines; words are RapidOCR's word boxes when their letters agree
  with the line's text, else the line box cut into words in proportion to their characters;
- regions group lines that overlap horizontally and follow each other with a vertical gap of
  at most one line height (a paragraph or a column); regions are ordered top to bottom, then
  left to right, and lines inside a region top to bottom;
- ``textAngle`` is minus the median slope of the lines' top edges, in radians (rotating the
  image clockwise by it levels the text); ``orientation`` is always "Up", because the
  orientation model already turns upside-down lines before they are read; ``language`` is
  "unk", as the models read many Latin-script languages and Chinese without naming one.
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifiers.backends.ocr_text import full_text
from pipeline.errors import ConfigurationError
from pipeline.images import Image

__all__ = ["DETECTION_SIDE", "RapidTextReader", "bundled_models", "to_ocr"]

_log = logging.getLogger(__name__)

# PaddleOCR's own default: the long side of the detection input at most 960 px.
DETECTION_SIDE = 960
_KINDS = ("det", "cls", "rec")

Box = tuple[int, int, int, int]  # left, top, right, bottom
Quad = Sequence[Sequence[float]]


def bundled_models() -> dict[str, Path]:
    """The detection, orientation and recognition models shipped inside the rapidocr package."""
    folder = Path(str(importlib.resources.files("rapidocr").joinpath("models")))
    found: dict[str, Path] = {}
    for kind in _KINDS:
        matches = sorted(folder.glob(f"*_{kind}_*.onnx"))
        if len(matches) != 1:
            raise ConfigurationError(
                f"rapidocr should ship exactly one {kind} model in {folder}, found {[m.name for m in matches]}: "
                "reinstall rapidocr>=3,<4"
            )
        found[kind] = matches[0]
    return found


class RapidTextReader:
    """ocr: RapidOCR, loaded lazily once per instance, its sessions limited to ``threads``."""

    backend = "local"

    def __init__(self, *, threads: int = 2, detection_side: int = DETECTION_SIDE, min_score: float = 0.5) -> None:
        self._threads = threads
        self._detection_side = detection_side
        self._min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                models = bundled_models()
                self._engine = RapidOCR(params={
                    "Global.log_level": "error",
                    "Global.return_word_box": True,
                    "Global.text_score": self._min_score,
                    "Det.model_path": str(models["det"]),
                    "Cls.model_path": str(models["cls"]),
                    "Rec.model_path": str(models["rec"]),
                    "Det.limit_type": "max",
                    "Det.limit_side_len": self._detection_side,
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                })
                _log.info("loaded RapidOCR (%s) with %d threads", ", ".join(p.name for p in models.values()),
                          self._threads)
            return self._engine

    def read(self, image: Image) -> dict[str, Any]:
        # A PIL image tells RapidOCR its channel order; a bare array would be taken for BGR.
        result = self.load()(image.pil)
        lines = _lines(result, image.width, image.height)
        ocr = to_ocr(lines)
        _log.info("ocr %s: %s lines in %s regions (local)", image.url, len(lines), len(ocr["regions"]))
        return {"ocr": ocr, "OCR_fullText": full_text(ocr)}


@dataclass
class _Word:
    text: str
    box: Box
    confidence: float


@dataclass
class _Line:
    box: Box
    angle: float
    words: list[_Word] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def _box(quad: Quad, width: int, height: int) -> Box:
    xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
    left, top = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    right, bottom = min(width, math.ceil(max(xs))), min(height, math.ceil(max(ys)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _apportioned(text: str, box: Box, confidence: float) -> list[_Word]:
    """Cut the line box into its words in proportion to their characters (a space counts as one)."""
    words = text.split()
    total = sum(len(w) for w in words) + len(words) - 1
    left, top, right, bottom = box
    out, start = [], 0
    for word in words:
        x0 = left + (right - left) * start / total
        x1 = left + (right - left) * (start + len(word)) / total
        out.append(_Word(word, (round(x0), top, max(round(x1), round(x0) + 1), bottom), confidence))
        start += len(word) + 1
    return out


def _lines(result: Any, width: int, height: int) -> list[_Line]:
    texts = result.txts or ()
    if not texts:
        return []
    scores, quads = result.scores, result.boxes
    word_results = result.word_results if len(result.word_results) == len(texts) else [None] * len(texts)
    lines = []
    for text, score, quad, words in zip(texts, scores, quads, word_results, strict=True):
        if not text.strip():
            continue
        box = _box(quad, width, height)
        (x0, y0), (x1, y1) = quad[0], quad[1]
        line = _Line(box=box, angle=math.atan2(float(y1) - float(y0), float(x1) - float(x0)))
        given = [(str(w[0]), float(w[1]), w[2]) for w in (words or ()) if w[2] is not None and str(w[0]).strip()]
        if given and "".join(t for t, _, _ in given).replace(" ", "") == text.replace(" ", ""):
            line.words = [_Word(t.strip(), _box(q, width, height), s) for t, s, q in given]
        else:
            line.words = _apportioned(text, box, float(score))
        lines.append(line)
    return lines


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0])


def _regions(lines: Sequence[_Line]) -> list[list[_Line]]:
    regions: list[list[_Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1], ln.box[0])):
        for region in regions:
            last = region[-1]
            if _overlap(last.box, line.box) and line.box[1] - last.box[3] <= max(line.height, last.height):
                region.append(line)
                break
        else:
            regions.append([line])
    return sorted(regions, key=lambda r: (_union([ln.box for ln in r])[1], _union([ln.box for ln in r])[0]))


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _ltwh(box: Box) -> str:
    return f"{box[0]},{box[1]},{box[2] - box[0]},{box[3] - box[1]}"


def to_ocr(lines: Sequence[_Line]) -> dict[str, Any]:
    """Lines in the OCR API's shape: regions → lines → words, "left,top,width,height" boxes."""
    regions = [
        {
            "boundingBox": _ltwh(_union([ln.box for ln in region])),
            "lines": [
                {"boundingBox": _ltwh(ln.box),
                 "words": [{"boundingBox": _ltwh(w.box), "text": w.text, "confidence": round(w.confidence, 4)}
                           for w in ln.words]}
                for ln in region
            ],
        }
        for region in _regions(lines)
    ]
    angle = statistics.median(ln.angle for ln in lines) if lines else 0.0
    return {"language": "unk", "textAngle": round(-angle, 4) + 0.0, "orientation": "Up", "regions": regions}


