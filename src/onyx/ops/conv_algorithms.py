"""Convolution algorithms, and the table that picks one for a node's geometry.

Every algorithm computes Conv's (N, M, *out) result plus its bias from a float input and the
weights it re-laid out for itself once (``Algorithm.prepare``, at session creation for constant
weights; see onyx.ops.conv.PreparedConv):

* ``gemm-1x1``: a 1x1 convolution is one product per group of the (strided) input.
* ``im2col``: windows of the padded input (read flat over its stride phases for
  depthwise-like convolutions) copied a cache-sized chunk at a time, each chunk followed by
  one batched product over groups, the bias a column of the weights.
* ``shifted``: unit strides, few outputs per input channel: one product per kernel position
  over the flat padded input, shifted and summed.
* ``depthwise-rows``: unit-stride 2-D depthwise: im2col over kernel columns only.
* ``winograd-2x2`` and ``winograd-4x4``: 3x3 stride-1 convolutions by Winograd's minimal
  filtering (onyx.ops.winograd).
* ``grouped-direct`` ([fast]): strided 2-D convolutions with few input channels per group
  (depthwise) summed directly by a compiled loop, the bias added as each output row is written
  (onyx.ops.conv_compiled). At unit strides depthwise-rows or im2col measured 1.1-2.2x faster
  on an idle machine (bench/conv_algorithms.py), strided ones 0.6-0.75x im2col's time.

``choose_algorithm(geometry, compiled)`` is the one place that decides. To add an algorithm
(compiled depthwise or grouped kernels from onyx.compiled, say), add an ``Algorithm`` to
``ALGORITHMS`` and a rule to ``choose_algorithm``, under ``compiled`` when it needs Numba:
tests/ops/test_conv_algorithms.py then checks it against the reference convolution on every
geometry it ``applies`` to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from onyx.ops import winograd
from onyx.ops.window import (
    effective_kernel,
    output_shape,
    padded_for_windows,
    resolve_pads,
    spatial_attr,
    stride_phases,
    window_taps,
)


@dataclass(frozen=True)
class ConvGeometry:
    """What a convolution's algorithm depends on: channels, weights' shape, attributes (auto_pad
    resolved) and the spatial input and output sizes; not the batch or the data type."""

    channels: int  # C, input channels
    outputs: int  # M, output channels
    group: int
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    begin: tuple[int, ...]  # pads before each spatial axis
    in_shape: tuple[int, ...]
    out: tuple[int, ...]

    @classmethod
    def of(cls, x_shape: Sequence[int], w_shape: Sequence[int], group: int = 1, kernel_shape=None, strides=None,
           dilations=None, pads=None, auto_pad: str = "NOTSET") -> ConvGeometry:
        """The geometry of Conv(X, W) for X of ``x_shape`` (N, C, *in) and W of ``w_shape``."""
        rank = len(x_shape) - 2
        if rank < 1 or len(w_shape) != len(x_shape):
            raise ValueError(f"Conv expects X and W of the same rank >= 3, got {tuple(x_shape)} and {tuple(w_shape)}")
        if x_shape[1] != w_shape[1] * group or w_shape[0] % group:
            raise ValueError(f"channels of X {tuple(x_shape)} and W {tuple(w_shape)} do not match group={group}")
        kern = tuple(int(k) for k in w_shape[2:])
        if kernel_shape and tuple(kernel_shape) != kern:
            raise ValueError(f"kernel_shape {list(kernel_shape)} does not match W shape {tuple(w_shape)}")
        strides = spatial_attr(strides, rank, 1, "strides")
        dilations = spatial_attr(dilations, rank, 1, "dilations")
        in_shape = tuple(int(s) for s in x_shape[2:])
        begin, end = resolve_pads(auto_pad, pads, in_shape, kern, strides, dilations)
        out = output_shape(in_shape, kern, strides, dilations, begin, end)
        return cls(int(x_shape[1]), int(w_shape[0]), group, kern, strides, dilations, tuple(begin), in_shape, out)

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def unit_strides(self) -> bool:
        return all(s == 1 for s in self.strides)

    @property
    def depthwise(self) -> bool:
        """One input channel per group."""
        return self.channels == self.group

    @property
    def inputs_per_group(self) -> int:
        return self.channels // self.group

    @property
    def outputs_per_group(self) -> int:
        return self.outputs // self.group


class PreparedWeights(NamedTuple):
    """An algorithm's weights: its ``matrix`` (its own layout) and the bias it still has to add
    ((M,) or None; None also when the matrix carries it)."""

    matrix: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class Algorithm:
    """One way to compute a convolution. ``prepare(w, bias, geometry)`` re-lays out the float
    weights (M, C/group, *kernel) and bias once; ``run(x, weights, geometry)`` returns the
    products over a grid that starts with ``geometry.out`` (N, M, *grid) and the bias still to
    add (see ``finish``); ``run_fused``, where given, also adds a residual and clamps."""

    name: str
    applies: Callable[[ConvGeometry], bool]
    prepare: Callable[[np.ndarray, np.ndarray | None, ConvGeometry], PreparedWeights]
    run: Callable[[np.ndarray, PreparedWeights, ConvGeometry], tuple[np.ndarray, np.ndarray | None]]
    # clamp(conv + residual) with the epilogue in the pass that writes the output, for algorithms
    # that can: (x, weights, geometry, residual or None, (low, high)) -> the (N, M, *out) result
    run_fused: Callable[..., np.ndarray] | None = None

    @property
    def kernel_name(self) -> str:
        return f"conv:{self.name}"


def choose_algorithm(geometry: ConvGeometry, compiled: bool = False, exact: bool = False) -> str:
    """The name of the algorithm a convolution of ``geometry`` runs, in ALGORITHMS. ``compiled``:
    whether compiled kernels may be used (grouped-direct); ``exact``: the
    sums must be exact (integer convolutions in float64), which rules out Winograd's fractions."""
    g = geometry
    if math.prod(g.kernel) == 1:
        return "gemm-1x1"
    if compiled and not g.unit_strides and _grouped_direct_applies(g) and g.inputs_per_group <= DIRECT_MAX_CHANNELS:
        from onyx.ops import conv_compiled

        if conv_compiled.available():
            return "grouped-direct"
    if g.unit_strides and 2 * g.outputs_per_group < g.inputs_per_group:
        return "shifted"
    if g.unit_strides and g.rank == 2 and g.depthwise and (math.prod(g.kernel) >= 25 or math.prod(g.out) >= 3000):
        return "depthwise-rows"
    return (None if exact else winograd_choice(g)) or "im2col"


# Where Winograd measured faster than im2col (bench/conv_algorithms.py, docs/benchmark.md): F(4x4)
# on maps from 28 wide with 128 channels in and out; F(2x2) on 13-27 wide maps only with 384
# channels (at 256 it was as slow as im2col); below these the per-point products are too small.
WINOGRAD_4X4 = (28, 128)  # (least output side, least channels in and out)
WINOGRAD_2X2 = (13, 384)


def winograd_choice(g: ConvGeometry) -> str | None:
    """The Winograd variant measured faster than im2col for ``g``, if any."""
    if not winograd_applies(g):
        return None
    side, channels = min(g.out), min(g.channels, g.outputs)
    for name, (least_side, least_channels) in (("winograd-4x4", WINOGRAD_4X4), ("winograd-2x2", WINOGRAD_2X2)):
        if side >= least_side and channels >= least_channels:
            return name
    return None


def finish(y: np.ndarray, out: Sequence[int], bias: np.ndarray | None, cropped_view: bool = False) -> np.ndarray:
    """The (N, M, *out) result from an algorithm's products ``y`` (N, M, *grid) and the bias it
    left to add: ``y`` itself when the grid is ``out``, else its crop, contiguous unless
    ``cropped_view`` (a caller finishing the output in one more pass crops it then)."""
    if y.shape[2:] == tuple(out):
        return add_bias(y, bias)
    y = y[(..., *(slice(0, o) for o in out))]
    if bias is not None:
        return np.add(y, channel_bias(bias, y))
    return y if cropped_view else np.ascontiguousarray(y)


def run_algorithm(algorithm: Algorithm, x: np.ndarray, weights: PreparedWeights, geometry: ConvGeometry,
                  cropped_view: bool = False) -> np.ndarray:
    """Conv's (N, M, *out) result of float ``x`` by ``algorithm`` with its prepared ``weights``."""
    y, bias = algorithm.run(x, weights, geometry)
    return finish(y, geometry.out, bias, cropped_view)


# -- the algorithms ---------------------------------------------------------------


def _prepare_gemm(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
    if g.group == 1 and bias is not None and g.channels < g.outputs:
        return PreparedWeights(weights_with_bias_column(w, bias), None)
    return PreparedWeights(w.reshape(g.group, g.outputs_per_group, -1), bias)


def _run_gemm(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    n = x.shape[0]
    xp = padded_for_windows(x, g.begin, g.out, g.kernel, g.strides, g.dilations)
    cols = xp[(..., *(slice(None, None, s) for s in g.strides))].reshape(n, g.group, g.inputs_per_group, -1)
    matrix = weights.matrix
    if matrix.ndim == 2:  # [W | b]
        y = widening_product_with_bias(cols[:, 0], matrix)
    else:
        y = np.matmul(matrix[0], cols[:, 0]) if g.group == 1 else np.matmul(matrix, cols)
    return y.reshape((n, g.outputs) + g.out), weights.bias


def _prepare_im2col(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
    if bias is None:
        return PreparedWeights(w.reshape(g.group, g.outputs_per_group, -1), None)
    return PreparedWeights(weights_with_bias_column(w, bias).reshape(g.group, g.outputs_per_group, -1), None)


def _run_im2col(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    flat = flat_windows(g.kernel, g.out, g.strides, g.dilations, g.outputs_per_group, g.inputs_per_group)
    taps, grid = window_taps(x, g.kernel, g.out, g.strides, g.dilations, g.begin, flat)
    ones_row = weights.matrix.shape[-1] != g.inputs_per_group * math.prod(g.kernel)  # the bias column
    y = windowed_product(taps, weights.matrix, g.rank, math.prod(grid), ones_row)
    return y.reshape((x.shape[0], g.outputs) + grid), None


def _prepare_shifted(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
    mg, cg, k = g.outputs_per_group, g.inputs_per_group, math.prod(g.kernel)
    wall = w.reshape(g.group, mg, cg, k).transpose(0, 3, 1, 2).reshape(g.group, k * mg, cg)
    return PreparedWeights(np.ascontiguousarray(wall), bias)


def _run_shifted(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    y, grid = shifted_product(x, weights.matrix, g.group, g.kernel, g.out, g.dilations, g.begin)
    return y.reshape((x.shape[0], g.outputs) + grid), weights.bias


def _prepare_depthwise_rows(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
    kh, kw = g.kernel
    return PreparedWeights(w.reshape(g.channels, g.outputs_per_group * kh, kw), bias)


def _run_depthwise_rows(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    y, grid = depthwise_rows(x, weights.matrix, g.kernel, g.out, g.dilations, g.begin)
    return y.reshape((x.shape[0], g.outputs) + grid), weights.bias


def _grouped_direct_applies(g: ConvGeometry) -> bool:
    """2-D with groups (onyx.ops.conv_compiled), where Numba is installed."""
    from onyx.compiled import installed

    return g.rank == 2 and g.group > 1 and installed()


def _prepare_grouped_direct(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
    bias = np.zeros(g.outputs, dtype=w.dtype) if bias is None else np.array(bias, dtype=w.dtype)
    return PreparedWeights(np.array(w, order="C"), bias)  # copies: the compiled loop's types are writeable


def _run_grouped_direct(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    return _run_grouped_direct_fused(x, weights, g), None


def _run_grouped_direct_fused(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry,
                              residual: np.ndarray | None = None,
                              clamp: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    from onyx.ops import conv_compiled

    return conv_compiled.grouped_conv(x, weights.matrix, weights.bias, g.strides, g.dilations, g.begin, g.out,
                                      residual, clamp)


def winograd_applies(g: ConvGeometry) -> bool:
    """3x3, stride 1, dilation 1, one group, 2-D."""
    return g.kernel == (3, 3) and g.unit_strides and g.dilations == (1, 1) and g.group == 1


def _winograd(name: str, transforms: winograd.WinogradTransforms) -> Algorithm:
    def prepare(w: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> PreparedWeights:
        return PreparedWeights(winograd.transform_filter(w, transforms), bias)

    def run(x: np.ndarray, weights: PreparedWeights, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
        return winograd.winograd_conv(x, weights.matrix, transforms, g.begin, g.out, weights.bias), None

    return Algorithm(name, winograd_applies, prepare, run)


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("gemm-1x1", lambda g: math.prod(g.kernel) == 1, _prepare_gemm, _run_gemm),
    Algorithm("im2col", lambda g: True, _prepare_im2col, _run_im2col),
    Algorithm("shifted", lambda g: g.unit_strides, _prepare_shifted, _run_shifted),
    Algorithm("depthwise-rows", lambda g: g.unit_strides and g.rank == 2 and g.depthwise, _prepare_depthwise_rows,
              _run_depthwise_rows),
    Algorithm("grouped-direct", _grouped_direct_applies, _prepare_grouped_direct, _run_grouped_direct,
              _run_grouped_direct_fused),
    _winograd("winograd-2x2", winograd.F2),
    _winograd("winograd-4x4", winograd.F4),
)}


# -- the products they share ------------------------------------------------------

COLUMN_CHUNK = 1 << 20  # elements of im2col columns materialized per product (4 MB: measured best
# with NumPy's default two BLAS threads here; 1 << 17 suits one thread but starves two)
MIN_COLUMNS = 512  # but at least this many columns per product, for the BLAS's sake
DIRECT_MAX_CHANNELS = 4  # grouped-direct for at most this many input channels per group

def flat_windows(kern, out, strides, dilations, outputs_per_group: int, inputs_per_group: int) -> bool:
    """Whether to read windows flat over the padded image or its stride phases (see window_taps):
    when few outputs per group make the product cheap next to the im2col copy (depthwise); for
    strided convolutions, unless the columns have so few rows (3-channel 3x3 stems) that one
    strided copy beats one copy per kernel position; for unit strides, when the padded rows add
    few wasted columns to the product. Never when the kernel has more positions than the output
    (a 1-D STFT as a Conv: 256 taps at stride 128 for 4 outputs): one view per kernel position
    then costs a Python-level copy each, 40 ms for Silero VAD's where one strided copy takes 0.1 ms."""
    if math.prod(kern) > 4 * math.prod(out):
        return False
    if outputs_per_group <= 16:
        return True
    if any(s != 1 for s in strides):
        return inputs_per_group * math.prod(kern) >= 64
    wasted = math.prod(o + (k - 1) * d for o, k, d in zip(out[1:], kern[1:], dilations[1:])) / math.prod(out[1:])
    return wasted <= 1.1


def windowed_product(taps: list[np.ndarray], wmat: np.ndarray, rank: int, size: int, ones_row: bool = False
                     ) -> np.ndarray:
    """Products (N, group, M/group, size) of ``wmat`` (group, M/group, C/group * K) with the windows
    of a ``rank``-D convolution, given as one view (N, C, *kernel, *positions) or K views
    (N, C, *positions), one per kernel position (see window_taps). With ``ones_row``, ``wmat``
    has one more column, multiplied by a row of ones: the bias.

    The windows are copied (im2col) a cache-sized chunk of groups and leading positions at a
    time; entries past the positions are left unset.
    """
    group, mg, depth = wmat.shape
    depth -= ones_row
    n, c = taps[0].shape[:2]
    cg, kernel_axes = c // group, rank if taps[0].ndim > 3 else 0  # one view with kernel axes, or one per position
    positions = taps[0].shape[2 + kernel_axes :]
    rows, inner = positions[0], math.prod(positions[1:])
    per_row = n * (depth + ones_row) * inner
    row_step = min(rows, max(COLUMN_CHUNK // per_row, -(-MIN_COLUMNS // inner)))
    group_step = min(group, max(1, COLUMN_CHUNK // (per_row * row_step)))
    y = np.empty((n, group, mg, size), dtype=wmat.dtype)
    buffer = np.empty(per_row * row_step * group_step, dtype=wmat.dtype)
    lead = (slice(None),) * kernel_axes
    for g0 in range(0, group, group_step):
        g1 = min(group, g0 + group_step)
        for r0 in range(0, rows, row_step):
            r1 = min(rows, r0 + row_step)
            width = (r1 - r0) * inner
            product_input = buffer[: n * (g1 - g0) * (depth + ones_row) * width].reshape(n, g1 - g0, -1, width)
            if ones_row:
                product_input[:, :, depth] = 1
            # (N, groups, C/group, K or 1, rows, inner): only splits axes, so always a view
            cols = product_input[:, :, :depth].reshape(n, g1 - g0, cg, -1, r1 - r0, inner)
            block = cols.shape[3] // len(taps)
            for k, tap in enumerate(taps):
                src = tap[(slice(None), slice(g0 * cg, g1 * cg), *lead, slice(r0, r1))]
                src = src.reshape((n, g1 - g0, cg) + src.shape[2:])
                np.copyto(cols[:, :, :, k * block : (k + 1) * block].reshape(src.shape), src)
            np.matmul(wmat[g0:g1], product_input, out=y[:, g0:g1, :, r0 * inner : r1 * inner])
    return y


def shifted_product(x: np.ndarray, wall: np.ndarray, group: int, kern, out, dilations, begin
                    ) -> tuple[np.ndarray, tuple[int, ...]]:
    """A unit-stride convolution as one product per kernel position, shifted and summed: the
    products (K * M/group, C/group) @ (C/group, positions) of all K kernel positions at once over
    the flat padded input, then each position's rows added at its offset. It moves K * M values
    per position where im2col moves K * C, so it wins when a convolution narrows its channels.
    ``wall`` is the weights as (group, K * M/group, C/group) (see shifted_weights).

    Returns the products (N, group, M/group, size) over the flat grid (out[0], *padded[1:]) and
    that grid (see window_taps), entries past the last position left unset.
    """
    n = x.shape[0]
    k = math.prod(kern)
    mg, cg = wall.shape[1] // k, wall.shape[2]
    m = mg * group
    flat, padded = flat_padded(x, begin, out, kern, dilations)
    steps = [math.prod(padded[axis + 1 :]) for axis in range(len(kern))]
    offsets = [sum(i * d * st for i, d, st in zip(index, dilations, steps)) for index in np.ndindex(*kern)]
    count = sum((o - 1) * st for o, st in zip(out, steps)) + 1
    grid = (out[0], *padded[1:])
    y = np.empty((n, group, mg, math.prod(grid)), dtype=wall.dtype)
    span = offsets[-1]
    step = max(span, MIN_COLUMNS, COLUMN_CHUNK // (n * k * m) - span)
    products = np.empty(n * group * k * mg * (min(step, count) + span), dtype=wall.dtype)  # reused: one allocation
    for p0 in range(0, count, step):
        p1 = min(count, p0 + step)
        source = flat[:, :, p0 : p1 + span].reshape(n, group, cg, -1)
        z = products[: n * group * k * mg * (p1 - p0 + span)].reshape(n, group, k * mg, -1)
        np.matmul(wall, source, out=z)
        z = z.reshape(n, group, k, mg, -1)
        sum_into(y[..., p0:p1], [z[:, :, i, :, offset : offset + p1 - p0] for i, offset in enumerate(offsets)])
    return y, grid


def depthwise_rows(x: np.ndarray, weights: np.ndarray, kern, out, dilations, begin
                   ) -> tuple[np.ndarray, tuple[int, ...]]:
    """A unit-stride 2-D depthwise convolution (one input channel per group) by kernel rows.

    Over the flat padded input, im2col copies only the kw horizontal taps; one product per
    channel, (M/C * kh, kw) @ (kw, positions), gives every kernel row's partial sums, and each
    output adds its kh rows' sums at their vertical offsets. That moves about 2*kw + kh values
    per position where full im2col moves 2*kh*kw (a 7x7 depthwise convolution at 56x56: 1.45
    -> 0.79 ms). ``weights`` is (C, M/C * kh, kw). Returns the products (N, C, M/C, size) over
    the flat grid (out[0], padded[1]) and that grid, entries past the last position left unset
    (see window_taps).
    """
    n, c = x.shape[:2]
    (kh, kw), (dh, dw) = kern, dilations
    mg = weights.shape[1] // kh
    flat, padded = flat_padded(x, begin, out, kern, dilations)
    row = padded[1]
    count = (out[0] - 1) * row + out[1]
    rows_span = (kh - 1) * dh * row
    length = count + rows_span
    y = np.empty((n, c, mg, out[0] * row), dtype=weights.dtype)
    step = max(1, min(c, COLUMN_CHUNK // (n * (kw + mg * kh) * length)))
    columns = np.empty((n, step, kw, length), dtype=weights.dtype)
    sums = np.empty((n, step, mg * kh, length), dtype=weights.dtype)
    for c0 in range(0, c, step):
        c1 = min(c, c0 + step)
        cols, partial = columns[:, : c1 - c0], sums[:, : c1 - c0]
        for a in range(kw):
            np.copyto(cols[:, :, a], flat[:, c0:c1, a * dw : a * dw + length])
        np.matmul(weights[c0:c1], cols, out=partial)
        partial = partial.reshape(n, c1 - c0, mg, kh, length)
        sum_into(y[:, c0:c1, :, :count], [partial[:, :, :, b, b * dh * row : b * dh * row + count] for b in range(kh)])
    return y, (out[0], row)


def flat_padded(x: np.ndarray, begin, out, kern, dilations) -> tuple[np.ndarray, list[int]]:
    """``x`` zero-padded to the extent its unit-stride windows read, as (N, C, flat positions),
    and that extent per spatial axis."""
    padded = [o + e - 1 for o, e in zip(out, effective_kernel(kern, dilations))]
    return stride_phases(x, begin, (1,) * len(kern), padded)[:, :, 0], padded


def sum_into(target: np.ndarray, parts: list[np.ndarray]) -> None:
    """``target`` = the sum of ``parts`` (at least one), without temporaries."""
    if len(parts) == 1:
        np.copyto(target, parts[0])
        return
    np.add(parts[0], parts[1], out=target)
    for part in parts[2:]:
        target += part


def weights_with_bias_column(w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[W | b]: the (M, C/group * K) weight matrix with the bias as a last column (row i is output
    channel i, so it reshapes to (group, M/group, C/group * K + 1))."""
    m = w.shape[0]
    return np.concatenate([w.reshape(m, -1), np.asarray(bias, dtype=w.dtype).reshape(m, 1)], axis=1)


def widening_product_with_bias(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[W | b] @ [x; 1] for a 1x1 convolution's ``weights`` [W | b] (M, C + 1) of ``x`` (N, C,
    positions) with M > C: copying the narrower input once beside a row of ones costs less than
    a broadcast bias pass over the wider output (MobileNetV2's and ResNet's expanding 1x1
    convolutions)."""
    n, c, size = x.shape
    extended = np.empty((n, c + 1, size), dtype=weights.dtype)
    extended[:, :c] = x
    extended[:, c] = 1
    return np.matmul(weights, extended)


def channel_bias(b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bias ``b`` (M,) shaped to broadcast over ``y`` (N, M, ...)."""
    return np.asarray(b, dtype=y.dtype).reshape((-1,) + (1,) * (y.ndim - 2))


def add_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y`` (N, M, ...) plus a per-channel bias, in place."""
    if b is not None:
        y += channel_bias(b, y)
    return y