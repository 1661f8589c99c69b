"""onyx.torch.to_torch: PyTorch models exported with the default exporter (dynamo=True) come
back as one GraphModule that gives the original outputs and trains."""

import functools
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the [torch] extra")
pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript (the [test] extra)")

import onyx.torch  # noqa: E402

pytestmark = pytest.mark.xdist_group("to_torch")  # one process exports each model once


class Affine(torch.nn.Module):
    """Elementwise layers with weights: y = (x * w + b) * x - w."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(8))
        self.b = torch.nn.Parameter(torch.randn(8))

    def forward(self, x):
        return (x * self.w + self.b) * x - self.w


class ConvBnReluLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        )
        self.head = torch.nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))


class TransformerBlock(torch.nn.Module):
    """Pre-norm self-attention and MLP, written out (no fused kernels)."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(), torch.nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((attention @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


def _randomize_batchnorm(module):
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return module


CASES = {
    "affine": (Affine, (4, 8)),
    "conv_bn_relu_linear": (lambda: _randomize_batchnorm(ConvBnReluLinear()), (2, 3, 12, 12)),
    "transformer_block": (TransformerBlock, (2, 6, 32)),
}


@functools.cache
def _exported(name):
    """The original module, an input and the model torch.onnx.export (dynamo=True) made of them."""
    make, shape = CASES[name]
    torch.manual_seed(0)
    original = make().eval()
    x = torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(original, (x,), dynamo=True, verbose=False)
    return original, x, program.model_proto.SerializeToString()


NAMES = ["affine", "conv_bn_relu_linear", "transformer_block"]


def _round_trip(name):
    original, x, model = _exported(name)
    return original, x, onyx.torch.to_torch(model)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_gives_the_original_outputs(name):
    original, x, module = _round_trip(name)
    assert isinstance(module, torch.fx.GraphModule)
    with torch.no_grad():
        np.testing.assert_allclose(module(x).numpy(), original(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_module_trains(name):
    _, x, module = _round_trip(name)
    parameters = list(module.parameters())
    assert parameters and all(p.requires_grad for p in parameters)
    target = torch.zeros_like(module(x))
    optimizer = torch.optim.SGD(parameters, lr=0.1)
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(module(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]
