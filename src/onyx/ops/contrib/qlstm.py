"""DynamicQuantizeLSTM: an LSTM whose input and recurrence weights are 8-bit quantized (dequantized
once per node at session creation when they are constants)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from onyx.ops.activations import relu
from onyx.ops.quantization import dynamic_quantize_linear
from onyx.ops.registry import NodeContext, kernel
from onyx.runtime.control import loop_check

MS = "com.microsoft"

# name -> (fn(x, alpha, beta), default alpha, default beta); None: the function takes no such parameter
_ACTIVATIONS: dict[str, tuple[Callable, float | None, float | None]] = {
    "sigmoid": (lambda x, a, b: 1.0 / (1.0 + np.exp(-x)), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "relu": (lambda x, a, b: relu(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x > a, x, 0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1)), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.log1p(np.exp(x)), None, None),
}


def _activation_fns(names: list[str], alphas: list[float], betas: list[float]) -> list[Callable]:
    """Bind the listed activations to their alpha/beta (consumed in order by the functions taking them)."""
    fns, a_iter, b_iter = [], iter(alphas), iter(betas)
    for name in names:
        if name.lower() not in _ACTIVATIONS:
            raise ValueError(f"unsupported LSTM activation {name!r}")
        fn, alpha, beta = _ACTIVATIONS[name.lower()]
        alpha = 0.0 if alpha is None else next(a_iter, alpha)
        beta = 0.0 if beta is None else next(b_iter, beta)
        fns.append(lambda x, fn=fn, a=np.float32(alpha), b=np.float32(beta): fn(x, a, b))
    return fns


def _dequantize_weight(w: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """(w - zp) * scale for (D, in, 4H) weights, parameters per direction (D,) or per column (D, 4H)."""
    scale = scale.astype(np.float32).reshape(w.shape[0], 1, -1)
    zero_point = zero_point.astype(np.float32).reshape(w.shape[0], 1, -1)
    return (w.astype(np.float32) - zero_point) * scale


def _quantized_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w with x first quantized to uint8 per tensor, as the kernel quantizes its inputs dynamically."""
    qx, scale, zero_point = dynamic_quantize_linear(x)
    return np.matmul((qx.astype(np.float32) - zero_point) * scale, w)


def _run_direction(x, w, r, bias, peephole, h, c, lengths, reverse, fns, clip, input_forget):
    """One direction over time; returns Y (T, B, H) and the final H and C."""
    steps, batch, _ = x.shape
    hidden = h.shape[-1]
    gates_x = _quantized_matmul(x, w) + bias  # (T, B, 4H), gate order i, o, f, c
    p_i, p_o, p_f = np.split(peephole, 3)
    f, g, act_h = fns
    ys = np.zeros((steps, batch, hidden), dtype=np.float32)
    rows_all = np.arange(batch)
    check = loop_check()
    full = bool((lengths == steps).all())  # every sequence runs every step: plain time indexing
    for step in range(steps):
        if check:
            check()
        if full:
            src = steps - 1 - step if reverse else step
            pre = gates_x[src] + _quantized_matmul(h, r)
        else:
            active = (lengths > step)[:, None]
            # the time step each sequence reads: reverse runs backwards from its own last valid step
            src = np.where(active[:, 0], lengths - 1 - step, 0) if reverse else np.full(batch, step)
            pre = gates_x[src, rows_all] + _quantized_matmul(h, r)
        if clip is not None:
            pre = np.clip(pre, -clip, clip)
        i_pre, o_pre, f_pre, c_pre = (pre[..., k * hidden:(k + 1) * hidden] for k in range(4))
        i = f(i_pre + p_i * c)
        forget = 1 - i if input_forget else f(f_pre + p_f * c)
        c_new = forget * c + i * g(c_pre)
        o = f(o_pre + p_o * c_new)
        h_new = o * act_h(c_new)
        if full:
            h, c = h_new, c_new
            ys[src] = h_new
            continue
        h = np.where(active, h_new, h)
        c = np.where(active, c_new, c)
        rows = np.flatnonzero(active[:, 0])
        ys[src[rows], rows] = h_new[rows]
    return ys, h, c


class _DequantizedWeights:
    """A node's dequantized W and R, computed once (at session creation) when the weights, their
    scales and zero points are constants; from the run's inputs otherwise."""

    def __init__(self, node: NodeContext):
        self._constants = tuple(node.constant(i) for i in (1, 2, 8, 9, 10, 11))  # W, R, scales, zero points
        self._weights = None
        if all(c is not None for c in self._constants):
            W, R, w_scale, w_zero, r_scale, r_zero = self._constants
            self._weights = _dequantize_weight(W, w_scale, w_zero), _dequantize_weight(R, r_scale, r_zero)

    def get(self, W, R, W_scale, W_zero_point, R_scale, R_zero_point) -> tuple[np.ndarray, np.ndarray]:
        inputs = (W, R, W_scale, W_zero_point, R_scale, R_zero_point)
        if self._weights is not None and all(a is c for a, c in zip(inputs, self._constants)):
            return self._weights
        return _dequantize_weight(W, W_scale, W_zero_point), _dequantize_weight(R, R_scale, R_zero_point)


@kernel("DynamicQuantizeLSTM", since=1, domain=MS, prepare=True)
def dynamic_quantize_lstm(*, activations=None, activation_alpha=None, activation_beta=None, clip=None,
                          direction="forward", hidden_size=None, input_forget=0, _num_outputs=1, _node):
    """LSTM (gates i, o, f, c) with W (D, in, 4H) and R (D, H, 4H) dequantized from 8 bits, once
    per node for constant weights."""
    directions = {"forward": 1, "reverse": 1, "bidirectional": 2}.get(direction)
    if directions is None:
        raise ValueError(f"unknown LSTM direction {direction!r}")
    names = list(activations) if activations else ["Sigmoid", "Tanh", "Tanh"] * directions
    fns = _activation_fns(names, list(activation_alpha or []), list(activation_beta or []))
    weights = _DequantizedWeights(_node)

    def run(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, W_scale=None,
            W_zero_point=None, R_scale=None, R_zero_point=None):
        if W_scale is None or W_zero_point is None or R_scale is None or R_zero_point is None:
            raise ValueError("DynamicQuantizeLSTM requires W/R scales and zero points")
        hidden = R.shape[1] if hidden_size is None else hidden_size
        steps, batch, _ = X.shape
        w, r = weights.get(W, R, W_scale, W_zero_point, R_scale, R_zero_point)
        zeros = np.zeros((directions, batch, hidden), dtype=np.float32)
        h0 = zeros if initial_h is None else initial_h
        c0 = zeros if initial_c is None else initial_c
        lengths = np.full(batch, steps) if sequence_lens is None else sequence_lens.astype(np.int64)
        ys, hs, cs = [], [], []
        for d in range(directions):
            bias = np.zeros(4 * hidden, np.float32) if B is None else B[d, : 4 * hidden] + B[d, 4 * hidden :]
            peephole = np.zeros(3 * hidden, np.float32) if P is None else P[d]
            reverse = direction == "reverse" or d == 1
            y, h, c = _run_direction(X, w[d], r[d], bias, peephole, h0[d], c0[d], lengths, reverse,
                                     fns[3 * d : 3 * d + 3], clip, input_forget)
            ys.append(y)
            hs.append(h)
            cs.append(c)
        outputs = (np.stack(ys, axis=1), np.stack(hs), np.stack(cs))
        return outputs[:_num_outputs] if _num_outputs > 1 else outputs[0]

    return run
