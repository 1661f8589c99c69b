"""GPU check: the bench models through onyx's CUDA path, checked against the CPU provider and
timed beside PyTorch eager on the same module (one short run, under 5 minutes on one GPU).

    python bench/gpu_check.py                     # CUDA: the six bench models, fp32 then bf16
    python bench/gpu_check.py --device cpu        # the same path on the CPU (no bf16, no CUDA graphs)
    python bench/gpu_check.py --models resnet50 bert_base --runs 20

Offline: the networks are built from transformers configurations with random weights (or, where
transformers is missing, two small PyTorch networks defined here) and exported here with
torch.onnx.export. Each model runs through ``CUDAExecutionProvider`` (onyx's Torch provider on
cuda:0), in fp32 and in bf16 (the provider's ``dtype`` option), with and without ``compile`` or
``cuda_graphs``; inputs and outputs stay on the device through IOBinding. The first batch-1 output
of each variant is compared with the CPU provider's (max abs error / max abs value). Latency is the
median of ``--runs`` timed runs after warm-up, at batch 1 and 32. A variant that fails prints
its error and the script goes on; past ``--budget`` seconds the remaining compile variants are skipped.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import onyx  # noqa: E402

MODELS = ["resnet50", "mobilenetv2", "bert_base", "vit_b16", "gpt2", "convnext_tiny"]
SMALL = ["small_cnn", "small_transformer"]  # where transformers is missing
VISION = {"resnet50", "mobilenetv2", "vit_b16", "convnext_tiny"}


def small_module(name: str):
    """Two networks for machines without transformers: a conv/BN/ReLU stack with a linear head,
    and a 2-layer transformer encoder."""
    import torch

    if name == "small_cnn":
        layers = []
        for c_in, c_out, stride in [(3, 32, 2), (32, 64, 2), (64, 128, 2), (128, 128, 1)]:
            layers += [torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(c_out), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(128, 10))
    layer = torch.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
    return torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


def build(name: str):
    """(torch module in eval mode, example input maker batch -> numpy array, input name)."""
    import torch

    torch.manual_seed(0)
    if name in SMALL:
        module = small_module(name)
        shape = (3, 64, 64) if name == "small_cnn" else (32, 256)
        return module.eval(), lambda b: np.random.default_rng(0).standard_normal((b, *shape)).astype(np.float32), "x"
    from export_models import TEXT_SEQUENCE, text_module, vision_module

    if name in VISION:
        return vision_module(name).eval(), lambda b: np.random.default_rng(0).standard_normal((b, 3, 224, 224)).astype(np.float32), "pixel_values"
    seq = TEXT_SEQUENCE[name]
    return text_module(name).eval(), lambda b: np.random.default_rng(0).integers(0, 1000, (b, seq)), "input_ids"


def export(module, example: np.ndarray, input_name: str, path: Path) -> None:
    import torch

    with warnings.catch_warnings():  # gradients on: fused attention kernels (eval fast path) do not export
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.from_numpy(example),), str(path), input_names=[input_name], output_names=["y"],
                          dynamic_axes={input_name: {0: "batch"}, "y": {0: "batch"}}, opset_version=17, dynamo=False)


def median_ms(run, runs: int, sync) -> float:
    for _ in range(3):
        run()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


class Variant:
    def __init__(self, label: str, options: dict, heavy: bool = False):
        self.label, self.options, self.heavy = label, options, heavy


def variants(device: str) -> list[Variant]:
    if device == "cpu":
        return [Variant("fp32", {}), Variant("fp32 compile", {"compile": "1"}, heavy=True)]
    return [
        Variant("fp32", {}), Variant("fp32 cuda_graphs", {"cuda_graphs": "1"}),
        Variant("fp32 compile", {"compile": "1"}, heavy=True),
        Variant("bf16", {"dtype": "bfloat16"}), Variant("bf16 cuda_graphs", {"dtype": "bfloat16", "cuda_graphs": "1"}),
        Variant("bf16 compile", {"dtype": "bfloat16", "compile": "1"}, heavy=True),
    ]


def session(path: Path, device: str, options: dict):
    """The CUDA path as applications ask for it: CUDAExecutionProvider (TorchExecutionProvider
    where options are given, on the CPU, or where the onnxruntime name is not mapped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if device == "cuda" and not options and "CUDAExecutionProvider" in onyx.get_available_providers():
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            providers = [("TorchExecutionProvider", {"device": device, **options}), "CPUExecutionProvider"]
        return onyx.InferenceSession(str(path), providers=providers)


def bound_runner(sess, feed: np.ndarray, input_name: str, device: str):
    """A function running ``sess`` with the input and output on ``device`` (IOBinding), and the binding."""
    binding = sess.io_binding()
    binding.bind_ortvalue_input(input_name, onyx.OrtValue.ortvalue_from_numpy(feed, device, 0))
    binding.bind_output(sess.get_outputs()[0].name, device, 0)
    return (lambda: sess.run_with_iobinding(binding)), binding


def check_model(name: str, args, workdir: Path, started: float) -> list[list[str]]:
    import torch

    module, make_input, input_name = build(name)
    path = workdir / f"{name}.onnx"
    export(module, make_input(1), input_name, path)
    device = args.device
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    reference = onyx.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {input_name: make_input(1)})[0]
    scale = float(np.abs(reference).max()) or 1.0
    eager = module.to(device)
    rows = []
    for variant in variants(device):
        if variant.heavy and (time.perf_counter() - started > args.budget or name not in args.compile_models):
            rows.append([name, variant.label, "skipped (time budget or --compile-models)", "", "", "", "", ""])
            continue
        try:
            sess = session(path, device, variant.options)
            on_cpu = sum(len(p.nodes) for p in sess.get_provider_assignment() if p.provider == "CPUExecutionProvider")
            run, binding = bound_runner(sess, make_input(1), input_name, device)
            run()
            error = float(np.abs(binding.copy_outputs_to_cpu()[0].astype(np.float32) - reference).max()) / scale
            times = [_timed(lambda b=b: bound_runner(sess, make_input(b), input_name, device)[0], args.runs, sync)
                     for b in args.batches]
            eager_times = [_timed(lambda b=b: _eager_runner(eager, make_input(b), device, variant), args.runs, sync)
                           for b in args.batches]
            rows.append([name, variant.label, f"{error:.1e}", str(on_cpu)] + times + eager_times)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next variant
            rows.append([name, variant.label, f"FAILED: {type(exc).__name__}: {str(exc)[:160]}", "", "", "", "", ""])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def _timed(make_run, runs: int, sync) -> str:
    """The median of ``make_run()``'s runs in ms, or why it failed (one batch size may fail alone)."""
    try:
        return f"{median_ms(make_run(), runs, sync):.2f}"
    except Exception as exc:  # noqa: BLE001 - shown in the table
        return f"failed: {type(exc).__name__}"


def _eager_runner(module, feed: np.ndarray, device: str, variant: Variant):
    import torch

    x = torch.from_numpy(feed).to(device)
    bf16 = "bf16" in variant.label

    def run():
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            module(x)

    return run


def machine_line(device: str) -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    return f"{gpu}; torch {torch.__version__}; onyx {onyx.__version__}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--models", nargs="*", default=None, help="default: the six bench models, or the small ones without transformers")
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 32])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=180.0, help="seconds after which compile variants are skipped")
    parser.add_argument("--compile-models", nargs="*", default=["resnet50", "bert_base", "small_cnn", "small_transformer"],
                        help="the models whose compile variants run (torch.compile takes tens of seconds per model)")
    args = parser.parse_args()
    import importlib.util

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible to torch: run with --device cpu")
    names = args.models or (MODELS if importlib.util.find_spec("transformers") else SMALL)
    started = time.perf_counter()
    print(machine_line(args.device))
    header = ["model", "variant", "err vs CPU", "nodes on CPU"] + [f"onyx b{b} ms" for b in args.batches] + [f"eager b{b} ms" for b in args.batches]
    print(" | ".join(header), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            try:
                rows += check_model(name, args, Path(workdir), started)
            except Exception as exc:  # noqa: BLE001 - a model that cannot be built or exported
                rows.append([name, "-", f"FAILED to build/export: {type(exc).__name__}: {str(exc)[:160]}"])
                print(" | ".join(rows[-1]), flush=True)
    print(f"\n{machine_line(args.device)}; {time.perf_counter() - started:.0f} s\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row + [""] * (len(header) - len(row))) + " |")


if __name__ == "__main__":
    main()
