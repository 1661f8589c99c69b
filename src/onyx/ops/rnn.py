"""Recurrent layers: RNN, GRU and LSTM.

The input projection ``X @ W^T + Wb + Rb`` is computed for the whole sequence up front (one
stacked matmul per direction); only the recurrence loops over time, one direction after the
other (each direction's R then stays in cache). The kernels are prepared once per node: constant
W, R and B are laid out at session creation (transposed for row-vector products, biases folded
wherever the formula allows).

With the default activations and no clip, peepholes, coupled gates or ``sequence_lens``, a
specialised loop per op does a handful of in-place NumPy calls per step: the sigmoid gates'
weights and biases are pre-scaled by 1/2 (exact), so one ``tanh`` over all gates gives
``sigmoid(x) = tanh(x / 2) / 2 + 1/2`` after one affine step. Everything else runs a general
loop that masks finished sequences, or, where the session may use compiled kernels, one
compiled loop per direction (onyx.ops.rnn_compiled); for GRUs that loop also replaces the
specialised one, which it beats. The specialised loops pass each ufunc's output buffer
positionally (the last argument), which NumPy parses faster than ``out=``.

A reverse direction walks time backwards through views; with the mask, a sequence shorter
than ``seq_length`` starts at its own last step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from functools import partial
from dataclasses import dataclass

import numpy as np

from onyx.compiled import named
from onyx.ops.activations import relu
from onyx.ops import rnn_compiled
from onyx.ops.registry import NodeContext, kernel
from onyx.runtime.control import loop_check

Activation = Callable[[np.ndarray], np.ndarray]
RunKernel = Callable[..., tuple[np.ndarray, ...]]
States = list[np.ndarray]
# One direction's loop over (projected inputs [time, batch, gates*hidden], initial states, Y view
# [time, batch, hidden]), both in processing order; writes Y and returns the final states.
DirectionRunner = Callable[[np.ndarray, States, np.ndarray], States]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function written with tanh, which never overflows."""
    return np.tanh(x * 0.5) * 0.5 + 0.5


# name -> (function of (x, alpha, beta), default alpha or None if unused, default beta or None)
_ACTIVATIONS: dict[str, tuple[Callable[..., np.ndarray], float | None, float | None]] = {
    "relu": (lambda x, a, b: relu(x), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: _sigmoid(x), None, None),
    "affine": (lambda x, a, b: x * a + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, x * a), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x >= a, x, 0).astype(x.dtype), 1.0, None),
    "scaledtanh": (lambda x, a, b: np.tanh(x * b) * a, 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(x * a + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, np.expm1(np.minimum(x, 0)) * a), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(0, x).astype(x.dtype), None, None),
}


def _activation_functions(
    names: Sequence[str], alphas: Sequence[float] | None, betas: Sequence[float] | None, dtype: np.dtype
) -> list[Activation]:
    """Bind each activation name to its alpha/beta; the lists are consumed only by functions that use them."""
    alpha_iter, beta_iter = iter(alphas or ()), iter(betas or ())
    funcs: list[Activation] = []
    for name in names:
        entry = _ACTIVATIONS.get(name.lower())
        if entry is None:
            raise ValueError(f"unsupported activation function '{name}'")
        fn, alpha, beta = entry
        if alpha is not None:
            alpha = dtype.type(next(alpha_iter, alpha))
        if beta is not None:
            beta = dtype.type(next(beta_iter, beta))
        funcs.append(lambda x, fn=fn, a=alpha, b=beta: fn(x, a, b))
    return funcs


def _activation_names(activations: Sequence[str] | None, defaults: list[str], num_dir: int) -> list[str]:
    """Lower-case activation names for every direction (one direction's list serves both)."""
    names = [a.lower() for a in activations] if activations else defaults * num_dir
    if len(names) == len(defaults) and num_dir == 2:
        names = names * 2
    if len(names) != len(defaults) * num_dir:
        raise ValueError(f"expected {len(defaults) * num_dir} activations, got {names}")
    return names


def _activations_for(names: list[str], alpha: Sequence[float] | None, beta: Sequence[float] | None,
                     num_dir: int, dtype: np.dtype) -> list[list[Activation]]:
    """Activation functions grouped per direction."""
    funcs = _activation_functions(names, alpha, beta, dtype)
    per_dir = len(names) // num_dir
    return [funcs[i * per_dir : (i + 1) * per_dir] for i in range(num_dir)]


def _num_directions(direction: str) -> list[bool]:
    """The 'reverse' flag of each direction the op runs."""
    flags = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
    if flags is None:
        raise ValueError(f"direction must be forward, reverse or bidirectional, got '{direction}'")
    return flags


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Half-precision inputs are computed in float32."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else np.dtype(dtype)


def _clipper(clip: float | None) -> Activation:
    if clip is None:
        return lambda x: x
    return lambda x: np.clip(x, -clip, clip)


def _hidden_size(hidden_size: int | None, R: np.ndarray) -> int:
    return int(hidden_size) if hidden_size is not None else int(R.shape[-1])


# -- weights ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Weights:
    """W, R and B prepared for ``row @ matrix`` products, one entry per direction."""

    WT: np.ndarray  # [dir, input, gates*hidden]
    RT: np.ndarray  # [dir, hidden, gates*hidden]
    bias: np.ndarray  # [dir, gates*hidden], added to the input projection (Wb + Rb where it may be)
    rbh: np.ndarray  # [dir, hidden]: GRU with linear_before_reset keeps Rb of the hidden gate apart

    @functools.cached_property
    def RT_split(self) -> tuple[np.ndarray, np.ndarray]:
        """[dir, hidden, 2*hidden] and [dir, hidden, hidden]: a GRU's z|r and h columns of RT,
        each contiguous (the compiled loop without linear_before_reset takes them apart)."""
        hidden = self.RT.shape[1]
        return np.ascontiguousarray(self.RT[..., : 2 * hidden]), np.ascontiguousarray(self.RT[..., 2 * hidden :])


def _build_weights(W: np.ndarray, R: np.ndarray, B: np.ndarray | None, hidden: int, num_gates: int,
                   dtype: np.dtype, sigmoid_gates: int, separate_rbh: bool) -> _Weights:
    """Transpose W and R, fold the biases, and scale the first ``sigmoid_gates`` gates by 1/2."""
    gh = num_gates * hidden
    num_dir = W.shape[0] if W.ndim == 3 else 0
    expected = [(num_dir, gh, W.shape[-1]), (num_dir, gh, hidden)] + ([] if B is None else [(num_dir, 2 * gh)])
    actual = [a.shape for a in (W, R, B) if a is not None]
    if actual != expected:
        raise ValueError(f"W, R, B shapes {actual} do not fit {num_gates} gates of hidden_size {hidden}: "
                         f"expected {expected}")
    scale = np.ones(gh, dtype=dtype)
    scale[: sigmoid_gates * hidden] = 0.5
    WT = np.ascontiguousarray(W.astype(dtype).transpose(0, 2, 1) * scale)
    RT = np.ascontiguousarray(R.astype(dtype).transpose(0, 2, 1) * scale)
    if B is None:
        bias, rbh = np.zeros((num_dir, gh), dtype=dtype), np.zeros((num_dir, hidden), dtype=dtype)
    else:
        wb, rb = B[:, :gh].astype(dtype), B[:, gh:].astype(dtype)
        rbh = rb[:, gh - hidden :].copy()
        if separate_rbh:
            rb[:, gh - hidden :] = 0
        bias = (wb + rb) * scale
    return _Weights(WT, RT, bias, rbh)


class _NodeWeights:
    """A node's prepared weights: built once per layout (dtype, gate scaling) from its constant
    W, R and B, at session creation for the layout a run most likely needs; built per run from
    W, R or B that are not the node's constants."""

    def __init__(self, node: NodeContext | None):
        self._constants = tuple(node.constant(i) if node else None for i in (1, 2, 3))
        self._built: dict[tuple, _Weights] = {}

    def prebuild(self, num_gates: int, sigmoid_gates: int, separate_rbh: bool) -> None:
        W, R, B = self._constants
        if W is not None and R is not None:
            self.get(W, R, B, int(R.shape[-1]), num_gates, _compute_dtype(W.dtype), sigmoid_gates, separate_rbh)

    def get(self, W: np.ndarray, R: np.ndarray, B: np.ndarray | None, *layout) -> _Weights:
        """``_build_weights(W, R, B, *layout)``, kept when W, R and B are the node's constants."""
        cW, cR, cB = self._constants
        if cW is None or cR is None or W is not cW or R is not cR or B is not cB:
            return _build_weights(W, R, B, *layout)
        weights = self._built.get(layout)
        if weights is None:
            weights = self._built[layout] = _build_weights(W, R, B, *layout)
        return weights


# -- driver -----------------------------------------------------------------------


def _sequence_mask(sequence_lens: np.ndarray | None, seq_len: int, batch: int) -> np.ndarray | None:
    """[time, batch, 1] flags of the steps inside each sequence; None if every sequence is full."""
    if sequence_lens is None:
        return None
    lens = np.asarray(sequence_lens, dtype=np.int64).reshape(-1)
    if lens.shape != (batch,) or np.any(lens < 0) or np.any(lens > seq_len):
        raise ValueError(f"sequence_lens {lens.tolist()} does not fit batch {batch} and seq_length {seq_len}")
    if np.all(lens == seq_len):
        return None
    return (np.arange(seq_len)[:, None] < lens[None, :])[..., None]


def _recurrent(X: np.ndarray, weights: _Weights, sequence_lens: np.ndarray | None,
               initial_states: list[np.ndarray | None], layout: int, direction: str, hidden: int,
               runner: Callable[[int, np.ndarray | None], DirectionRunner]) -> tuple[np.ndarray, ...]:
    """Run every direction over time; returns (Y, final state 0, final state 1, ...).

    ``runner(d, valid)`` gives direction d's loop (``valid``: its [time, batch, 1] mask in processing order).
    """
    out_dtype = X.dtype
    dtype = weights.RT.dtype
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D, got shape {X.shape}")
    if layout == 1:
        X = X.transpose(1, 0, 2)
    seq_len, batch, _ = X.shape
    reverse_flags = _num_directions(direction)
    num_dir = len(reverse_flags)
    if weights.WT.shape[0] != num_dir:
        raise ValueError(f"W has {weights.WT.shape[0]} directions, direction '{direction}' needs {num_dir}")
    valid = _sequence_mask(sequence_lens, seq_len, batch)

    states0 = []
    for state in initial_states:
        if state is None:
            states0.append(np.zeros((num_dir, batch, hidden), dtype=dtype))
        else:
            state = state.astype(dtype, copy=False)
            state = state.transpose(1, 0, 2) if layout == 1 else state
            if state.shape != (num_dir, batch, hidden):
                raise ValueError(f"an initial state of shape {list(state.shape)} does not fit {num_dir} direction(s), "
                                 f"batch {batch} and hidden_size {hidden}")
            states0.append(state)

    # One [time * batch, input] product per direction: 64 steps of a 2-layer LSTM's input
    # projection took 0.95 ms as per-step products and 0.21 ms as one.
    X = X.astype(dtype, copy=False).reshape(seq_len * batch, -1)
    xw = np.empty((num_dir, seq_len, batch, weights.WT.shape[-1]), dtype=dtype)
    for d in range(num_dir):
        np.matmul(X, weights.WT[d], out=xw[d].reshape(seq_len * batch, -1))
    xw += weights.bias[:, None, None, :]
    Y = (np.empty if valid is None else np.zeros)((seq_len, num_dir, batch, hidden), dtype=dtype)
    finals: list[list[np.ndarray]] = [[] for _ in initial_states]
    for d, reverse in enumerate(reverse_flags):
        step = -1 if reverse else 1
        run = runner(d, None if valid is None else valid[::step])
        states = run(xw[d, ::step], [s[d] for s in states0], Y[::step, d])
        for final, state in zip(finals, states):
            final.append(state)

    finals_arr = [np.stack(f) for f in finals]
    if layout == 1:
        Y = Y.transpose(2, 0, 1, 3)
        finals_arr = [f.transpose(1, 0, 2) for f in finals_arr]
    return tuple(a.astype(out_dtype, copy=False) for a in (Y, *finals_arr))


def _general_loop(cell: Callable[[np.ndarray, States], States], valid: np.ndarray | None) -> DirectionRunner:
    """A loop calling ``cell(xw_t, states)`` per step; with ``valid``, finished sequences keep their states."""

    def run(xw: np.ndarray, states: States, Y: np.ndarray) -> States:
        check = loop_check()
        for t in range(xw.shape[0]):
            if check:
                check()
            new = cell(xw[t], states)
            if valid is not None:
                new = [np.where(valid[t], n, s) for n, s in zip(new, states)]
            states = new
            Y[t] = states[0]
        if valid is not None:
            Y *= valid
        return states

    return run


def _default_fast(activation_names: list[str], defaults: list[str], clip: float | None,
                  sequence_lens: np.ndarray | None, X: np.ndarray, layout: int) -> bool:
    """Whether the specialised loop applies: default activations, no clip, every sequence full length."""
    if clip is not None or activation_names != defaults * (len(activation_names) // len(defaults)):
        return False
    return sequence_lens is None or (X.ndim == 3 and bool(np.all(np.asarray(sequence_lens) == X.shape[layout])))


# -- compiled loops ([fast]) ----------------------------------------------------------


def _compiled_activations(names: list[str], alphas: Sequence[float] | None, betas: Sequence[float] | None,
                          num_dir: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per direction: the activation codes, alphas and betas the compiled loops take (the
    attribute lists consumed in order by the functions that use them, as in the NumPy loops)."""
    alpha_iter, beta_iter = iter(alphas or ()), iter(betas or ())
    codes, a_list, b_list = [], [], []
    for name in names:
        _, alpha, beta = _ACTIVATIONS[name]
        codes.append(rnn_compiled.ACTIVATION_CODES[name])
        a_list.append(0.0 if alpha is None else next(alpha_iter, alpha))
        b_list.append(0.0 if beta is None else next(beta_iter, beta))
    per = len(names) // num_dir
    return [(np.array(codes[d * per : (d + 1) * per], dtype=np.int64),
             np.array(a_list[d * per : (d + 1) * per], dtype=np.float32),
             np.array(b_list[d * per : (d + 1) * per], dtype=np.float32)) for d in range(num_dir)]


def _named(run: RunKernel, compiled: bool, name: str) -> RunKernel:
    return named(run, f"numba:{name}") if compiled else run


# -- RNN -------------------------------------------------------------------------


def _rnn_loop(RT: np.ndarray, xw: np.ndarray, states: States, Y: np.ndarray) -> States:
    """Tanh activation: Ht = tanh(xw_t + Ht-1 @ R^T), computed in place in Y."""
    (h,) = states
    matmul, add, tanh = np.matmul, np.add, np.tanh
    check = loop_check()
    for x_t, y in zip(xw, Y):
        if check:
            check()
        matmul(h, RT, y)
        add(y, x_t, y)
        tanh(y, y)
        h = y
    return [h]


def _rnn(node: NodeContext | None, *, activation_alpha, activation_beta, activations, clip, direction,
         hidden_size, layout) -> RunKernel:
    """Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi)."""
    num_dir = len(_num_directions(direction))
    names = _activation_names(activations, ["tanh"], num_dir)
    compiled = rnn_compiled.wanted(node, rnn_compiled.rnn_direction)
    codes = _compiled_activations(names, activation_alpha, activation_beta, num_dir)
    cache = _NodeWeights(node)
    cache.prebuild(1, 0, False)
    clipped, clip32 = _clipper(clip), rnn_compiled.clip_value(clip)

    def run(X, W, R, B=None, sequence_lens=None, initial_h=None):
        hidden = _hidden_size(hidden_size, R)
        dtype = _compute_dtype(X.dtype)
        fast = _default_fast(names, ["tanh"], clip, sequence_lens, X, layout)
        weights = cache.get(W, R, B, hidden, 1, dtype, 0, False)
        use_compiled = compiled and dtype == np.float32 and not fast  # as LSTM's (three NumPy calls a step)
        acts = _activations_for(names, activation_alpha, activation_beta, num_dir, dtype)

        def runner(d: int, valid: np.ndarray | None) -> DirectionRunner:
            RT, (f,) = weights.RT[d], acts[d]
            if use_compiled:
                return rnn_compiled.direction_runner(rnn_compiled.rnn_direction, (RT,), valid, *codes[d], clip32)
            if fast:
                return partial(_rnn_loop, RT)
            return _general_loop(lambda xw, states: [f(clipped(xw + states[0] @ RT))], valid)

        return _recurrent(X, weights, sequence_lens, [initial_h], layout, direction, hidden, runner)

    return _named(run, compiled and (clip is not None or names != ["tanh"] * num_dir), "rnn")


@kernel("RNN", since=(1, 7, 14), prepare=True)
def rnn(*, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
        hidden_size=None, layout=0, output_sequence=0, _node=None):
    """Before opset 14 the layout is 0; opset 1's output_sequence changes nothing (Y is computed anyway)."""
    return _rnn(_node, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations,
                clip=clip, direction=direction, hidden_size=hidden_size, layout=layout)


# -- GRU -------------------------------------------------------------------------

def _gru_loop(RT: np.ndarray, rbh: np.ndarray | None, xw: np.ndarray, states: States, Y: np.ndarray) -> States:
    """Default activations: zr = sigmoid(xw_zr + H @ Rzr^T), the z and r columns of R and xw
    pre-scaled by 1/2; H' = ht + z * (H - ht), where with linear_before_reset (``rbh`` given)
    ht = tanh(xw_h + r * (H @ Rh^T + Rbh)), one product by R per step, and otherwise
    ht = tanh(xw_h + (r * H) @ Rh^T).
    """
    (h,) = states
    batch, hidden = h.shape
    if rbh is not None:
        gates = np.empty((batch, 3 * hidden), dtype=h.dtype)  # zr | hh: one product fills both
        zr, hh = gates[:, : 2 * hidden], gates[:, 2 * hidden :]
    else:
        zr, hh = np.empty((batch, 2 * hidden), dtype=h.dtype), np.empty((batch, hidden), dtype=h.dtype)
    z, r = zr[:, :hidden], zr[:, hidden:]
    R_zr, R_h = RT[:, : 2 * hidden], RT[:, 2 * hidden :]
    tmp = np.empty((batch, hidden), dtype=h.dtype)
    half = h.dtype.type(0.5)
    matmul, add, subtract, multiply, tanh = np.matmul, np.add, np.subtract, np.multiply, np.tanh
    check = loop_check()
    for x_zr, x_h, y in zip(xw[..., : 2 * hidden], xw[..., 2 * hidden :], Y):
        if check:
            check()
        if rbh is not None:
            matmul(h, RT, gates)
            add(hh, rbh, hh)
        else:
            matmul(h, R_zr, zr)
        add(zr, x_zr, zr)
        tanh(zr, zr)
        multiply(zr, half, zr)
        add(zr, half, zr)
        if rbh is not None:
            multiply(r, hh, hh)
        else:
            multiply(r, h, tmp)
            matmul(tmp, R_h, hh)
        add(hh, x_h, hh)
        tanh(hh, hh)
        subtract(h, hh, tmp)
        multiply(z, tmp, tmp)
        add(hh, tmp, y)
        h = y
    return [h]


def _gru(node: NodeContext | None, *, activation_alpha, activation_beta, activations, clip, direction,
         hidden_size, layout, linear_before_reset) -> RunKernel:
    """zt, rt = f(...); ht = g(...) with the reset gate before or after the recurrence matmul."""
    num_dir = len(_num_directions(direction))
    defaults = ["sigmoid", "tanh"]
    names = _activation_names(activations, defaults, num_dir)
    compiled = rnn_compiled.wanted(node, rnn_compiled.gru_direction)
    codes = _compiled_activations(names, activation_alpha, activation_beta, num_dir)
    lbr = bool(linear_before_reset)
    cache = _NodeWeights(node)
    cache.prebuild(3, 0 if compiled or clip is not None or names != defaults * num_dir else 2, lbr)
    clipped, clip32 = _clipper(clip), rnn_compiled.clip_value(clip)

    def run(X, W, R, B=None, sequence_lens=None, initial_h=None):
        hidden = _hidden_size(hidden_size, R)
        H2 = 2 * hidden
        dtype = _compute_dtype(X.dtype)
        use_compiled = compiled and dtype == np.float32
        fast = not use_compiled and _default_fast(names, defaults, clip, sequence_lens, X, layout)
        weights = cache.get(W, R, B, hidden, 3, dtype, 2 if fast else 0, lbr)
        acts = _activations_for(names, activation_alpha, activation_beta, num_dir, dtype)

        def runner(d: int, valid: np.ndarray | None) -> DirectionRunner:
            RT, rbh, (f, g) = weights.RT[d], weights.rbh[d], acts[d]
            if use_compiled:
                RT_zr, RT_h = (RT, RT[:0]) if lbr else (weights.RT_split[0][d], weights.RT_split[1][d])
                return rnn_compiled.direction_runner(rnn_compiled.gru_direction, (RT_zr, RT_h), valid, rbh, lbr, *codes[d],
                                        clip32)
            if fast:
                return partial(_gru_loop, RT, rbh if lbr else None)

            def cell(xw: np.ndarray, states: States) -> States:
                (h,) = states
                if lbr:
                    hr = h @ RT
                    zr = f(clipped(xw[:, :H2] + hr[:, :H2]))
                    r = zr[:, hidden:]
                    ht = g(clipped(xw[:, H2:] + r * (hr[:, H2:] + rbh)))
                else:
                    zr = f(clipped(xw[:, :H2] + h @ RT[:, :H2]))
                    r = zr[:, hidden:]
                    ht = g(clipped(xw[:, H2:] + (r * h) @ RT[:, H2:]))
                z = zr[:, :hidden]
                return [(1 - z) * ht + z * h]

            return _general_loop(cell, valid)

        return _recurrent(X, weights, sequence_lens, [initial_h], layout, direction, hidden, runner)

    return _named(run, compiled, "gru")


@kernel("GRU", since=(1, 3, 7, 14), prepare=True)
def gru(*, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
        hidden_size=None, layout=0, linear_before_reset=0, output_sequence=0, _node=None):
    """GRU-1 has no linear_before_reset (0); the layout is 0 before opset 14."""
    return _gru(_node, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations,
                clip=clip, direction=direction, hidden_size=hidden_size, layout=layout,
                linear_before_reset=linear_before_reset)


# -- LSTM ------------------------------------------------------------------------

# Default LSTM cells (sigmoid/tanh/tanh, no clip, peepholes or masks) of this hidden size and
# wider keep NumPy's loop with its BLAS products even where compiled kernels may be used (they
# won at hidden 256: 2-layer LSTM, batch 1: the whole compiled loop 1.10x their time), the rest
# of each step then in one compiled call (_lstm_cell_loop); the compiled loop won at hidden 32
# (batch 16: 0.62-0.75x), idle machine, bench/ab.py.
NUMPY_LSTM_MIN_HIDDEN = 128


def _lstm_cell_loop(cell: Callable[..., None], RT: np.ndarray, xw: np.ndarray, states: States, Y: np.ndarray
                    ) -> States:
    """Default activations, no peepholes, float32: the recurrent product in BLAS, then the rest
    of the step in one compiled call (rnn_compiled.lstm_cell; weights pre-scaled as below),
    where each step's slices are contiguous (else _lstm_loop)."""
    if len(xw) and not (xw[0].flags.c_contiguous and Y[0].flags.c_contiguous):
        return _lstm_loop(RT, xw, states, Y)
    h, c = states[0], states[1].copy()
    gates = np.empty((h.shape[0], RT.shape[1]), dtype=np.float32)
    matmul = np.matmul
    check = loop_check()
    for x_t, y in zip(xw, Y):
        if check:
            check()
        matmul(h, RT, gates)
        cell(gates, x_t, c, y)
        h = y
    return [h, c]


def _lstm_loop(RT: np.ndarray, xw: np.ndarray, states: States, Y: np.ndarray) -> States:
    """Default activations, no peepholes: gates iofc = xw_t + H @ R^T, i/o/f pre-scaled by 1/2.

    One tanh over all four gates, then sigmoid = tanh / 2 + 1/2 on the contiguous i/o/f block.
    """
    h, c = states[0], states[1].copy()
    batch, hidden = h.shape
    gates = np.empty((batch, 4 * hidden), dtype=h.dtype)
    sig, i, o = gates[:, : 3 * hidden], gates[:, :hidden], gates[:, hidden : 2 * hidden]
    f, cell_in = gates[:, 2 * hidden : 3 * hidden], gates[:, 3 * hidden :]
    tmp = np.empty((batch, hidden), dtype=h.dtype)
    half = h.dtype.type(0.5)
    matmul, add, multiply, tanh = np.matmul, np.add, np.multiply, np.tanh
    check = loop_check()
    for x_t, y in zip(xw, Y):
        if check:
            check()
        matmul(h, RT, gates)
        add(gates, x_t, gates)
        tanh(gates, gates)
        multiply(sig, half, sig)
        add(sig, half, sig)
        multiply(f, c, c)
        multiply(i, cell_in, tmp)
        add(c, tmp, c)
        tanh(c, tmp)
        multiply(o, tmp, y)
        h = y
    return [h, c]


def _lstm(node: NodeContext | None, *, activation_alpha, activation_beta, activations, clip, direction,
          hidden_size, input_forget, layout) -> RunKernel:
    """Gates in iofc order, optional peepholes P[iof] and coupled input/forget gates."""
    num_dir = len(_num_directions(direction))
    defaults = ["sigmoid", "tanh", "tanh"]
    names = _activation_names(activations, defaults, num_dir)
    compiled = rnn_compiled.wanted(node, rnn_compiled.lstm_direction)
    codes = _compiled_activations(names, activation_alpha, activation_beta, num_dir)
    default_cell = not input_forget and clip is None and names == defaults * num_dir
    numpy_default = default_cell and (hidden_size or 0) >= NUMPY_LSTM_MIN_HIDDEN  # kept on NumPy's loop
    cache = _NodeWeights(node)
    cache.prebuild(4, 3 if default_cell and (numpy_default or not compiled) else 0, False)
    clipped, clip32 = _clipper(clip), rnn_compiled.clip_value(clip)
    compiled_cell = rnn_compiled.lstm_cell.compiled() if compiled and numpy_default else None

    def run(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None):
        hidden = H = _hidden_size(hidden_size, R)
        dtype = _compute_dtype(X.dtype)
        default_fast = P is None and not input_forget and _default_fast(names, defaults, clip, sequence_lens, X, layout)
        use_compiled = compiled and dtype == np.float32 and not (default_fast and hidden >= NUMPY_LSTM_MIN_HIDDEN)
        fast = default_fast and not use_compiled
        weights = cache.get(W, R, B, hidden, 4, dtype, 3 if fast else 0, False)
        acts = _activations_for(names, activation_alpha, activation_beta, num_dir, dtype)
        if P is not None:
            peep = P.astype(dtype, copy=False).reshape(num_dir, 3, hidden)
            if use_compiled:
                peep = np.require(peep, requirements=["C", "W"])  # the compiled loop's type: writeable
        else:
            peep = np.zeros((num_dir, 3, hidden), dtype=dtype) if use_compiled else None

        def runner(d: int, valid: np.ndarray | None) -> DirectionRunner:
            RT, (f_act, g_act, h_act) = weights.RT[d], acts[d]
            if use_compiled:
                return rnn_compiled.direction_runner(rnn_compiled.lstm_direction, (RT,), valid, peep[d], bool(input_forget),
                                        *codes[d], clip32)
            if fast:
                if compiled_cell is not None and dtype == np.float32:
                    return partial(_lstm_cell_loop, compiled_cell, RT)
                return partial(_lstm_loop, RT)

            def cell(xw: np.ndarray, states: States) -> States:
                h, c = states
                gates = xw + h @ RT
                pre_i, pre_o, pre_f, pre_c = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
                if peep is not None:
                    pre_i = pre_i + peep[d, 0] * c
                    pre_f = pre_f + peep[d, 2] * c
                i = f_act(clipped(pre_i))
                f = 1 - i if input_forget else f_act(clipped(pre_f))
                c_new = f * c + i * g_act(clipped(pre_c))
                if peep is not None:
                    pre_o = pre_o + peep[d, 1] * c_new
                o = f_act(clipped(pre_o))
                return [o * h_act(c_new), c_new]

            return _general_loop(cell, valid)

        return _recurrent(X, weights, sequence_lens, [initial_h, initial_c], layout, direction, hidden, runner)

    if compiled_cell is not None:  # wide default cells: BLAS products and compiled steps, unless masked
        return named(run, "numba:lstm-cell")
    return _named(run, compiled, "lstm")


@kernel("LSTM", since=(1, 7, 14), prepare=True)
def lstm(*, activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0, output_sequence=0, _node=None):
    """Before opset 14 the layout is 0; opset 1's output_sequence changes nothing."""
    return _lstm(_node, activation_alpha=activation_alpha, activation_beta=activation_beta, activations=activations,
                 clip=clip, direction=direction, hidden_size=hidden_size, input_forget=input_forget, layout=layout)
