"""Recurrent layers: RNN, GRU and LSTM.

All three share one driver: the input projection ``X @ W^T + Wb`` is computed
for the whole sequence in a single matmul, and only the recurrent part loops
over time. Reverse directions (and ``sequence_lens``) are handled by reversing
each sequence within its own length, running forward, and reversing back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from onyx.ops.registry import kernel

Activation = Callable[[np.ndarray], np.ndarray]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function written with tanh, which never overflows."""
    return np.tanh(x * 0.5) * 0.5 + 0.5


# name -> (function of (x, alpha, beta), default alpha or None if unused, default beta or None)
_ACTIVATIONS: dict[str, tuple[Callable[..., np.ndarray], float | None, float | None]] = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
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


def _num_directions(direction: str) -> list[bool]:
    """The 'reverse' flag of each direction the op runs."""
    flags = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
    if flags is None:
        raise ValueError(f"direction must be forward, reverse or bidirectional, got '{direction}'")
    return flags


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Half-precision inputs are computed in float32."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else np.dtype(dtype)


def _reverse_index(lens: np.ndarray, seq_len: int) -> np.ndarray:
    """[seq, batch] time indices that reverse each sequence within its length (an involution)."""
    t = np.arange(seq_len)[:, None]
    return np.where(t < lens[None, :], lens[None, :] - 1 - t, t)


def _recurrent(
    X: np.ndarray,
    W: np.ndarray,
    B: np.ndarray | None,
    sequence_lens: np.ndarray | None,
    initial_states: list[np.ndarray | None],
    layout: int,
    direction: str,
    hidden_size: int,
    num_gates: int,
    cell: Callable[[int, np.ndarray, list[np.ndarray]], list[np.ndarray]],
) -> tuple[np.ndarray, ...]:
    """Run ``cell`` over time for every direction; returns (Y, final state 0, final state 1, ...).

    ``cell(direction_index, projected_input_t, states)`` returns the new states; states[0] is H.
    """
    out_dtype = X.dtype
    dtype = _compute_dtype(X.dtype)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D, got shape {X.shape}")
    if layout == 1:
        X = X.transpose(1, 0, 2)
    seq_len, batch, _ = X.shape
    X = X.astype(dtype, copy=False)
    reverse_flags = _num_directions(direction)
    num_dir = len(reverse_flags)
    if W.shape[0] != num_dir:
        raise ValueError(f"W has {W.shape[0]} directions, direction '{direction}' needs {num_dir}")
    gh = num_gates * hidden_size

    lens = None
    if sequence_lens is not None:
        lens = np.asarray(sequence_lens, dtype=np.int64).reshape(-1)
        if lens.shape != (batch,) or np.any(lens < 0) or np.any(lens > seq_len):
            raise ValueError(f"sequence_lens {lens.tolist()} does not fit batch {batch} and seq_length {seq_len}")
        if np.all(lens == seq_len):
            lens = None
    valid = None if lens is None else (np.arange(seq_len)[:, None] < lens[None, :])[..., None]
    rev_index = _reverse_index(lens if lens is not None else np.full(batch, seq_len), seq_len)
    cols = np.arange(batch)[None, :]

    states0 = []
    for state in initial_states:
        if state is None:
            states0.append(np.zeros((num_dir, batch, hidden_size), dtype=dtype))
        else:
            state = state.astype(dtype, copy=False)
            states0.append(state.transpose(1, 0, 2) if layout == 1 else state)

    Y = np.zeros((seq_len, num_dir, batch, hidden_size), dtype=dtype)
    finals: list[list[np.ndarray]] = [[] for _ in initial_states]
    for d, reverse in enumerate(reverse_flags):
        xw = np.matmul(X, W[d].astype(dtype, copy=False).T)
        if B is not None:
            xw += B[d, :gh].astype(dtype, copy=False)
        if reverse:
            xw = xw[rev_index, cols]
        states = [s[d] for s in states0]
        y = Y[:, d]
        for t in range(seq_len):
            new = cell(d, xw[t], states)
            if valid is not None:
                new = [np.where(valid[t], n, s) for n, s in zip(new, states)]
            states = new
            y[t] = states[0]
        if valid is not None:
            y *= valid
        if reverse:
            Y[:, d] = y[rev_index, cols]
        for final, state in zip(finals, states):
            final.append(state)

    finals_arr = [np.stack(f) for f in finals]
    if layout == 1:
        Y = Y.transpose(2, 0, 1, 3)
        finals_arr = [f.transpose(1, 0, 2) for f in finals_arr]
    return tuple(a.astype(out_dtype, copy=False) for a in (Y, *finals_arr))


def _recurrence_weights(R: np.ndarray, B: np.ndarray | None, gh: int, dtype: np.dtype):
    """Per direction: R^T (contiguous) and the recurrence bias Rb (zeros if B is absent)."""
    RT = [np.ascontiguousarray(r.astype(dtype, copy=False).T) for r in R]
    if B is None:
        Rb = [np.zeros(gh, dtype=dtype) for _ in R]
    else:
        Rb = [b[gh:].astype(dtype, copy=False) for b in B]
    return RT, Rb


def _activations_for(
    activations: Sequence[str] | None,
    defaults: list[str],
    alpha: Sequence[float] | None,
    beta: Sequence[float] | None,
    num_dir: int,
    dtype: np.dtype,
) -> list[list[Activation]]:
    """Activation functions grouped per direction."""
    names = list(activations) if activations else defaults * num_dir
    per_dir = len(defaults)
    if len(names) == per_dir and num_dir == 2:
        names = names * 2
    if len(names) != per_dir * num_dir:
        raise ValueError(f"expected {per_dir * num_dir} activations, got {names}")
    funcs = _activation_functions(names, alpha, beta, dtype)
    return [funcs[i * per_dir : (i + 1) * per_dir] for i in range(num_dir)]


def _clipper(clip: float | None) -> Activation:
    if clip is None:
        return lambda x: x
    return lambda x: np.clip(x, -clip, clip)


def _hidden_size(hidden_size: int | None, R: np.ndarray) -> int:
    return int(hidden_size) if hidden_size is not None else int(R.shape[-1])


# -- RNN -------------------------------------------------------------------------


def _rnn(X, W, R, B, sequence_lens, initial_h, *, activation_alpha, activation_beta, activations, clip,
         direction, hidden_size, layout):
    """Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi)."""
    hidden = _hidden_size(hidden_size, R)
    dtype = _compute_dtype(X.dtype)
    num_dir = len(_num_directions(direction))
    RT, Rb = _recurrence_weights(R, B, hidden, dtype)
    acts = _activations_for(activations, ["Tanh"], activation_alpha, activation_beta, num_dir, dtype)
    clipped = _clipper(clip)

    def cell(d: int, xw: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        (h,) = states
        return [acts[d][0](clipped(xw + h @ RT[d] + Rb[d]))]

    return _recurrent(X, W, B, sequence_lens, [initial_h], layout, direction, hidden, 1, cell)


@kernel("RNN", since=1)
def rnn_1(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, output_sequence=0):
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=0)


@kernel("RNN", since=7)
def rnn_7(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None):
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=0)


@kernel("RNN", since=14)
def rnn_14(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
           activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=layout)


kernel("RNN", since=22)(rnn_14)


# -- GRU -------------------------------------------------------------------------


def _gru(X, W, R, B, sequence_lens, initial_h, *, activation_alpha, activation_beta, activations, clip,
         direction, hidden_size, layout, linear_before_reset):
    """zt, rt = f(...); ht = g(...) with the reset gate before or after the recurrence matmul."""
    hidden = _hidden_size(hidden_size, R)
    dtype = _compute_dtype(X.dtype)
    num_dir = len(_num_directions(direction))
    RT, Rb = _recurrence_weights(R, B, 3 * hidden, dtype)
    acts = _activations_for(activations, ["Sigmoid", "Tanh"], activation_alpha, activation_beta, num_dir, dtype)
    clipped = _clipper(clip)
    H2 = 2 * hidden

    def cell(d: int, xw: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        (h,) = states
        f, g = acts[d]
        if linear_before_reset:
            hr = h @ RT[d] + Rb[d]
            zr = f(clipped(xw[:, :H2] + hr[:, :H2]))
            z, r = zr[:, :hidden], zr[:, hidden:]
            ht = g(clipped(xw[:, H2:] + r * hr[:, H2:]))
        else:
            zr = f(clipped(xw[:, :H2] + h @ RT[d][:, :H2] + Rb[d][:H2]))
            z, r = zr[:, :hidden], zr[:, hidden:]
            ht = g(clipped(xw[:, H2:] + (r * h) @ RT[d][:, H2:] + Rb[d][H2:]))
        return [(1 - z) * ht + z * h]

    return _recurrent(X, W, B, sequence_lens, [initial_h], layout, direction, hidden, 3, cell)


@kernel("GRU", since=1)
def gru_1(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, output_sequence=0):
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=0, linear_before_reset=0)


@kernel("GRU", since=3)
def gru_3(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0,
          output_sequence=0):
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=0, linear_before_reset=linear_before_reset)


@kernel("GRU", since=7)
def gru_7(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0):
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=0, linear_before_reset=linear_before_reset)


@kernel("GRU", since=14)
def gru_14(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
           activations=None, clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0):
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=layout, linear_before_reset=linear_before_reset)


kernel("GRU", since=22)(gru_14)


# -- LSTM ------------------------------------------------------------------------


def _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, *, activation_alpha, activation_beta,
          activations, clip, direction, hidden_size, input_forget, layout):
    """Gates in iofc order, optional peepholes P[iof] and coupled input/forget gates."""
    hidden = _hidden_size(hidden_size, R)
    dtype = _compute_dtype(X.dtype)
    num_dir = len(_num_directions(direction))
    RT, Rb = _recurrence_weights(R, B, 4 * hidden, dtype)
    acts = _activations_for(activations, ["Sigmoid", "Tanh", "Tanh"], activation_alpha, activation_beta,
                            num_dir, dtype)
    clipped = _clipper(clip)
    peep = None if P is None else P.astype(dtype, copy=False).reshape(num_dir, 3, hidden)
    H = hidden

    def cell(d: int, xw: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        h, c = states
        f_act, g_act, h_act = acts[d]
        gates = xw + h @ RT[d] + Rb[d]
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

    return _recurrent(X, W, B, sequence_lens, [initial_h, initial_c], layout, direction, hidden, 4, cell)


@kernel("LSTM", since=1)
def lstm_1(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *, activation_alpha=None,
           activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None,
           input_forget=0, output_sequence=0):
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget, layout=0)


@kernel("LSTM", since=7)
def lstm_7(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *, activation_alpha=None,
           activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None,
           input_forget=0):
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget, layout=0)


@kernel("LSTM", since=14)
def lstm_14(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *, activation_alpha=None,
            activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None,
            input_forget=0, layout=0):
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget, layout=layout)


kernel("LSTM", since=22)(lstm_14)
