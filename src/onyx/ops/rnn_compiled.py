"""Compiled recurrent loops (the ``[fast]`` extra): one direction of RNN, GRU or LSTM over time
in one Numba call, the gates of a step fused into one pass over the hidden units.

The input projection stays one BLAS product over the whole sequence (onyx.ops.rnn); what these
loops add per step is the recurrent product ``h @ R^T`` as row updates (``gates += h[k] * R^T[k]``,
which vectorises) and every activation, clip, peephole and mask in the same loop, where the NumPy
loop makes ten or more passes. Weights are the unscaled ones (no sigmoid pre-scaling). The mask
``valid[step, batch]`` (processing order) keeps a finished sequence's state and writes zeros to Y.

Activations are coded as integers (``ACTIVATION_CODES``) with their alpha and beta, so one
compiled function serves every combination the spec allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from onyx.compiled import CompiledFunction, inline, jit
from onyx.ops.fast.vmath import sigmoid32 as _sigmoid
from onyx.ops.fast.vmath import tanh32 as _tanh
from onyx.ops.registry import NodeContext
from onyx.runtime.control import loop_check

ACTIVATION_CODES = {"relu": 0, "tanh": 1, "sigmoid": 2, "affine": 3, "leakyrelu": 4, "thresholdedrelu": 5,
                    "scaledtanh": 6, "hardsigmoid": 7, "elu": 8, "softsign": 9, "softplus": 10}

# xw [steps, batch, gates*hidden] and Y [steps, batch, hidden] are views (reversed for a reverse
# direction); RT [hidden, gates*hidden] is contiguous.
_XW, _RT, _STATE, _Y, _VALID = "float32[:, :, :]", "float32[:, ::1]", "float32[:, :]", "float32[:, :, :]", \
    "boolean[:, :]"
_ACTS = "int64[:], float32[:], float32[:], float32"  # codes, alphas, betas, clip


_0, _1 = np.float32(0.0), np.float32(1.0)
# tanh and sigmoid from onyx.ops.fast.vmath, which vectorize over the hidden units with these flags
_FLAGS = {"error_model": "numpy", "fastmath": {"contract"}}


@inline
def _activate(code, x, alpha, beta):
    """Activation ``code`` (ACTIVATION_CODES) of float32 ``x``, in float32."""
    if code == 1:
        return _tanh(x)
    if code == 2:
        return _sigmoid(x)
    if code == 0:
        return max(x, _0)
    if code == 3:
        return x * alpha + beta
    if code == 4:
        return x if x >= _0 else x * alpha
    if code == 5:
        return x if x >= alpha else _0
    if code == 6:
        return _tanh(x * beta) * alpha
    if code == 7:
        return min(max(x * alpha + beta, _0), _1)
    if code == 8:
        return x if x >= _0 else math.expm1(x) * alpha
    if code == 9:
        return x / (_1 + abs(x))
    return max(x, _0) + math.log1p(math.exp(-abs(x)))  # softplus


@inline
def _clip(x, clip):
    return min(max(x, -clip), clip)


@inline
def _finished(valid, Y, s, b):
    """Whether sequence ``b`` has ended before step ``s`` (its Y row is then zero)."""
    if valid[s, b]:
        return False
    for j in range(Y.shape[2]):
        Y[s, b, j] = _0
    return True


@inline
def _recurrent_product(gates, h_row, RT):
    """gates = h_row @ RT over all of RT's columns (a product over a slice of a wider RT's
    columns measured ten times slower: it does not vectorise)."""
    for j in range(RT.shape[1]):
        gates[j] = _0
    for k in range(RT.shape[0]):
        hk = h_row[k]
        if hk != _0:
            for j in range(RT.shape[1]):
                gates[j] += hk * RT[k, j]


@jit(f"UniTuple(float32[:, ::1], 2)({_XW}, {_RT}, {_STATE}, {_STATE}, {_Y}, {_VALID}, float32[:, :], "
     f"boolean, {_ACTS})", **_FLAGS)
def lstm_direction(xw, RT, h0, c0, Y, valid, peep, input_forget, codes, alphas, betas, clip):
    """LSTM gates in iofc order; ``peep`` [3, hidden] (zeros: none); codes f, g, h."""
    steps, batch, _ = xw.shape
    hidden = RT.shape[0]
    h, c = h0.copy(), c0.copy()
    gates = np.empty(4 * hidden, dtype=np.float32)
    f_code, g_code, h_code = codes[0], codes[1], codes[2]
    fa, ga, ha, fb, gb, hb = alphas[0], alphas[1], alphas[2], betas[0], betas[1], betas[2]
    for s in range(steps):
        for b in range(batch):
            if _finished(valid, Y, s, b):
                continue
            x = xw[s, b]
            _recurrent_product(gates, h[b], RT)
            for j in range(hidden):
                cj = c[b, j]
                i = _activate(f_code, _clip(x[j] + gates[j] + peep[0, j] * cj, clip), fa, fb)
                if input_forget:
                    f = _1 - i
                else:
                    f = _activate(f_code, _clip(x[2 * hidden + j] + gates[2 * hidden + j] + peep[2, j] * cj, clip),
                                  fa, fb)
                cj = f * cj + i * _activate(g_code, _clip(x[3 * hidden + j] + gates[3 * hidden + j], clip), ga, gb)
                o = _activate(f_code, _clip(x[hidden + j] + gates[hidden + j] + peep[1, j] * cj, clip), fa, fb)
                c[b, j] = cj
                hj = o * _activate(h_code, cj, ha, hb)
                h[b, j] = hj
                Y[s, b, j] = hj
    return h, c


@jit(f"float32[:, ::1]({_XW}, {_RT}, {_RT}, {_STATE}, {_Y}, {_VALID}, float32[:], boolean, {_ACTS})", **_FLAGS)
def gru_direction(xw, RT, RT_h, h0, Y, valid, rbh, linear_before_reset, codes, alphas, betas, clip):
    """GRU gates in zrh order. With ``linear_before_reset``, ``RT`` holds all three gates' columns
    and the projected input lacks the hidden gate's Rb (``rbh``), added inside the reset product;
    without, ``RT`` holds the z and r columns and ``RT_h`` the hidden gate's."""
    steps, batch, _ = xw.shape
    hidden = RT.shape[0]
    h = h0.copy()
    gates = np.empty(3 * hidden, dtype=np.float32)
    hidden_gate = np.empty(hidden, dtype=np.float32)
    reset_h = np.empty(hidden, dtype=np.float32)
    f_code, g_code = codes[0], codes[1]
    fa, ga, fb, gb = alphas[0], alphas[1], betas[0], betas[1]
    for s in range(steps):
        for b in range(batch):
            if _finished(valid, Y, s, b):
                continue
            hb, x = h[b], xw[s, b]
            _recurrent_product(gates, hb, RT)
            if linear_before_reset:  # ht = g(xw_h + r * (h @ Rh^T + Rbh))
                for j in range(hidden):
                    r = _activate(f_code, _clip(x[hidden + j] + gates[hidden + j], clip), fa, fb)
                    hidden_gate[j] = r * (gates[2 * hidden + j] + rbh[j])
            else:  # ht = g(xw_h + (r * h) @ Rh^T)
                for j in range(hidden):
                    reset_h[j] = _activate(f_code, _clip(x[hidden + j] + gates[hidden + j], clip), fa, fb) * hb[j]
                _recurrent_product(hidden_gate, reset_h, RT_h)
            for j in range(hidden):
                z = _activate(f_code, _clip(x[j] + gates[j], clip), fa, fb)
                ht = _activate(g_code, _clip(x[2 * hidden + j] + hidden_gate[j], clip), ga, gb)
                hj = (_1 - z) * ht + z * hb[j]
                hb[j] = hj
                Y[s, b, j] = hj
    return h


@jit(f"float32[:, ::1]({_XW}, {_RT}, {_STATE}, {_Y}, {_VALID}, {_ACTS})", **_FLAGS)
def rnn_direction(xw, RT, h0, Y, valid, codes, alphas, betas, clip):
    """Ht = f(clip(xw_t + Ht-1 @ R^T))."""
    steps, batch, _ = xw.shape
    hidden = RT.shape[0]
    h = h0.copy()
    gates = np.empty(hidden, dtype=np.float32)
    for s in range(steps):
        for b in range(batch):
            if _finished(valid, Y, s, b):
                continue
            x = xw[s, b]
            _recurrent_product(gates, h[b], RT)
            for j in range(hidden):
                hj = _activate(codes[0], _clip(x[j] + gates[j], clip), alphas[0], betas[0])
                h[b, j] = hj
                Y[s, b, j] = hj
    return h


# -- what onyx.ops.rnn calls ------------------------------------------------------


def wanted(node: NodeContext | None, loop: CompiledFunction) -> bool:
    """Whether the node runs the compiled ``loop``: allowed for it, its weights float (32 or
    less), and the loop compiled (now, at session creation)."""
    W = node.constant(1) if node else None
    if node is None or not node.compiled or (W is not None and W.dtype.itemsize > 4):
        return False
    return loop.compiled() is not None


@jit("void(float32[:, ::1], float32[:, ::1], float32[:, ::1], float32[:, ::1])", **_FLAGS)
def lstm_cell(gates, x, c, y):
    """One step of the default LSTM cell after NumPy's recurrent product ``gates`` = h @ R^T (iofc,
    the i/o/f columns of R and of ``x``, the projected input, scaled by 1/2 so that
    sigmoid(v) = tanh(v / 2) / 2 + 1/2): c updated in place and y = the new h."""
    batch, hidden = c.shape
    half = np.float32(0.5)
    for b in range(batch):
        for j in range(hidden):
            i = _tanh(gates[b, j] + x[b, j]) * half + half
            o = _tanh(gates[b, hidden + j] + x[b, hidden + j]) * half + half
            f = _tanh(gates[b, 2 * hidden + j] + x[b, 2 * hidden + j]) * half + half
            cj = f * c[b, j] + i * _tanh(gates[b, 3 * hidden + j] + x[b, 3 * hidden + j])
            c[b, j] = cj
            y[b, j] = o * _tanh(cj)


Runner = Callable[[np.ndarray, list[np.ndarray], np.ndarray], list[np.ndarray]]  # rnn.py's DirectionRunner


def direction_runner(loop: Callable[..., np.ndarray | tuple[np.ndarray, ...]], matrices: tuple[np.ndarray, ...],
                     valid: np.ndarray | None, *extra) -> Runner:
    """A direction's runner for onyx.ops.rnn (xw, states, Y -> final states) calling ``loop(xw,
    *matrices, *states, Y, valid, *extra)``: one call for the whole sequence, or calls of a few
    steps each when the run may be stopped."""

    def run(xw: np.ndarray, states: list[np.ndarray], Y: np.ndarray) -> list[np.ndarray]:
        mask = np.ones(xw.shape[:2], dtype=bool) if valid is None else valid[..., 0]
        states = [s if s.flags.writeable else s.copy() for s in states]  # the loops' types (they only read them)
        check = loop_check()
        chunk = 16 if check else max(1, xw.shape[0])
        for t in range(0, xw.shape[0], chunk):
            if check:
                check()
            out = loop(xw[t : t + chunk], *matrices, *states, Y[t : t + chunk], mask[t : t + chunk], *extra)
            states = list(out) if isinstance(out, tuple) else [out]
        return states

    return run


def clip_value(clip: float | None) -> np.float32:
    """The clip bound the loops take (no clip: infinity)."""
    return np.float32(np.inf if clip is None else clip)
