"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as an ONNX graph.

``dlib-bin`` is built without BLAS, so dlib runs the network's convolutions on its own matrix
code at about 110 ms per face; onnxruntime runs the same weights in about 10 ms. This
module reads the weights from dlib's file and writes the graph with ``onnx.helper``, in
memory, at the first face (about 0.25 s); the prints equal dlib's to within 1e-6.

The file is dlib's serialization of its ``anet_type`` (dnn_face_recognition_ex.cpp), layers
from the input up: a 7×7/2 convolution, max pool 3×3/2, 14 residual blocks (32, 64, 128,
256, 256 filters; the first of each width after 32 halves the size, its shortcut an average
pool 2×2/2 and the block's output zero-padded to each other's channels and size, as dlib's ``add_prev`` does), a
global average pool and a 256→128 ``fc_no_bias``. Every batch norm is an ``affine`` layer,
folded here into the convolution before it. Numbers in the file: dlib's variable-length
integers (a byte with the length, bit 7 the sign, then little-endian bytes) and tensors of
little-endian float32.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.errors import ConfigurationError

__all__ = ["CHIP_SIZE", "INPUT_MEAN", "build_onnx", "preprocess", "read_layers"]

CHIP_SIZE = 150
# input_rgb_image_sized: each channel minus its mean, divided by 256.
INPUT_MEAN = np.array([122.782, 117.001, 104.298], dtype=np.float32)
_NAMES = re.compile(rb"\x01[\x04-\x15](con_4|affine_|relu_|max_pool_2|avg_pool_2|add_prev_|fc_2)")
_PLAN = "CARM" + "CARCA+R" * 3 + ("CARCAP+R" + "CARCA+R" * 3) + ("CARCAP+R" + "CARCA+R" * 2) * 2 + "CARCAP+R" + "PF"


class _Reader:
    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def integer(self) -> int:
        head = self.data[self.at]
        size, negative = head & 0x0F, head & 0x80
        value = int.from_bytes(self.data[self.at + 1:self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if negative else value

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise ValueError(f"not a dlib tensor at byte {self.at}")
        n, k, nr, nc = (self.integer() for _ in range(4))
        count = n * k * nr * nc
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at).astype(np.float32)
        self.at += 4 * count
        return values


@dataclass(frozen=True)
class Layer:
    kind: str  # C convolution, A affine, R relu, M max pool, P average pool, + add, F fully connected
    params: np.ndarray | None = None
    shape: tuple[int, ...] = ()  # C: filters, rows, cols, stride, padding; M/P: rows, cols, stride, padding


def read_layers(data: bytes) -> list[Layer]:
    """The layers of the file, input first; raises ValueError if they are not dlib's face ResNet."""
    layers = []
    for match in _NAMES.finditer(data):
        name, reader = match.group(1), _Reader(data, match.end())
        if name == b"con_4":
            params = reader.tensor()
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
            if (stride_y, pad_y) != (stride_x, pad_x) or rows != cols:
                raise ValueError("only square convolutions are supported")
            layers.append(Layer("C", params, (filters, rows, cols, stride_y, pad_y)))
        elif name == b"affine_":
            layers.append(Layer("A", reader.tensor()))
        elif name in (b"max_pool_2", b"avg_pool_2"):
            rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
            layers.append(Layer("M" if name == b"max_pool_2" else "P", None, (rows, cols, stride_y, pad_y)))
        elif name == b"fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            if params.size != outputs * inputs:
                raise ValueError("expected an fc_no_bias layer")
            layers.append(Layer("F", params.reshape(inputs, outputs)))
        else:
            layers.append(Layer("R" if name == b"relu_" else "+"))
    if "".join(layer.kind for layer in layers) != _PLAN:
        raise ValueError("the file is not dlib's face recognition ResNet v1")
    return layers


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value: np.ndarray, prefix: str = "w") -> str:
        name = self.name(prefix)
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out


def _padded(g: _Graph, x: str, channels: int, size: int) -> str:
    if not channels and not size:
        return x
    pads = np.array([0, 0, 0, 0, 0, channels, size, size], dtype=np.int64)
    return g.node("Pad", [x, g.constant(pads, "pads")], mode="constant")


def _out_size(size: int, window: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - window) // stride


def build_onnx(data: bytes) -> bytes:
    """The ONNX model: input ``chips`` N×3×150×150 float32 (see ``preprocess``), output ``print`` N×128."""
    try:
        layers = read_layers(data)
    except (ValueError, IndexError) as e:
        raise ConfigurationError(f"dlib_face_recognition_resnet_model_v1.dat cannot be read: {e}") from None
    g = _Graph()
    x, channels, size = "chips", 3, CHIP_SIZE
    block_input: tuple[str, int, int] = (x, channels, size)
    pooled: tuple[str, int, int] | None = None
    i = 0
    while i < len(layers):
        layer = layers[i]
        if layer.kind == "C":
            before = "".join(layer.kind for layer in layers[max(0, i - 2):i])
            if before.endswith("M") or before == "+R":
                block_input = (x, channels, size)  # a residual block starts after the stem or a block
            affine = layers[i + 1]
            assert layer.params is not None and affine.params is not None
            filters, rows, _, stride, pad = layer.shape
            weights = layer.params[: filters * channels * rows * rows].reshape(filters, channels, rows, rows)
            bias = layer.params[filters * channels * rows * rows:]
            gamma, beta = affine.params[:filters], affine.params[filters:]
            x = g.node("Conv", [x, g.constant(weights * gamma[:, None, None, None]), g.constant(bias * gamma + beta)],
                       kernel_shape=[rows, rows], strides=[stride, stride], pads=[pad] * 4)
            channels, size = filters, _out_size(size, rows, stride, pad)
            i += 2
            continue
        if layer.kind == "R":
            x = g.node("Relu", [x])
        elif layer.kind == "M":
            rows, _, stride, pad = layer.shape
            x = g.node("MaxPool", [x], kernel_shape=[rows, rows], strides=[stride, stride], pads=[pad] * 4)
            size = _out_size(size, rows, stride, pad)
        elif layer.kind == "P" and layers[i + 1].kind == "F":
            x = g.node("Flatten", [g.node("GlobalAveragePool", [x])])
        elif layer.kind == "P":
            rows, _, stride, pad = layer.shape
            source, source_channels, source_size = block_input
            out = g.node("AveragePool", [source], kernel_shape=[rows, rows], strides=[stride, stride], pads=[pad] * 4)
            pooled = (out, source_channels, _out_size(source_size, rows, stride, pad))
        elif layer.kind == "+":
            shortcut, short_channels, short_size = pooled or block_input
            pooled = None
            # dlib adds tensors of different shapes as if the smaller were zero-padded at the end.
            out_channels, out_size = max(channels, short_channels), max(size, short_size)
            x = _padded(g, x, out_channels - channels, out_size - size)
            shortcut = _padded(g, shortcut, out_channels - short_channels, out_size - short_size)
            x, channels, size = g.node("Add", [x, shortcut]), out_channels, out_size
        elif layer.kind == "F":
            assert layer.params is not None
            x = g.node("MatMul", [x, g.constant(layer.params)])
        i += 1
    g.nodes[-1].output[0] = "print"
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", 3, CHIP_SIZE, CHIP_SIZE])],
        [helper.make_tensor_value_info("print", TensorProto.FLOAT, ["n", 128])],
        initializer=g.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="imaginem")
    model.ir_version = 8
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


def preprocess(chips: list[np.ndarray]) -> np.ndarray:
    """150×150×3 uint8 RGB face chips → the network's N×3×150×150 input."""
    batch = (np.stack(chips).astype(np.float32) - INPUT_MEAN) / 256.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
