"""Whether an image holds text, and how it is laid out, from the text detector that ships in rapidocr
(PP-OCR's DB model, ``bundled_models()["det"]``), run with onnxruntime on a small copy of the image.

Preprocessing follows RapidOCR's ``DetPreProcess``: BGR, each side rounded to a multiple of 32,
``(x / 255 - 0.5) / 0.5``; the copy is the image's shared antialiased ``Image.scaled`` one. Boxes come
from RapidOCR's own ``DBPostProcess`` with its default thresholds. Only boxes shaped like a line of
writing (long side at least ``MIN_LINE_ASPECT`` times the short one) count: the DB map also lights up
whole textured areas (a tray of coins, a snake's scales) as one roughly square blob.

At ``DETECTION_SIDE`` 256 px the model costs about 70 ms single-threaded on any photo (it sees at most
256×256), about a tenth of OCR's 960 px pass; the lines of a printed page are a few pixels high there and
still found. ``worth_a_look`` gates it on statistics already at hand, so most colour photos skip it:
grey images (documents, scans, black-and-white photos), drawn or rendered ones (logos, clip art,
screenshots) and those ImageNet sees as text-bearing things (``text_`` classes: web site, envelope,
dust jacket, street sign, …) are looked at. ``text_tags`` turns the regions into Azure's tags.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import PIL.Image

from pipeline.images import Image

from .imagetype import MIN_GRAPHICS_FLAT, PixelStatistics

__all__ = ["DETECTION_SIDE", "MIN_LINE_ASPECT", "MIN_TEXT", "NO_TEXT", "TextPresence", "TextRegions", "text_tags",
           "worth_a_look"]

DETECTION_SIDE = 256
MIN_LINE_ASPECT = 2.0
_COVERAGE_HALF = 0.02  # a line covering 2 % of the image gives half the confidence its score would
_MULTIPLE = 32
MIN_TEXT = 0.1  # confidence from which ``text`` is a tag
# Gate: grey images, near-clip-art, or ImageNet's text-bearing classes holding this much probability.
_GATE_COLOURLESS, _GATE_CLIP_ART, _GATE_TEXT_SHARE = 0.75, 0.4, 0.05
# A document: two lines or more, over this share of the image, none as tall as a logo's words.
_DOCUMENT_COVERAGE, _LOGO_HEIGHT = 0.15, 0.35


@dataclass(frozen=True)
class TextRegions:
    """What the detector found: ``lines`` line-shaped boxes covering ``coverage`` of the image, their
    area-weighted mean ``score``, and the ``tallest`` line's height as a share of the image's short side."""

    lines: int
    coverage: float
    score: float
    tallest: float
    looked: bool = True

    @property
    def confidence(self) -> float:
        """0–1: the lines' score, discounted while they cover little of the image."""
        return self.score * self.coverage / (self.coverage + _COVERAGE_HALF) if self.lines else 0.0


NO_TEXT = TextRegions(lines=0, coverage=0.0, score=0.0, tallest=0.0, looked=False)
"""What ``find`` is not asked: the gate said the image is not worth a look."""


def _sides(box: np.ndarray) -> tuple[float, float]:
    """(long, short) side of a quadrilateral given as 4×2 corner points in order."""
    a = float(np.linalg.norm(box[1] - box[0]) + np.linalg.norm(box[2] - box[3])) / 2
    b = float(np.linalg.norm(box[3] - box[0]) + np.linalg.norm(box[2] - box[1])) / 2
    return max(a, b), min(a, b)


class TextPresence:
    """Loads the detector lazily, once (thread-safe); ``model`` defaults to the one rapidocr ships."""

    def __init__(self, *, model: Path | None = None, threads: int = 1, side: int = DETECTION_SIDE,
                 min_line_aspect: float = MIN_LINE_ASPECT) -> None:
        self._model = model
        self._threads = threads
        self._side = side
        self._min_line_aspect = min_line_aspect
        self._session: ort.InferenceSession | None = None
        self._post: Any = None
        self._lock = threading.Lock()

    def load(self) -> tuple[ort.InferenceSession, Any]:
        with self._lock:
            if self._session is None:
                from rapidocr.ch_ppocr_det.utils import DBPostProcess

                from .rapid_ocr import bundled_models

                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle threads must not spin: the other models of the step share the same cores.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(str(self._model or bundled_models()["det"]),
                                                     sess_options=options, providers=["CPUExecutionProvider"])
                # RapidOCR's config.yaml defaults for Det.
                self._post = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                                           use_dilation=True, score_mode="fast")
            return self._session, self._post

    def _batch(self, image: Image) -> np.ndarray:
        copy, _ = image.scaled(self._side)
        width = max(_MULTIPLE, round(copy.width / _MULTIPLE) * _MULTIPLE)
        height = max(_MULTIPLE, round(copy.height / _MULTIPLE) * _MULTIPLE)
        if (width, height) != copy.size:
            copy = copy.resize((width, height), PIL.Image.Resampling.BILINEAR)
        bgr = np.asarray(copy, dtype=np.float32)[..., ::-1]
        return np.ascontiguousarray((bgr / 127.5 - 1.0).transpose(2, 0, 1)[None])

    def find(self, image: Image) -> TextRegions:
        """The line-shaped text regions of ``image``."""
        session, post = self.load()
        batch = self._batch(image)
        height, width = batch.shape[2:]
        predictions = session.run(None, {session.get_inputs()[0].name: batch})[0]
        boxes, scores = post(predictions, (height, width))
        lines, area, weighted, tallest = 0, 0.0, 0.0, 0.0
        for box, score in zip(boxes, scores, strict=True):
            long, short = _sides(box.astype(np.float64))
            if short <= 0 or long < self._min_line_aspect * short:
                continue
            lines += 1
            area += long * short
            weighted += long * short * float(score)
            tallest = max(tallest, short / min(width, height))
        if not lines:
            return TextRegions(lines=0, coverage=0.0, score=0.0, tallest=0.0)
        return TextRegions(lines=lines, coverage=min(1.0, area / (width * height)), score=weighted / area,
                           tallest=min(1.0, tallest))


def worth_a_look(stats: PixelStatistics, text_share: float) -> bool:
    """Whether to run the detector: the image is mostly grey, or close to clip art, or ImageNet's
    ``text_`` classes hold ``text_share`` ≥ 0.05 of its probability."""
    return (stats.colourless >= _GATE_COLOURLESS or stats.clip_art >= _GATE_CLIP_ART
            or text_share >= _GATE_TEXT_SHARE)


def text_tags(regions: TextRegions, stats: PixelStatistics) -> list[dict[str, Any]]:
    """``text`` when lines were found, with ``document`` for page-like layouts (several body-size lines
    over a good part of the image) or ``logo`` for one or two large lines on a drawn, flat ground."""
    confidence = regions.confidence
    if confidence < MIN_TEXT:
        return []
    tags = [{"name": "text", "confidence": round(confidence, 4)}]
    if regions.lines >= 2 and regions.coverage >= _DOCUMENT_COVERAGE and regions.tallest < _LOGO_HEIGHT:
        tags.append({"name": "document", "confidence": round(confidence * min(1.0, regions.lines / 3), 4)})
    elif regions.lines <= 2 and regions.tallest >= _LOGO_HEIGHT and stats.flat >= MIN_GRAPHICS_FLAT:
        tags.append({"name": "logo", "confidence": round(confidence * min(1.0, stats.flat / 0.5), 4)})
    return tags
