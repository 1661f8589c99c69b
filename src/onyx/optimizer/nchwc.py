"""Models that onnxruntime optimized and saved at its layout level run on onyx.

onnxruntime's layout transformer (ORT_ENABLE_LAYOUT and ORT_ENABLE_ALL) rewrites a CNN's
convolutions and pools into its ``com.microsoft.nchwc`` operators, which hold activations in
blocks of ``b`` channels (memory N, C/b, H, W, b; the channel count rounded up to a multiple
of ``b``), and stores each such convolution's weights re-laid out into blocks. ``b`` is the
CPU's vector width in floats (8 with AVX2, 16 with AVX-512) and is not written into the file.

onyx holds such a tensor in the logical layout (N, C rounded up, H, W): the channel padding
is kept, the blocking is not. Element-wise operators, Concat along channels and the pools give
the same values in either layout, so only two operators need ``b``, and this pass rewrites
them at load (the others run as kernels in onyx.ops.contrib.nchwc):

* ``Conv`` becomes a standard Conv, or onyx's FusedConv when it has an activation or adds its
  ``Sum`` input, with its weights put back into OIHW order;
* ``ReorderInput`` becomes onyx's PadChannels (zero channels up to a multiple of ``b``).

``b`` is read from the channel counts (a padded count that is not a multiple of 16 means 8;
a convolution reading a plain NCHW input of 8 to 15 channels means 16); when they fit both,
it is this CPU's (onnxruntime warns that such files belong to the machine that wrote them).
"""

from __future__ import annotations

import functools

import numpy as np

from onyx.errors import InvalidGraph
from onyx.model.graph import Model, Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, copy_model

NCHWC = "com.microsoft.nchwc"
BLOCK_SIZES = (16, 8)


@functools.cache
def host_block_size() -> int:
    """onnxruntime's block size on this CPU: 16 with AVX-512F, else 8."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return 16 if " avx512f" in f.read() else 8
    except OSError:
        return 8


def _blocked_values(model: Model) -> set[str]:
    """Names of the values held in the blocked layout: made by a com.microsoft.nchwc operator
    other than ReorderOutput, or by any operator reading such a value."""
    blocked: set[str] = set()
    for node in model.graph.nodes:
        if node.domain == NCHWC:
            makes_blocked = node.op_type != "ReorderOutput"
        else:
            makes_blocked = any(name in blocked for name in node.inputs)
        if makes_blocked:
            blocked.update(name for name in node.outputs if name)
    return blocked


def _filter_layout(node: Node, weights: np.ndarray, blocked: set[str]) -> str:
    """'Bo' (output channels blocked) or 'BiBo' (input and output channels blocked)."""
    depthwise = weights.shape[1] == 1 and int(node.attrs.get("group", 1)) > 1
    return "BiBo" if node.inputs[0] in blocked and not depthwise else "Bo"


def _block_size(convs: list[tuple[Node, np.ndarray, str]]) -> int:
    """The block size the channel counts allow (see the module docstring)."""
    candidates = set(BLOCK_SIZES)
    for node, w, layout in convs:
        groups = int(node.attrs.get("group", 1)) if layout == "BiBo" else 1
        padded = [w.shape[0] // groups] + ([w.shape[1]] if layout == "BiBo" else [])
        for b in BLOCK_SIZES:
            if any(n % b for n in padded) or layout == "Bo" and w.shape[1] >= b:
                candidates.discard(b)
    if not candidates:
        raise InvalidGraph("the com.microsoft.nchwc convolutions' channel counts fit no known block size (8 or 16)")
    host = host_block_size()
    return host if host in candidates else max(candidates)


def unblock_filter(w: np.ndarray, layout: str, group: int, b: int) -> np.ndarray:
    """OIHW weights from onnxruntime's blocked filter of the same shape.

    'Bo': per block of b output channels, [input, kernel..., b outputs].
    'BiBo': per group, per block of b outputs and block of b inputs, [kernel..., b inputs, b outputs].
    """
    out_channels, in_channels = w.shape[:2]
    kernel = w.shape[2:]
    k = len(kernel)
    if layout == "Bo":
        blocks = w.reshape((out_channels // b, in_channels) + kernel + (b,))
        return np.moveaxis(blocks, -1, 1).reshape(w.shape)
    blocks = w.reshape((group, out_channels // group // b, in_channels // b) + kernel + (b, b))
    # axes: group, out block, in block, kernel..., in lane, out lane -> group, out block, out lane, in block, in lane, kernel...
    order = (0, 1, 4 + k, 2, 3 + k) + tuple(range(3, 3 + k))
    return blocks.transpose(order).reshape(w.shape)


def unblock_nchwc(model: Model) -> Model:
    """``model`` without blocked weights or ReorderInput (a rewritten copy), or ``model``
    itself when it has no com.microsoft.nchwc operators."""
    if not any(node.domain == NCHWC for node in model.graph.nodes):
        return model
    model = copy_model(model)
    ed = GraphEditor(model)
    blocked = _blocked_values(model)
    convs = []
    for node in model.graph.nodes:
        if node.domain == NCHWC and node.op_type == "Conv":
            w = ed.constant(node.inputs[1]) if len(node.inputs) > 1 else None
            if w is None or w.ndim < 3 or w.dtype != np.float32:
                raise InvalidGraph(f"{node.describe()}: a com.microsoft.nchwc Conv needs constant float weights")
            convs.append((node, w, _filter_layout(node, w, blocked)))
    b = _block_size(convs) if convs else host_block_size()
    for node, w, layout in convs:
        group = int(node.attrs.get("group", 1))
        weights = ed.add_initializer(node.inputs[1] + "_oihw", unblock_filter(w, layout, group, b))
        ed.replace([node], [_plain_conv(node, weights)])
    for node in list(model.graph.nodes):
        if node.domain == NCHWC and node.op_type == "ReorderInput":
            attrs = {"multiple": b, "channels_last": int(node.attrs.get("channels_last", 0))}
            ed.replace([node], [Node("PadChannels", list(node.inputs), list(node.outputs), attrs,
                                     domain=ONYX_DOMAIN, name=node.name)])
    ed.use_onyx_domain()
    ed.commit()
    return model


def _plain_conv(node: Node, weights: str) -> Node:
    """A standard Conv, or onyx's FusedConv with the node's activation and Sum input."""
    attrs = {k: v for k, v in node.attrs.items() if k not in ("activation", "activation_params")}
    inputs = [node.inputs[0], weights] + list(node.inputs[2:])
    has_sum = len(inputs) > 3 and bool(inputs[3])
    activation = node.attrs.get("activation", "")
    activation = activation.decode() if isinstance(activation, bytes) else activation
    if not activation and not has_sum:
        return Node("Conv", inputs[:3], list(node.outputs), attrs, name=node.name)
    attrs["activation"] = activation
    attrs["activation_params"] = [float(p) for p in node.attrs.get("activation_params", [])]
    return Node("FusedConv", inputs, list(node.outputs), attrs, domain=ONYX_DOMAIN, name=node.name)
