"""ai.onnx.preview.training optimizers: Adagrad, Adam, Momentum.

Each takes R (learning rate), T (update count) and then, for k optimized tensors, k tensors of
every per-tensor input in turn (X_1..X_k, G_1..G_k, ...); outputs follow the same layout.
"""

from __future__ import annotations

import numpy as np

from onyx.ops.registry import kernel

_DOMAIN = "ai.onnx.preview.training"


def _groups(inputs: tuple, count: int, op: str) -> list[tuple]:
    """Split the variadic inputs into ``count`` groups of k tensors; returns k tuples (one per tensor)."""
    if not inputs or len(inputs) % count:
        raise ValueError(f"{op} needs {count} inputs per optimized tensor, got {len(inputs)}")
    k = len(inputs) // count
    return list(zip(*(inputs[i * k:(i + 1) * k] for i in range(count))))


def _outputs(results: list[tuple]) -> tuple:
    """Per-tensor result tuples regrouped as all first outputs, then all second outputs, ..."""
    return tuple(out for group in zip(*results) for out in group)


def _scalar(value) -> float:
    return float(np.asarray(value).reshape(-1)[0])


@kernel("Adagrad", since=1, domain=_DOMAIN)
def adagrad(r, t, *inputs, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    rate = _scalar(r) / (1 + _scalar(t) * decay_factor)
    results = []
    for x, g, h in _groups(inputs, 3, "Adagrad"):
        g_regularized = norm_coefficient * x + g
        h_new = h + g_regularized * g_regularized
        h_adaptive = np.sqrt(h_new) + epsilon
        x_new = x - rate * g_regularized / h_adaptive
        results.append((x_new.astype(x.dtype, copy=False), h_new.astype(h.dtype, copy=False)))
    return _outputs(results)


@kernel("Adam", since=1, domain=_DOMAIN)
def adam(r, t, *inputs, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.0, norm_coefficient_post=0.0):
    steps = _scalar(t)
    rate = _scalar(r)
    if steps > 0:
        rate = rate * np.sqrt(1 - beta**steps) / (1 - alpha**steps)
    results = []
    for x, g, v, h in _groups(inputs, 4, "Adam"):
        g_regularized = norm_coefficient * x + g
        v_new = alpha * v + (1 - alpha) * g_regularized
        h_new = beta * h + (1 - beta) * g_regularized * g_regularized
        h_sqrt = np.sqrt(h_new) + epsilon
        x_final = (1 - norm_coefficient_post) * (x - float(rate) * (v_new / h_sqrt))
        results.append(tuple(a.astype(ref.dtype, copy=False) for a, ref in ((x_final, x), (v_new, v), (h_new, h))))
    return _outputs(results)


@kernel("Momentum", since=1, domain=_DOMAIN)
def momentum(r, t, *inputs, alpha=None, beta=None, mode=None, norm_coefficient=None):
    """Standard or Nesterov momentum; all four attributes are required."""
    if None in (alpha, beta, mode, norm_coefficient):
        raise ValueError("Momentum needs the alpha, beta, mode and norm_coefficient attributes")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("standard", "nesterov"):
        raise ValueError(f"unknown Momentum mode '{mode}'")
    rate = _scalar(r)
    beta_adjusted = beta if _scalar(t) > 0 else 1.0
    results = []
    for x, g, v in _groups(inputs, 3, "Momentum"):
        g_regularized = norm_coefficient * x + g
        v_new = alpha * v + beta_adjusted * g_regularized
        step = g_regularized + alpha * v_new if mode == "nesterov" else v_new
        x_new = x - rate * step
        results.append((x_new.astype(x.dtype, copy=False), v_new.astype(v.dtype, copy=False)))
    return _outputs(results)
