"""Offline OCR with RapidOCR 3 (PP-OCR detection and recognition models run by onnxruntime), in
the shape of Azure Computer Vision's OCR API.

Models: the three ONNX files inside the installed ``rapidocr`` package, passed by path, so
RapidOCR never takes its download branch; a missing file is a ``ConfigurationError``. This reader
runs RapidOCR's detector and recognizer itself: detection is ``text_detection``'s two passes (coarse
over the whole image at long side ``COARSE_SIDE``, fine at ``FINE_SIDE`` only where small or unboxed
text shows), recognition reads each line cut out of the image at full resolution.

Shape:
- ``orientation`` is where the top of the text faces (Up, Right, Down, Left). The first reading
  is of the image as it is; when no line of it has more than two letters or digits (a photo's
  stray glyph), it is final. When most of its text runs vertically, the same lines are read again
  in the image turned a quarter each way, and when it runs horizontally but reads with a
  character-weighted confidence below ``CONFIDENT``, they are read again upside down: the reading
  with the higher confidence wins (a turned page reads as garbage at about 0.7, the right way up at
  0.99). A re-read reuses the first detection's boxes, mapped into the turned copy: no second
  detection. RapidOCR's per-line orientation model is off: it turns lines of an upside-down page
  one by one, which reads them in reverse order;
- lines are RapidOCR's text lines in the upright copy; words are the line's text split at spaces,
  each boxed by the union of its characters' boxes when RapidOCR's characters match the text
  (spaced-out letters of a logo stay one word), else the line box cut in proportion to characters;
- stray glyphs are dropped (``is_text``): a line without a letter or digit, a line read with
  confidence below ``MIN_LINE_SCORE``, and a short line (at most two letters or digits) unless it
  is read with confidence ≥ ``SHORT_LINE_SCORE`` and is less than a quarter of the image tall;
- regions group lines that overlap horizontally and follow each other with a vertical gap of
  at most one line height (a paragraph or a column); regions are ordered top to bottom, regions
  whose tops lie within half a line of each other left to right, and lines inside a region top to
  bottom, all in the upright copy;
- every box is in the original image's coordinates, as the OCR API gives them;
- ``textAngle`` is minus the median slope of the upright lines' top edges, in radians (rotating
  the upright copy clockwise by it levels the text); ``language`` comes from ``LanguageDetector``
  ("unk" for short texts). With no text, orientation is "NotDetected" and language "unk".
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import PIL.Image

from classifiers.backends.local.language import UNKNOWN, LanguageDetector
from classifiers.backends.local.ocr_orientation import Point, to_original, to_upright, upright
from classifiers.backends.local.text_detection import COARSE_SIDE, FINE_SIDE, detect
from classifiers.backends.ocr_text import full_text
from pipeline.errors import ConfigurationError
from pipeline.images import Image

__all__ = ["CONFIDENT", "MIN_LINE_SCORE", "SHORT_LINE_SCORE", "RapidTextReader",
           "bundled_models", "is_text", "to_ocr"]

_log = logging.getLogger(__name__)

_KINDS = ("det", "cls", "rec")
CONFIDENT = 0.9
"""Character-weighted confidence above which a horizontal first reading is taken as upright."""
MIN_LINE_SCORE = 0.6
"""Lines below it are patterns, not text: on the evaluation set the stray readings of photos
(a flag's stars as "0000" at 0.54, a tie as "M" at 0.59) fall below it and real text (a name tag
at 0.99, "YAMAHA" on a motorcycle tank at 0.81) above."""
SHORT_LINE_SCORE = 0.95
"""A line of one or two letters or digits is kept only above it: the coffee's "8" (0.89), the
astronaut's and Grace Hopper's stars ("X1" 0.69, "V" 0.92) fall below."""

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

    def __init__(self, *, threads: int = 2, detection_side: int = FINE_SIDE, coarse_side: int | None = COARSE_SIDE,
                 min_score: float = 0.5, languages: LanguageDetector | None = None) -> None:
        self._threads = threads
        self._detection_side = detection_side
        self._coarse_side = coarse_side  # None: one pass at detection_side, as PaddleOCR does
        self._min_score = min_score
        self._languages = languages or LanguageDetector()
        self._engine: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                models = bundled_models()
                engine: Any = RapidOCR(params={
                    "Global.log_level": "error",
                    "Global.use_cls": False,
                    "Global.return_word_box": True,
                    "Global.return_single_char_box": True,
                    "Global.text_score": self._min_score,
                    "Det.model_path": str(models["det"]),
                    "Cls.model_path": str(models["cls"]),
                    "Rec.model_path": str(models["rec"]),
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                })
                # This reader runs detection and recognition itself (text_detection's two passes, re-reads
                # of turned copies on the same boxes): it needs both models now, not at RapidOCR's first call.
                engine._load_det_model()
                engine._load_rec_model()
                # py3langid takes ~2 s to unpack: with the models, not in the middle of the first page read.
                self._languages.load()
                self._engine = engine
                _log.info("loaded RapidOCR (%s) with %d threads", ", ".join(p.name for p in models.values()),
                          self._threads)
            return self._engine

    def read(self, image: Image) -> dict[str, Any]:
        orientation, page, result = self._oriented(self.load(), image.pil, image.rgb)
        lines = [ln for ln in _lines(result, page.width, page.height) if is_text(ln, page.height)]
        back = to_original(orientation, image.width, image.height)
        ocr = to_ocr(lines, orientation=orientation if lines else "NotDetected", back=back,
                     size=(image.width, image.height))
        text = full_text(ocr)
        ocr["language"] = self._languages.detect(text) if text else UNKNOWN
        _log.info("ocr %s: %s lines in %s regions, %s (local)", image.url, len(lines), len(ocr["regions"]),
                  ocr["orientation"])
        return {"ocr": ocr, "OCR_fullText": text}

    def _oriented(self, engine: Any, pil: PIL.Image.Image, rgb: np.ndarray) -> tuple[str, PIL.Image.Image, _Reading]:
        """The orientation whose upright copy reads best, that copy, and its reading (``rgb``: ``pil``'s pixels)."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # a full-size copy: made once for detection and recognition
        found = self._detect(engine, bgr)
        first = _recognize(engine, bgr, found, self._min_score)
        if not _worth_turning(first):
            return "Up", pil, first
        if _vertical(first):
            readings = [(o, page, self._reread(engine, page, found, o, pil.size)) for o, page in
                        ((o, upright(pil, o)) for o in ("Left", "Right"))]
            best = max(readings, key=lambda r: _confidence(r[2]))
            return best if best[2].txts else ("Up", pil, first)
        if _confidence(first) >= CONFIDENT:
            return "Up", pil, first
        page = upright(pil, "Down")
        turned = self._reread(engine, page, found, "Down", pil.size)
        return ("Down", page, turned) if _confidence(turned) > _confidence(first) else ("Up", pil, first)

    def _detect(self, engine: Any, bgr: np.ndarray) -> list[np.ndarray]:
        if self._coarse_side is None:
            return detect(engine.text_det, bgr, coarse_side=self._detection_side,
                          fine_side=self._detection_side).boxes
        return detect(engine.text_det, bgr, coarse_side=self._coarse_side, fine_side=self._detection_side).boxes

    def _reread(self, engine: Any, page: PIL.Image.Image, boxes: Sequence[np.ndarray], orientation: str,
                size: tuple[int, int]) -> _Reading:
        """The lines found in the original read again in the upright copy: turning needs no second detection."""
        forward = to_upright(orientation, *size)
        turned = [_ordered(np.array([forward((float(x), float(y))) for x, y in quad], dtype=np.float32))
                  for quad in boxes]
        return _recognize(engine, _bgr(page), turned, self._min_score)


@dataclass
class _Reading:
    """Recognised lines in RapidOCR's shape: texts, scores, quads and per-line character results."""

    txts: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    boxes: list[np.ndarray] = field(default_factory=list)
    word_results: tuple[Any, ...] = ()


def _bgr(pil: PIL.Image.Image) -> np.ndarray:
    """RapidOCR's models take BGR pixels (OpenCV swaps the channels several times faster than a numpy copy)."""
    return cv2.cvtColor(np.asarray(pil if pil.mode == "RGB" else pil.convert("RGB")), cv2.COLOR_RGB2BGR)


def _recognize(engine: Any, bgr: np.ndarray, boxes: Sequence[np.ndarray], min_score: float) -> _Reading:
    """Each box cut out of ``bgr`` and read, with character boxes; lines below ``min_score`` or empty are dropped."""
    if not boxes:
        return _Reading()
    from rapidocr.ch_ppocr_rec import TextRecInput
    from rapidocr.utils.process_img import get_rotate_crop_image

    crops = [get_rotate_crop_image(bgr, quad.astype(np.float32)) for quad in boxes]
    rec = engine.text_rec(TextRecInput(img=crops, return_word_box=True))
    chars = engine.cal_rec_boxes(crops, np.array(boxes), rec, True).word_results or [()] * len(crops)
    keep = [i for i, (t, s) in enumerate(zip(rec.txts, rec.scores, strict=True)) if t.strip() and s >= min_score]
    return _Reading(tuple(rec.txts[i] for i in keep), tuple(float(rec.scores[i]) for i in keep),
                    [boxes[i] for i in keep], tuple(chars[i] for i in keep))


def _ordered(quad: np.ndarray) -> np.ndarray:
    """The quad's corners as top-left, top-right, bottom-right, bottom-left (DB's order, needed to crop a line)."""
    by_x = quad[np.argsort(quad[:, 0], kind="stable")]
    left, right = by_x[:2][np.argsort(by_x[:2, 1])], by_x[2:][np.argsort(by_x[2:, 1])]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def _worth_turning(result: _Reading) -> bool:
    """Whether a turned copy could read better: some line has more than two letters or digits.

    Shorter lines are dropped as stray glyphs (``is_text``) unless read confidently, so
    re-reading a photo whose only "text" is a glyph on a pattern would change nothing."""
    return any(sum(c.isalnum() for c in t) > 2 for t in result.txts)


def _confidence(result: Any) -> float:
    """Mean line confidence weighted by characters: one short stray word counts little."""
    texts, scores = result.txts or (), result.scores or ()
    chars = sum(len(t.strip()) for t in texts)
    return sum(len(t.strip()) * float(s) for t, s in zip(texts, scores, strict=True)) / chars if chars else 0.0


def _vertical(result: Any) -> bool:
    """Most characters sit in lines taller than wide: the page lies on its side."""
    upright_chars = sideways_chars = 0
    for text, quad in zip(result.txts, result.boxes, strict=True):
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        if max(ys) - min(ys) > max(xs) - min(xs):
            sideways_chars += len(text.strip())
        else:
            upright_chars += len(text.strip())
    return sideways_chars > upright_chars


@dataclass
class _Word:
    text: str
    box: Box
    confidence: float


@dataclass
class _Line:
    box: Box
    angle: float
    score: float = 1.0
    words: list[_Word] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def is_text(line: _Line, image_height: int) -> bool:
    """Whether a line is text rather than a stray glyph read off a pattern (the module doc's rule)."""
    significant = sum(c.isalnum() for c in line.text)
    if significant == 0 or line.score < MIN_LINE_SCORE:
        return False
    if significant <= 2:
        return line.score >= SHORT_LINE_SCORE and line.height < image_height / 4
    return True


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


def _from_characters(text: str, chars: Sequence[Any], width: int, height: int) -> list[_Word] | None:
    """The words of ``text``, each boxed by its characters' boxes; None when the characters do not match."""
    given = [(str(c[0]), float(c[1]), c[2]) for c in chars if c[2] is not None and str(c[0]).strip()]
    letters = [ch for t, _, _ in given for ch in t]
    if "".join(letters) != text.replace(" ", "") or len(letters) != len(given):
        return None
    words, at = [], 0
    for word in text.split():
        mine = given[at: at + len(word)]
        at += len(word)
        boxes = [_box(q, width, height) for _, _, q in mine]
        words.append(_Word(word, _union(boxes), statistics.fmean(s for _, s, _ in mine)))
    return words


def _lines(result: Any, width: int, height: int) -> list[_Line]:
    texts = result.txts or ()
    if not texts:
        return []
    scores, quads = result.scores, result.boxes
    word_results = result.word_results if len(result.word_results) == len(texts) else [None] * len(texts)
    lines = []
    for text, score, quad, chars in zip(texts, scores, quads, word_results, strict=True):
        text = " ".join(text.split())
        if not text:
            continue
        box = _box(quad, width, height)
        (x0, y0), (x1, y1) = quad[0], quad[1]
        line = _Line(box=box, angle=math.atan2(float(y1) - float(y0), float(x1) - float(x0)), score=float(score))
        line.words = _from_characters(text, chars or (), width, height) or _apportioned(text, box, float(score))
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
    return _reading_order(regions)


def _reading_order(regions: list[list[_Line]]) -> list[list[_Line]]:
    """Top to bottom, and left to right among regions whose first lines start within half a line of each
    other's top (side-by-side columns whose boxes differ by a few pixels)."""
    ordered = sorted(regions, key=lambda r: (r[0].box[1], r[0].box[0]))
    rows: list[list[list[_Line]]] = []
    for region in ordered:
        if rows and region[0].box[1] - rows[-1][0][0].box[1] <= rows[-1][0][0].height / 2:
            rows[-1].append(region)
        else:
            rows.append([region])
    return [region for row in rows for region in sorted(row, key=lambda r: r[0].box[0])]


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _ltwh(box: Box, back: Callable[[Point], Point], size: tuple[int, int]) -> str:
    """The box's "left,top,width,height" in the original image, through ``back`` from the upright copy."""
    corners = [back((float(x), float(y))) for x in (box[0], box[2]) for y in (box[1], box[3])]
    left, top = max(0, round(min(p[0] for p in corners))), max(0, round(min(p[1] for p in corners)))
    right, bottom = min(size[0], round(max(p[0] for p in corners))), min(size[1], round(max(p[1] for p in corners)))
    return f"{left},{top},{max(1, right - left)},{max(1, bottom - top)}"


def to_ocr(lines: Sequence[_Line], *, orientation: str = "Up", back: Callable[[Point], Point] = lambda p: p,
           size: tuple[int, int] = (1 << 30, 1 << 30)) -> dict[str, Any]:
    """Lines of the upright copy in the OCR API's shape: regions → lines → words, "left,top,width,height"
    boxes mapped by ``back`` into the original image of ``size``; ``language`` is left "unk"."""
    regions = [
        {
            "boundingBox": _ltwh(_union([ln.box for ln in region]), back, size),
            "lines": [
                {"boundingBox": _ltwh(ln.box, back, size),
                 "words": [{"boundingBox": _ltwh(w.box, back, size), "text": w.text,
                            "confidence": round(w.confidence, 4)}
                           for w in ln.words]}
                for ln in region
            ],
        }
        for region in _regions(lines)
    ]
    angle = statistics.median(ln.angle for ln in lines) if lines else 0.0
    return {"language": UNKNOWN, "textAngle": round(-angle, 4) + 0.0, "orientation": orientation,
            "regions": regions}
