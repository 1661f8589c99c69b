"""The compiled grouped convolution ([fast]) with its epilogue fused: FusedConv's bias, residual
and Relu/Clip added in the pass that writes the output, against the reference convolution."""

import numpy as np
import pytest

from conv_reference import reference_conv
from onyx.ops import fused
from onyx.ops.fused import apply_activation, fused_conv
from onyx.ops.registry import NodeContext

pytest.importorskip("numba")

ATTRS = {"group": 6, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 2, 0, 1]}


@pytest.mark.parametrize("activation, params, bounds", [("", (), (-np.inf, np.inf)), ("Relu", (), (0, np.inf)),
                                                       ("Clip", (-0.5, 1.5), (-0.5, 1.5)),
                                                       ("Sigmoid", (), None)])
@pytest.mark.parametrize("with_residual", [False, True])
def test_fused_conv_epilogue_in_the_direct_pass(monkeypatch, activation, params, bounds, with_residual):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 9, 10)).astype(np.float32)
    w = rng.standard_normal((12, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    conv = reference_conv(x, w, b, **ATTRS)
    z = rng.standard_normal(conv.shape).astype(np.float32) if with_residual else None
    separate_passes = []  # activations applied after the convolution, not in its pass
    monkeypatch.setattr(fused, "apply_activation", lambda y, *a: separate_passes.append(1) or apply_activation(y, *a))
    run = fused_conv(activation=activation, activation_params=params, _node=NodeContext((None, w, b), (), True),
                     **ATTRS)
    y = run(x, w, b, z)
    expected = conv + (0 if z is None else z)
    expected = 1 / (1 + np.exp(-expected)) if bounds is None else np.clip(expected, *bounds)
    assert run.kernel_name == "conv:grouped-direct"
    assert not separate_passes  # Sigmoid: one compiled pass after the convolution's (onyx.ops.fast.activations)
    assert (run.compiled_activation is not None) == (bounds is None)
    np.testing.assert_allclose(y, expected, rtol=0, atol=2e-6 * np.abs(expected).max())
