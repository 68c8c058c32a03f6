"""ImageNet tags and coarse categories of an image, from EfficientNet-Lite0 on onnxruntime.

Tags are the likely classes (duplicate names merged) plus generic WordNet parents ("cat",
"animal") scored by the summed probability of their classes, when at least one of those classes
reaches ``MIN_PARENT_CLASS``: hundreds of unlikely classes each holding a trace otherwise add up
("animal" at 0.1 to 0.2 on every page, logo and star field of the evaluation set, whose best animal
class held at most 0.02). Categories sum the probabilities of the classes in each coarse group
(``animal_cat``, ``food_``, ``others_``).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import PIL.Image

from pipeline.images import Image

from .efficientnet_model import EfficientNetLite0Model
from .efficientnet_onnx import INPUT_NAME, INPUT_SIZE, OUTPUT_NAME
from .imagenet_labels import ImageNetLabels, load_imagenet_labels

__all__ = ["MIN_PARENT_CLASS", "ImageNetTagger", "preprocess"]

_log = logging.getLogger(__name__)
# TensorFlow EfficientNet-Lite preprocessing: (x - 127) / 128, centre crop of 224/256.
_MEAN, _STD = 127.0, 128.0
_CROP_FRACTION = 224 / 256
MIN_PARENT_CLASS = 0.03


ANALYSIS_SIDE = 512
"""The models of generalclassification look at a copy this long (``Image.scaled``), shared between them:
a 224 px crop needs no more, and a photo is never decoded in full for them."""


def preprocess(image: Image) -> np.ndarray:
    """Centre crop, bicubic resize to 224×224, normalise: a 1×3×224×224 float32 batch."""
    copy, _ = image.scaled(ANALYSIS_SIDE)
    width, height = copy.size
    side = min(width, height) * _CROP_FRACTION
    left, top = (width - side) / 2, (height - side) / 2
    small = copy.resize((INPUT_SIZE, INPUT_SIZE), PIL.Image.Resampling.BICUBIC,
                        box=(left, top, left + side, top + side), reducing_gap=3.0)
    pixels = (np.asarray(small, dtype=np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


class ImageNetTagger:
    """Loads the model and the labels lazily, once, on first use (thread-safe)."""

    def __init__(self, *, model: EfficientNetLite0Model, threads: int = 2, min_confidence: float = 0.1,
                 max_tags: int = 10, labels: Callable[[], ImageNetLabels] = load_imagenet_labels) -> None:
        self._model = model
        self._threads = threads
        self._min_confidence = min_confidence
        self._max_tags = max_tags
        self._load_labels = labels
        self._session: ort.InferenceSession | None = None
        self._labels: ImageNetLabels | None = None
        self._lock = threading.Lock()

    def load(self) -> tuple[ort.InferenceSession, ImageNetLabels]:
        with self._lock:
            if self._session is None or self._labels is None:
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle threads must not spin: open_nsfw and other workers share the same cores.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(self._model.onnx(), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
                self._labels = self._load_labels()
                _log.info("loaded %s with %d threads", self._model.name, self._threads)
            return self._session, self._labels

    def probabilities(self, image: Image) -> np.ndarray:
        """Softmax over the 1000 classes."""
        session, _ = self.load()
        logits = session.run([OUTPUT_NAME], {INPUT_NAME: preprocess(image)})[0][0].astype(np.float64)
        exp = np.exp(logits - logits.max())
        return np.asarray(exp / exp.sum())

    def tags(self, probabilities: np.ndarray) -> list[dict[str, Any]]:
        """[{name, confidence}] of classes and generic parents above the threshold, best first."""
        _, labels = self.load()
        scores: dict[str, float] = defaultdict(float)
        strongest: dict[str, float] = defaultdict(float)
        # Every class counts: a parent tag ("dog") is often carried by many unlikely breeds.
        for name, parents, p in zip(labels.names, labels.parents, probabilities.tolist(), strict=True):
            scores[name] += p
            for parent in parents:
                scores[parent] += p
                strongest[parent] = max(strongest[parent], p)
        ranked = sorted(((name, score) for name, score in scores.items()
                         if strongest.get(name, 1.0) >= MIN_PARENT_CLASS), key=lambda kv: -kv[1])
        return [{"name": name, "confidence": round(min(score, 1.0), 4)}
                for name, score in ranked[: self._max_tags] if score >= self._min_confidence]

    def share(self, probabilities: np.ndarray, prefix: str) -> float:
        """The probability of the classes whose category starts with ``prefix`` (``people_``: people and clothes)."""
        _, labels = self.load()
        return float(sum(p for category, p in zip(labels.categories, probabilities.tolist(), strict=True)
                         if category.startswith(prefix)))

    def categories(self, probabilities: np.ndarray) -> list[dict[str, Any]]:
        """[{name, score}]: the best coarse group, and any other above the threshold."""
        _, labels = self.load()
        scores: dict[str, float] = defaultdict(float)
        for category, p in zip(labels.categories, probabilities.tolist(), strict=True):
            scores[category] += p
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        kept = [ranked[0]] + [kv for kv in ranked[1:3] if kv[1] >= self._min_confidence]
        return [{"name": name, "score": round(min(score, 1.0), 4)} for name, score in kept]
