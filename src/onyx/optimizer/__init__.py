"""The graph optimizer: Model -> Model passes run at session creation.

Basic passes (GraphOptimizationLevel.ORT_ENABLE_BASIC) simplify without new operators:
identity elimination, constant folding, shape folding, common-subexpression and dead-code
elimination. Extended passes (ORT_ENABLE_EXTENDED and above) also fold Conv+BatchNormalization
and per-channel affine chains (into the Conv before them, or with a following Relu into the
1x1 Convs after them, else one ChannelAffine), fuse patterns into standard ops
(LayerNormalization, Softmax, Gelu) or onyx's own ("ai.onyx" domain, kernels in
onyx/ops/fused.py), and merge convolutions of one input with equal geometry into one and a
Split. Every pass keeps the graph valid ONNX, so an optimized model can be saved and run
elsewhere. The input model is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from onyx.model.graph import Model
from onyx.optimizer.channel_affine import fold_channel_affine
from onyx.optimizer.constant_folding import fold_constants, fold_shapes
from onyx.optimizer.editor import copy_model
from onyx.optimizer.linear_fusion import (
    fold_conv_batchnorm,
    fuse_conv_activation,
    fuse_gemm_activation,
    fuse_matmul_bias,
    fuse_pad_conv,
)
from onyx.optimizer.sibling_convs import merge_sibling_convs
from onyx.optimizer.simplify import eliminate_common_subexpressions, eliminate_dead_code, eliminate_identities
from onyx.optimizer.transformer_fusion import fuse_attention, fuse_gelu, fuse_layer_norm, fuse_softmax
from onyx.options import GraphOptimizationLevel

Pass = Callable[[Model], None]

BASIC_PASSES: list[tuple[str, Pass]] = [
    ("identity_elimination", eliminate_identities),
    ("constant_folding", fold_constants),
    ("shape_folding", fold_shapes),
    ("common_subexpression_elimination", eliminate_common_subexpressions),
    ("dead_code_elimination", eliminate_dead_code),
]

# order matters: attention before MatMul+bias (its products must stay MatMul), GELU before
# the MatMul/Gemm fusions that absorb it as their activation
EXTENDED_PASSES: list[tuple[str, Pass]] = [
    ("conv_batchnorm_folding", fold_conv_batchnorm),
    ("channel_affine_folding", fold_channel_affine),
    ("pad_conv_fusion", fuse_pad_conv),
    ("layer_norm_fusion", fuse_layer_norm),
    ("gelu_fusion", fuse_gelu),
    ("softmax_fusion", fuse_softmax),
    ("attention_fusion", fuse_attention),
    ("conv_activation_fusion", fuse_conv_activation),
    ("sibling_conv_merging", merge_sibling_convs),
    ("gemm_activation_fusion", fuse_gemm_activation),
    ("matmul_bias_fusion", fuse_matmul_bias),
    ("dead_code_elimination", eliminate_dead_code),
]


@dataclass
class PassReport:
    name: str
    nodes_before: int
    nodes_after: int


def passes_for(level: GraphOptimizationLevel) -> list[tuple[str, Pass]]:
    """The passes a level runs, in order."""
    if level <= GraphOptimizationLevel.ORT_DISABLE_ALL:
        return []
    if level == GraphOptimizationLevel.ORT_ENABLE_BASIC:
        return list(BASIC_PASSES)
    return BASIC_PASSES + EXTENDED_PASSES


def optimize(model: Model, level: GraphOptimizationLevel) -> tuple[Model, list[PassReport]]:
    """An optimized copy of ``model`` and one report per pass run."""
    if level <= GraphOptimizationLevel.ORT_DISABLE_ALL:
        return model, []
    optimized = copy_model(model)
    reports: list[PassReport] = []
    for name, run_pass in passes_for(level):
        before = len(optimized.graph.nodes)
        run_pass(optimized)
        reports.append(PassReport(name, before, len(optimized.graph.nodes)))
    return optimized, reports
