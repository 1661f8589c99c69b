"""FusedElementwise (domain "ai.onyx"): a chain of elementwise standard operators made one
node by the CPU provider's elementwise fusion (onyx.optimizer.elementwise_fusion).

Its ``body`` is the chain as a graph; this NumPy kernel runs it node by node with the
standard kernels, so its results are those of the unfused graph. With the [fast] extra the
node gets a compiled loop doing the whole chain per element (onyx/ops/fast/elementwise.py).
"""

from __future__ import annotations

from onyx.compiled import compiled_variant
from onyx.ops.fast import elementwise as fast
from onyx.ops.registry import kernel


@kernel("FusedElementwise", since=1, domain="ai.onyx")
@compiled_variant(fast.choose_fused_elementwise)
def fused_elementwise(*inputs, body):
    """The chain in ``body`` (a plan of standard operators) applied to ``inputs``."""
    return body.run(list(inputs))[0]
