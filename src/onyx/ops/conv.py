"""Convolutions: Conv, ConvInteger, QLinearConv, ConvTranspose, Col2Im, DeformConv.

Conv is prepared once per node (PreparedConv): its algorithm (onyx.ops.conv_algorithms: 1x1
products, im2col, shifted products, depthwise rows, Winograd) is chosen from the node's
geometry and its weights re-laid out for it at session creation. ConvTranspose is a matmul
followed by a col2im scatter-add, one kernel position at a time.
"""

from __future__ import annotations

import math
import numpy as np

from onyx.model.types import np_dtype, shape_of
from onyx.ops.conv_algorithms import (
    ALGORITHMS,
    Algorithm,
    ConvGeometry,
    PreparedWeights,
    add_bias,
    choose_algorithm,
    run_algorithm,
)
from onyx.ops.integer_gemm import EXACT_FLOAT32
from onyx.ops.registry import NodeContext, kernel
from onyx.ops.window import col2im, effective_kernel, output_shape, resolve_pads, spatial_attr


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The float type a convolution of ``dtype`` data runs in (float64 keeps integer sums exact)."""
    if dtype == np.float32 or dtype == np.float64:
        return dtype
    if np.issubdtype(dtype, np.integer):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def conv_core(x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, bias: np.ndarray | None = None,
              exact: bool = False) -> np.ndarray:
    """Conv's (N, M, *out) result of float ``x`` by ``w`` of its type, plus ``bias``, by the
    algorithm chosen for ``geometry``, its weights prepared on the spot (``exact``: integer sums,
    see choose_algorithm)."""
    algorithm = ALGORITHMS[choose_algorithm(geometry, exact=exact)]
    bias = None if bias is None else np.asarray(bias, dtype=w.dtype)
    return run_algorithm(algorithm, x, algorithm.prepare(w, bias, geometry), geometry)


class PreparedConv:
    """One Conv node's convolution: the geometry resolved and the algorithm chosen once per
    input shape (at session creation when the model declares the input's channels and spatial
    sizes, else at the first run of each), the weights re-laid out once per algorithm when W
    (and B) are constants, on every run otherwise (a fed or computed weight may change).

    ``cropped_view`` as in conv_algorithms.finish. A declared shape that does not fit the weights
    is left for the run to report with the shapes it gets.
    """

    def __init__(self, node: NodeContext, *, auto_pad: str = "NOTSET", dilations=None, group: int = 1,
                 kernel_shape=None, pads=None, strides=None, cropped_view: bool = False):
        self.attrs = dict(group=group, kernel_shape=kernel_shape, strides=strides, dilations=dilations, pads=pads,
                          auto_pad=auto_pad)
        self.compiled = node.compiled
        self.cropped_view = cropped_view
        self.weight, self.bias = node.constant(1), node.constant(2)
        self._plans: dict[tuple, tuple[ConvGeometry, Algorithm]] = {}
        self._weights: dict[tuple[str, np.dtype], PreparedWeights] = {}
        types = node.input_types
        x_shape = shape_of(types[0]) if types and types[0] is not None else None
        w_shape = self.weight.shape if self.weight is not None else None
        if x_shape is None or w_shape is None or len(x_shape) < 3 or not all(isinstance(d, int) for d in x_shape[1:]):
            return
        try:
            geometry, algorithm = self._plan((1, *x_shape[1:]), w_shape)
        except ValueError:
            return
        declared = types[0].tensor_type.elem_type
        dtype = compute_dtype(np_dtype(declared) if declared else self.weight.dtype)
        self._prepared(algorithm, geometry, self.weight, self.bias, dtype)

    @property
    def kernel_name(self) -> str:
        """The algorithms this node runs (one per input shape seen), e.g. 'conv:winograd-2x2'."""
        names = sorted({algorithm.kernel_name for _, algorithm in self._plans.values()})
        return ", ".join(names) if names else "conv:(chosen at the first run)"

    def __call__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        plan = self._plans.get((x.shape[1:], w.shape))
        geometry, algorithm = plan if plan is not None else self._plan(x.shape, w.shape)
        ct = compute_dtype(x.dtype)
        weights = self._prepared(algorithm, geometry, w, b, ct)
        y = run_algorithm(algorithm, x.astype(ct, copy=False), weights, geometry, self.cropped_view and ct == x.dtype)
        return y.astype(x.dtype, copy=False)

    def fused(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, residual: np.ndarray | None,
              clamp: tuple[float, float]) -> np.ndarray | None:
        """clamp(Conv(x, w, b) + residual) in the pass that writes the output, where the node's
        algorithm can (float32/float64 ``x``, ``residual`` of the output's shape); else None."""
        plan = self._plans.get((x.shape[1:], w.shape))
        geometry, algorithm = plan if plan is not None else self._plan(x.shape, w.shape)
        if algorithm.run_fused is None or compute_dtype(x.dtype) != x.dtype:
            return None
        if residual is not None and residual.shape != (x.shape[0], geometry.outputs, *geometry.out):
            return None
        weights = self._prepared(algorithm, geometry, w, b, x.dtype)
        return algorithm.run_fused(x, weights, geometry, residual, clamp)

    def _plan(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> tuple[ConvGeometry, Algorithm]:
        geometry = ConvGeometry.of(x_shape, w_shape, **self.attrs)
        algorithm = ALGORITHMS[choose_algorithm(geometry, self.compiled)]
        if not algorithm.applies(geometry):
            raise ValueError(f"convolution algorithm '{algorithm.name}' does not apply to {geometry}")
        self._plans[(tuple(x_shape[1:]), tuple(w_shape))] = plan = (geometry, algorithm)
        return plan

    def _prepared(self, algorithm: Algorithm, geometry: ConvGeometry, w: np.ndarray, b: np.ndarray | None,
                  dtype: np.dtype) -> PreparedWeights:
        """``algorithm``'s weights, from the node's constants once per type, else from ``w`` and ``b`` now."""
        constant = w is self.weight and b is self.bias
        if constant:
            weights = self._weights.get((algorithm.name, dtype))
            if weights is not None:
                return weights
        bias = None if b is None else np.asarray(b, dtype=dtype).reshape(-1)
        weights = algorithm.prepare(w.astype(dtype, copy=False), bias, geometry)
        if constant:
            self._weights[(algorithm.name, dtype)] = weights
        return weights


@kernel("Conv", since=1, prepare=True)
def conv(*, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None, _node):
    """N-D convolution with groups, strides, dilations and padding, prepared once per node."""
    return PreparedConv(_node, auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                        pads=pads, strides=strides)


def _integer_weights(w: np.ndarray, w_zero_point) -> tuple[np.ndarray, float]:
    """(w - w_zero_point as float32, its largest magnitude)."""
    wf = w.astype(np.float32)
    if w_zero_point is not None:
        wf -= np.asarray(w_zero_point, dtype=np.float32).reshape((-1,) + (1,) * (w.ndim - 1))
    return wf, float(np.max(np.abs(wf))) if wf.size else 0.0


def integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad):
    """Exact sum of (x - x_zero_point) * (w - w_zero_point) products (N, M, *out), as float32
    where every partial sum stays within float32's exact integers (the bound of
    onyx.ops.integer_gemm: inner size * max |x'| * max |w'| <= 2**24), by input channel chunks
    added in float64 where that holds per chunk (group 1), else as float64."""
    geometry = ConvGeometry.of(x.shape, w.shape, group, kernel_shape, strides, dilations, pads, auto_pad)
    if x_zero_point is not None and np.size(x_zero_point) != 1:
        raise ValueError("x_zero_point must be a scalar (per-tensor quantization)")
    xf = x.astype(np.float32)
    if x_zero_point is not None:
        xf -= np.float32(np.asarray(x_zero_point).reshape(-1)[0])
    wf, w_max = _integer_weights(w, w_zero_point)
    x_max = float(np.max(np.abs(xf))) if xf.size else 0.0
    window = math.prod(w.shape[2:])
    per_channel = window * x_max * w_max
    if per_channel * w.shape[1] <= EXACT_FLOAT32:
        return conv_core(xf, wf, geometry, exact=True)
    step = int(EXACT_FLOAT32 // per_channel) if per_channel else 0
    if group != 1 or step < 1:
        return conv_core(xf.astype(np.float64), wf.astype(np.float64), geometry, exact=True)
    total = None
    for start in range(0, w.shape[1], step):
        part_geometry = ConvGeometry.of(xf[:, start:start + step].shape, wf[:, start:start + step].shape, 1,
                                        kernel_shape, strides, dilations, pads, auto_pad)
        part = conv_core(xf[:, start:start + step], wf[:, start:start + step], part_geometry, exact=True)
        if total is None:
            total = part.astype(np.float64)
        else:
            total += part
    return total


@kernel("ConvInteger", since=10)
def conv_integer(
    x, w, x_zero_point=None, w_zero_point=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    """Integer convolution with zero points; int32 output."""
    y = integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad)
    return y.astype(np.int32)


@kernel("QLinearConv", since=10)
def qlinear_conv(
    x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, b=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    """Quantized convolution: requantizes the int32 accumulator (plus B) to y's scale and zero point."""
    acc = integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad)
    acc = add_bias(acc.astype(np.float64, copy=False), b)  # an int32 bias: exact in float64 only
    channel = (-1,) + (1,) * (acc.ndim - 2)
    scale = (
        np.asarray(x_scale, dtype=np.float64).reshape(-1)[0]
        * np.asarray(w_scale, dtype=np.float64).reshape(channel)
        / np.asarray(y_scale, dtype=np.float64).reshape(-1)[0]
    )
    out_dtype = np.asarray(y_zero_point).dtype
    info = np.iinfo(out_dtype)
    acc *= scale  # acc is this call's own float64 buffer: requantized in place
    np.rint(acc, out=acc)
    acc += np.asarray(y_zero_point, dtype=np.float64).reshape(-1)[0]
    return np.clip(acc, info.min, info.max, out=acc).astype(out_dtype)


def conv_transpose_geometry(x, w, strides, dilations, pads, auto_pad, output_padding, output_shape_):
    """Kernel, strides, dilations, begin pads and final output size of a transposed convolution."""
    rank = x.ndim - 2
    kern = tuple(w.shape[2:])
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    out_pad = spatial_attr(output_padding, rank, 0, "output_padding")
    extents = effective_kernel(kern, dilations)
    full = [s * (i - 1) + op + k for s, i, op, k in zip(strides, x.shape[2:], out_pad, extents)]
    if output_shape_:
        target = list(output_shape_)[-rank:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # input * stride, unless that would need negative padding (pads are never negative)
        target = [min(i * s, f) for i, s, f in zip(x.shape[2:], strides, full)]
    else:
        begin, end = resolve_pads(auto_pad, pads, x.shape[2:], kern, strides, dilations)
        return kern, strides, dilations, begin, tuple(f - b - e for f, b, e in zip(full, begin, end))
    totals = [f - t for f, t in zip(full, target)]
    begin = tuple(t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals)
    return kern, strides, dilations, begin, tuple(target)


@kernel("ConvTranspose", since=1)
def conv_transpose(
    x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
    output_padding=None, output_shape=None, pads=None, strides=None,
):
    """N-D transposed convolution: matmul by W^T, then col2im scatter-add."""
    if x.ndim < 3 or w.ndim != x.ndim or x.shape[1] != w.shape[0] or x.shape[1] % group:
        raise ValueError(f"ConvTranspose: X {x.shape} and W {w.shape} do not match group={group}")
    kern, strides, dilations, begin, out = conv_transpose_geometry(
        x, w, strides, dilations, pads, auto_pad, output_padding, output_shape
    )
    if min(begin) < 0:
        raise ValueError(f"ConvTranspose: output_shape {list(out)} needs negative padding")
    ct = compute_dtype(x.dtype)
    n, c = x.shape[:2]
    cg, mg, k = c // group, w.shape[1], math.prod(kern)
    wt = w.astype(ct, copy=False).reshape(group, cg, mg * k).transpose(0, 2, 1)
    cols = np.matmul(wt, x.astype(ct, copy=False).reshape(n, group, cg, -1))
    cols = cols.reshape((n, group * mg, k) + x.shape[2:])
    extent = [(i - 1) * s + e for i, s, e in zip(x.shape[2:], strides, effective_kernel(kern, dilations))]
    sizes = [max(e, b + o) for e, b, o in zip(extent, begin, out)]
    image = col2im(cols, kern, x.shape[2:], strides, dilations, sizes)
    y = image[(..., *(slice(b, b + o) for b, o in zip(begin, out)))]
    return add_bias(np.ascontiguousarray(y), b).astype(x.dtype, copy=False)


@kernel("Col2Im", since=18)
def col2im_(x, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    """Rearranges column blocks (N, C*prod(block), L) into an image (N, C, *image_shape)."""
    image = tuple(int(v) for v in np.asarray(image_shape).reshape(-1))
    block = tuple(int(v) for v in np.asarray(block_shape).reshape(-1))
    rank = len(image)
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    begin, end = resolve_pads("NOTSET", pads, image, block, strides, dilations)
    blocks = output_shape(image, block, strides, dilations, begin, end)
    k = math.prod(block)
    if x.ndim != 3 or x.shape[1] % k or x.shape[2] != math.prod(blocks):
        raise ValueError(f"Col2Im: input {x.shape} does not match block {block} and {math.prod(blocks)} blocks")
    cols = x.reshape((x.shape[0], x.shape[1] // k, k) + blocks)
    sizes = [i + b + e for i, b, e in zip(image, begin, end)]
    padded = col2im(cols, block, blocks, strides, dilations, sizes)
    return np.ascontiguousarray(padded[(..., *(slice(b, b + i) for b, i in zip(begin, image)))])


def deformed_columns(
    x: np.ndarray, offset: np.ndarray, mask, offset_group: int, kern, strides, dilations, begin, out
) -> np.ndarray:
    """im2col columns (N, C, K, P) sampled at offset positions by multilinear interpolation."""
    n, c = x.shape[:2]
    rank, k, p = len(kern), math.prod(kern), math.prod(out)
    in_shape = x.shape[2:]
    if c % offset_group or offset.shape != (n, offset_group * k * rank) + tuple(out):
        raise ValueError(f"DeformConv: offset shape {offset.shape} does not match offset_group={offset_group}")
    shifts = offset.reshape(n, offset_group, k, rank, p)
    kpos = np.indices(kern).reshape(rank, k, 1)
    opos = np.indices(out).reshape(rank, 1, p)
    weight_mask = np.ones((n, offset_group, k, p), dtype=x.dtype) if mask is None else mask.reshape(
        n, offset_group, k, p).astype(x.dtype, copy=False)
    lows, fracs = [], []
    for axis in range(rank):
        pos = (opos[axis] * strides[axis] - begin[axis] + kpos[axis] * dilations[axis]) + shifts[:, :, :, axis]
        low = np.floor(pos)
        lows.append(low.astype(np.int64))
        fracs.append((pos - low).astype(x.dtype))
    source = x.reshape(n, offset_group, c // offset_group, -1)
    cols = np.zeros((n, offset_group, c // offset_group, k * p), dtype=x.dtype)
    for corner in np.ndindex(*(2,) * rank):
        flat = np.zeros(lows[0].shape, dtype=np.int64)
        weight = weight_mask.copy()
        for axis, bit in enumerate(corner):
            idx = lows[axis] + bit
            weight *= fracs[axis] if bit else 1 - fracs[axis]
            weight *= (idx >= 0) & (idx < in_shape[axis])
            flat = flat * in_shape[axis] + np.clip(idx, 0, in_shape[axis] - 1)
        shape = (n, offset_group, 1, k * p)
        cols += np.take_along_axis(source, flat.reshape(shape), axis=3) * weight.reshape(shape)
    return cols.reshape(n, c, k, p)


@kernel("DeformConv", since=19)
def deform_conv(
    x, w, offset, b=None, mask=None, *,
    dilations=None, group=1, kernel_shape=None, offset_group=1, pads=None, strides=None,
):
    """Deformable convolution: each kernel tap samples X at its own learned offset, scaled by mask."""
    ct = compute_dtype(x.dtype)
    g = ConvGeometry.of(x.shape, w.shape, group, kernel_shape, strides, dilations, pads)
    out = g.out
    cols = deformed_columns(x.astype(ct, copy=False), offset.astype(ct, copy=False), mask, offset_group,
                            g.kernel, g.strides, g.dilations, g.begin, out)
    n, m = x.shape[0], w.shape[0]
    cols = cols.reshape(n, group, -1, cols.shape[-1])
    y = np.matmul(w.astype(ct, copy=False).reshape(group, m // group, -1), cols).reshape((n, m) + out)
    return add_bias(y, b).astype(x.dtype, copy=False)


@kernel("CausalConvWithState", since=27)
def causal_conv_with_state(x, weight, bias=None, past_state=None, *, activation="none"):
    """Causal depthwise 1-D convolution carrying the last k-1 inputs as state; optional fused SiLU."""
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"unsupported activation '{activation}'")
    n, c, length = x.shape
    k = weight.shape[-1]
    ct = compute_dtype(x.dtype)
    if past_state is None:
        past_state = np.zeros((n, c, k - 1), dtype=x.dtype)
    seq = np.concatenate([past_state, x], axis=2).astype(ct, copy=False)
    y = conv_core(seq, weight.astype(ct, copy=False).reshape(c, 1, k), ConvGeometry.of(seq.shape, (c, 1, k), c))
    y = add_bias(y, bias)
    if activation != "none":
        y = y / (1 + np.exp(-y))
    present = np.ascontiguousarray(seq[:, :, seq.shape[2] - (k - 1):]).astype(x.dtype, copy=False)
    return y.astype(x.dtype, copy=False), present
