"""The light_* networks shipped in the onnx package agree with onnxruntime at every
optimization level: the optimizer's passes on real network graphs (BatchNormalization clamps
before DenseNet's 1x1 convolutions, Conv fusions, pools, concatenations).

Their weights are constants built by ConstantOfShape nodes, and activations grow to 1e9, where
one float32 step is 128: the logits agree to 1e-5 relative, but a final Softmax turns those
steps into different probabilities. So a network ending in Softmax is compared on its logits.
The larger networks (AlexNet, VGG-19, ZFNet: hundreds of MB of weights) are left to
bench/run.py, which checks agreement on every model it times."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

import onyx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = ["densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet"]
LEVELS = [level for level in onyx.GraphOptimizationLevel if level != onyx.GraphOptimizationLevel.ORT_ENABLE_LAYOUT]


def logits_model(name: str) -> bytes:
    """The network, its outputs made by Softmax replaced by the Softmax inputs."""
    model = onnx.load(str(LIGHT / f"light_{name}.onnx"))
    graph = model.graph
    softmax = {n.output[0]: n for n in graph.node if n.op_type == "Softmax"}
    outputs = [onnx.helper.make_tensor_value_info(softmax[o.name].input[0], onnx.TensorProto.FLOAT, None)
               if o.name in softmax else o for o in graph.output]
    for o in graph.output:
        if o.name in softmax:
            graph.node.remove(softmax[o.name])
    del graph.output[:]
    graph.output.extend(outputs)
    return model.SerializeToString()


@pytest.fixture(scope="module")
def expected() -> dict:
    """Per network: its bytes, one random image and onnxruntime's outputs for it."""
    return {}


@pytest.mark.parametrize("level", LEVELS, ids=lambda level: level.name)
@pytest.mark.parametrize("name", MODELS)
def test_agrees_with_onnxruntime(name, level, expected):
    if name not in expected:
        model = logits_model(name)
        theirs = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        (spec,) = theirs.get_inputs()
        image = np.random.default_rng(0).standard_normal(spec.shape).astype(np.float32)
        expected[name] = (model, {spec.name: image}, theirs.run(None, {spec.name: image}))
    model, feeds, outputs = expected[name]
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    got = onyx.InferenceSession(model, options).run(None, feeds)
    for ours, theirs in zip(got, outputs, strict=True):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())
