"""The graph optimizer: Model -> Model passes at session creation, in two named phases.

*declutter* (device-neutral, before nodes are placed on providers): identity elimination,
constant and shape folding (in subgraphs too, where Ifs whose condition folds to a constant
become their branch), common-subexpression and dead-code elimination (all at
GraphOptimizationLevel.ORT_ENABLE_BASIC), then at ORT_ENABLE_EXTENDED and above
per-channel affine chains and BatchNormalization folded into the Conv before them, zero Pads
into Convs, and LayerNormalization, Gelu and Softmax patterns (standard operators where the
model's opset has them, else onyx's op of the same meaning); activations moved before the
Reshape between them and a Gemm/MatMul (as the dynamo exporter writes), and MatMulInteger ->
Cast -> Mul [-> Add] chains of onnxruntime's quantizer into com.microsoft MatMulIntegerToFloat.

*codegen* (after partitioning, each provider on its own partitions): a provider's own
fusions (``ExecutionProvider.fusions``). The CPU provider's are CPU_FUSIONS below: affine
chains into one ChannelAffine or a clamp folded into the 1x1 Convs reading them, attention,
FusedConv, convolutions of one input merged, FusedGemm and FusedMatMulBias ("ai.onyx"
domain, kernels in onyx/ops/fused.py and onyx/ops/contrib/).

Each phase is a list of passes in the order they run: the order is data. Every pass keeps
the graph valid ONNX, so an optimized model can be saved and run elsewhere. The input
model is never modified.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from onyx.errors import OnyxError, OptimizerError
from onyx.model.graph import Model, Node
from onyx.optimizer.channel_affine import fold_affine_into_conv, fold_channel_affine
from onyx.optimizer.constant_folding import fold_constants, fold_shapes
from onyx.optimizer.control_flow import fold_subgraphs
from onyx.optimizer.editor import copy_model
from onyx.optimizer.elementwise_fusion import fuse_elementwise_chains
from onyx.optimizer.linear_fusion import (
    fuse_conv_activation,
    fuse_gemm_activation,
    fuse_matmul_bias,
    fuse_pad_conv,
    move_activation_before_reshape,
)
from onyx.optimizer.quantized_fusion import fuse_matmul_integer_to_float
from onyx.optimizer.sibling_convs import merge_sibling_convs
from onyx.optimizer.simplify import eliminate_common_subexpressions, eliminate_dead_code, eliminate_identities
from onyx.optimizer.transformer_fusion import fuse_attention, fuse_gelu, fuse_layer_norm, fuse_softmax
from onyx.options import GraphOptimizationLevel

Pass = Callable[[Model], None]
BASIC = GraphOptimizationLevel.ORT_ENABLE_BASIC
EXTENDED = GraphOptimizationLevel.ORT_ENABLE_EXTENDED


@dataclass(frozen=True)
class OptimizerPass:
    """A named pass and the lowest optimization level that runs it."""

    name: str
    run: Pass
    level: GraphOptimizationLevel = EXTENDED


DECLUTTER: tuple[OptimizerPass, ...] = (
    OptimizerPass("identity_elimination", eliminate_identities, BASIC),
    OptimizerPass("constant_folding", fold_constants, BASIC),
    OptimizerPass("shape_folding", fold_shapes, BASIC),
    OptimizerPass("subgraph_folding", fold_subgraphs, BASIC),  # constant-condition Ifs become their branch
    OptimizerPass("common_subexpression_elimination", eliminate_common_subexpressions, BASIC),
    OptimizerPass("dead_code_elimination", eliminate_dead_code, BASIC),
    OptimizerPass("conv_affine_folding", fold_affine_into_conv),  # before Pad+Conv: folds need the Conv alone
    OptimizerPass("pad_conv_fusion", fuse_pad_conv),
    OptimizerPass("layer_norm_fusion", fuse_layer_norm),
    OptimizerPass("gelu_fusion", fuse_gelu),  # before the MatMul/Gemm fusions that absorb it as their activation
    OptimizerPass("softmax_fusion", fuse_softmax),
    OptimizerPass("activation_before_reshape", move_activation_before_reshape),  # after the Gelu fusion
    OptimizerPass("matmul_integer_to_float_fusion", fuse_matmul_integer_to_float),
)

CPU_FUSIONS: tuple[OptimizerPass, ...] = (
    OptimizerPass("channel_affine_folding", fold_channel_affine),
    OptimizerPass("attention_fusion", fuse_attention),  # before MatMul+bias: its products must stay MatMul
    OptimizerPass("conv_activation_fusion", fuse_conv_activation),
    OptimizerPass("sibling_conv_merging", merge_sibling_convs),
    OptimizerPass("gemm_activation_fusion", fuse_gemm_activation),
    OptimizerPass("matmul_bias_fusion", fuse_matmul_bias),
    OptimizerPass("dead_code_elimination", eliminate_dead_code),
)

# with compiled kernels ([fast]), the CPU provider first fuses elementwise chains into one loop
# (before channel_affine_folding makes their scalar Mul/Add nodes ChannelAffine nodes)
ELEMENTWISE_FUSION = OptimizerPass("elementwise_fusion", fuse_elementwise_chains)


@dataclass
class PassReport:
    phase: str
    name: str
    nodes_before: int
    nodes_after: int


def run_passes(model: Model, passes: Sequence[OptimizerPass], level: GraphOptimizationLevel,
               phase: str) -> list[PassReport]:
    """Run the passes of ``level`` on ``model`` in place, in order; one report per pass run."""
    reports: list[PassReport] = []
    for p in passes:
        if p.level <= level:
            before = len(model.graph.nodes)
            try:
                p.run(model)
            except OnyxError:
                raise
            except Exception as exc:  # noqa: BLE001 - a pass meeting a model it does not expect
                raise OptimizerError(
                    f"optimizer pass '{p.name}' failed{_where(exc)}: {type(exc).__name__}: {exc} "
                    "(graph_optimization_level=ORT_DISABLE_ALL skips the optimizer)"
                ) from exc
            reports.append(PassReport(phase, p.name, before, len(model.graph.nodes)))
    return reports


def _where(exc: BaseException) -> str:
    """' at node "x" (Op)': the node the innermost frame of the failed pass was working on, if any."""
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        nodes = [v for v in frame.f_locals.values() if isinstance(v, Node)]
        if nodes:
            return f" at {nodes[0].describe()}"
    return ""


def declutter(model: Model, level: GraphOptimizationLevel) -> tuple[Model, list[PassReport]]:
    """A decluttered copy of ``model`` and one report per pass run (``model`` itself when
    the level disables optimization)."""
    if level <= GraphOptimizationLevel.ORT_DISABLE_ALL:
        return model, []
    optimized = copy_model(model)
    return optimized, run_passes(optimized, DECLUTTER, level, "declutter")


def optimize(model: Model, level: GraphOptimizationLevel) -> tuple[Model, list[PassReport]]:
    """An optimized copy of ``model`` for the CPU provider alone (declutter, then the CPU
    provider's fusions on the whole graph) and one report per pass run."""
    optimized, reports = declutter(model, level)
    if optimized is not model:
        reports += run_passes(optimized, CPU_FUSIONS, level, "codegen")
    return optimized, reports
