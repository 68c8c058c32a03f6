"""dlib's CNN face detector (``mmod_human_face_detector.dat``) as an ONNX graph, to check face candidates.

dlib-bin runs the network on its own matrix code at about 0.3 s for a 200×200 chip; onnxruntime
runs the same weights in a few milliseconds. This module reads the weights from dlib's file and
writes the graph with ``onnx.helper`` in memory (nothing is written to disk), as ``dlib_resnet_onnx``
does for the face print ResNet.

The file is dlib's serialization of the ``net_type`` of dnn_mmod_face_detection_ex.cpp: a
``loss_mmod`` header (one 80×80 detector window), the ``input_rgb_image_pyramid<pyramid_down<6>>``
(each channel minus its mean, divided by 256), then from the input up three 5×5/2 convolutions
(16, 32, 32 filters), three 5×5/1 convolutions (45 filters), each followed by a batch norm and a
relu, and a 9×9/1 convolution to one score map. The batch norms (``bn_con2``) are folded into the
convolution before them, with their running statistics, as dlib's ``affine_`` does when it loads
them. dlib runs the net once on a tiled pyramid of the image; ``MmodChecker`` runs it on each
pyramid level (5/6 of the previous, bilinear, 11 px of zeros around as dlib's tiles have) down to the
80 px window and reports the best score:
dlib's detector reports a face where that score is above 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import PIL.Image
from onnx import TensorProto, helper, numpy_helper

from classifiers.backends.local.dlib_resnet_onnx import INPUT_MEAN, _Reader
from pipeline.errors import ConfigurationError

__all__ = ["WINDOW", "MmodChecker", "build_onnx", "read_layers"]

WINDOW = 80
"""The side of the detector window in the file's ``loss_mmod`` header: the smallest face it scores."""
_NAMES = re.compile(rb"\x01[\x04-\x15](con_4|bn_con2)")
_PLAN = "CB" * 6 + "C"
_RATE = 5 / 6  # pyramid_down<6>
_PADDING = 11  # dlib's pyramid_outer_padding: zeros (the mean) around each level, so windows may overhang its edge


@dataclass(frozen=True)
class Layer:
    kind: str  # C convolution, B batch norm folded to a scale and shift
    weights: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0


def _batch_norm(reader: _Reader) -> Layer:
    params = reader.tensor()
    for _ in range(2):  # the gamma and beta alias tensors: a version and a shape, no data
        for _ in range(5):
            reader.integer()
    _means, _invstds, running_means, running_variances = (reader.tensor() for _ in range(4))
    reader.integer(), reader.integer()  # num_updates, running_stats_window_size
    for _ in range(4):  # learning rate and weight decay multipliers: dlib doubles (mantissa, exponent)
        reader.integer(), reader.integer()
    mantissa, exponent = reader.integer(), reader.integer()
    eps = mantissa * 2.0 ** exponent
    filters = running_means.size
    gamma = params[:filters] / np.sqrt(running_variances + eps)
    return Layer("B", gamma.astype(np.float32), (params[filters:] - running_means * gamma).astype(np.float32))


def read_layers(data: bytes) -> list[Layer]:
    """The layers of the file, input first; raises ValueError if they are not dlib's MMOD face detector."""
    if b"loss_mmod_" not in data[:16] or data[16:20] != b"\x01P\x01P":
        raise ValueError("no loss_mmod header with one 80x80 window")
    layers = []
    channels = 3
    for match in _NAMES.finditer(data):
        reader = _Reader(data, match.end())
        if match.group(1) == b"con_4":
            params = reader.tensor()
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
            if (stride_y, pad_y) != (stride_x, pad_x) or rows != cols:
                raise ValueError("only square convolutions are supported")
            size = filters * channels * rows * cols
            layers.append(Layer("C", params[:size].reshape(filters, channels, rows, cols), params[size:],
                                stride_y, pad_y))
            channels = filters
        else:
            layers.append(_batch_norm(reader))
    if "".join(layer.kind for layer in layers) != _PLAN:
        raise ValueError("the file is not dlib's MMOD face detector")
    return layers


def build_onnx(data: bytes) -> bytes:
    """The ONNX model: input ``image`` 1×3×H×W float32 (RGB minus ``INPUT_MEAN``, over 256), output ``score`` map."""
    try:
        layers = read_layers(data)
    except (ValueError, IndexError) as e:
        raise ConfigurationError(f"mmod_human_face_detector.dat cannot be read: {e}") from None
    nodes, weights = [], []
    x = "image"
    for i, layer in enumerate(layers):
        if layer.kind != "C":
            continue
        kernel, bias = layer.weights, layer.bias
        if i + 1 < len(layers):
            norm = layers[i + 1]
            kernel, bias = kernel * norm.weights[:, None, None, None], bias * norm.weights + norm.bias
        weights += [numpy_helper.from_array(kernel.astype(np.float32), f"w{i}"),
                    numpy_helper.from_array(bias.astype(np.float32), f"b{i}")]
        rows = kernel.shape[2]
        out = f"conv{i}" if i + 1 < len(layers) else "score"
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [out], kernel_shape=[rows, rows],
                                      strides=[layer.stride] * 2, pads=[layer.padding] * 4))
        x = out
        if i + 1 < len(layers):
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"]))
            x = f"relu{i}"
    graph = helper.make_graph(
        nodes, "dlib_mmod_human_face_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 1, "sh", "sw"])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="imaginem")
    model.ir_version = 8
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


class MmodChecker:
    """The best score of dlib's CNN face detector over a small RGB chip's pyramid; above 0 is a face."""

    def __init__(self, *, data: bytes, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads must not spin between checks: other classifiers share the two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(build_onnx(data), sess_options=options,
                                             providers=["CPUExecutionProvider"])

    def score(self, chip: np.ndarray) -> float:
        """``chip``: H×W×3 uint8 RGB. The score's maximum over every pyramid level that still holds a window."""
        best = -np.inf
        level = PIL.Image.fromarray(chip)
        while min(level.size) >= WINDOW:
            tensor = np.zeros((1, 3, level.height + 2 * _PADDING, level.width + 2 * _PADDING), dtype=np.float32)
            inner = ((np.asarray(level, dtype=np.float32) - INPUT_MEAN) / 256.0).transpose(2, 0, 1)
            tensor[0, :, _PADDING:-_PADDING, _PADDING:-_PADDING] = inner
            (scores,) = self._session.run(["score"], {"image": tensor})
            best = max(best, float(scores.max()) if scores.size else best)
            size = (round(level.width * _RATE), round(level.height * _RATE))
            level = level.resize(size, PIL.Image.Resampling.BILINEAR)
        return best
