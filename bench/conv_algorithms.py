"""Time every convolution algorithm that applies to VGG-, ResNet-, MobileNet- and ConvNeXt-style
layers, in one process, alternating, and measure each one's float32 error against a float64 im2col.

    python bench/conv_algorithms.py                  # the layers below
    python bench/conv_algorithms.py --rounds 9

Prints per layer the algorithm chosen without and with compiled kernels, the median time of
each algorithm, its ratio to im2col and its largest error relative to the output's largest
magnitude. onyx.ops.conv_algorithms.choose_algorithm is set from these numbers (docs/benchmark.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

from onyx.ops.conv_algorithms import ALGORITHMS, ConvGeometry, choose_algorithm, run_algorithm  # noqa: E402

# (name, channels, outputs, size, kernel side, stride, groups): pads kernel // 2, batch 1
DENSE_3X3 = [
    ("vgg 3->64 @224", 3, 64, 224),
    ("vgg 64->64 @224", 64, 64, 224),
    ("vgg 64->128 @112", 64, 128, 112),
    ("vgg 128->128 @112", 128, 128, 112),
    ("vgg 256->256 @56", 256, 256, 56),
    ("vgg 512->512 @28", 512, 512, 28),
    ("vgg 512->512 @14", 512, 512, 14),
    ("resnet 64->64 @56", 64, 64, 56),
    ("resnet 128->128 @28", 128, 128, 28),
    ("resnet 256->256 @14", 256, 256, 14),
    ("resnet 512->512 @7", 512, 512, 7),
    ("zfnet 384->384 @13", 384, 384, 13),
    ("densenet 128->32 @28", 128, 32, 28),
]
LAYERS = [(name, c, m, size, 3, 1, 1) for name, c, m, size in DENSE_3X3] + [
    ("mobilenet dw 32 @112", 32, 32, 112, 3, 1, 32),
    ("mobilenet dw 96 @112/2", 96, 96, 112, 3, 2, 96),
    ("mobilenet dw 144 @56", 144, 144, 56, 3, 1, 144),
    ("mobilenet dw 192 @28", 192, 192, 28, 3, 1, 192),
    ("mobilenet dw 576 @14", 576, 576, 14, 3, 1, 576),
    ("mobilenet dw 960 @7", 960, 960, 7, 3, 1, 960),
    ("shufflenet dw 60 @28", 60, 60, 28, 3, 1, 60),
    ("shufflenet dw 240 @14/2", 240, 240, 14, 3, 2, 240),
    ("convnext dw7 96 @56", 96, 96, 56, 7, 1, 96),
    ("convnext dw7 384 @14", 384, 384, 14, 7, 1, 384),
    ("convnext dw7 768 @7", 768, 768, 7, 7, 1, 768),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="", help="only the layers whose name contains this")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'layer':24} {'chosen':14} {'[fast] chosen':14} " + " ".join(f"{n:>22}" for n in ALGORITHMS))
    for name, c, m, size, k, stride, group in LAYERS:
        if args.only not in name:
            continue
        x = rng.standard_normal((1, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((m, c // group, k, k)) / np.sqrt(k * k * c // group)).astype(np.float32)
        b = rng.standard_normal(m).astype(np.float32)
        g = ConvGeometry.of(x.shape, w.shape, pads=[k // 2] * 4, strides=[stride, stride], group=group)
        exact = ALGORITHMS["im2col"]
        reference = run_algorithm(exact, x.astype(np.float64), exact.prepare(w.astype(np.float64), b.astype(np.float64), g), g)
        scale = np.abs(reference).max()
        runs = {n: a for n, a in ALGORITHMS.items() if a.applies(g)}
        prepared = {n: a.prepare(w, b, g) for n, a in runs.items()}
        times: dict[str, list[float]] = {n: [] for n in runs}
        errors = {}
        for _ in range(args.rounds):
            for n, a in runs.items():
                start = time.perf_counter()
                y = run_algorithm(a, x, prepared[n], g)
                times[n].append(time.perf_counter() - start)
                errors[n] = np.abs(y - reference).max() / scale
        base = np.median(times["im2col"])
        cells = []
        for n in ALGORITHMS:
            if n in runs:
                t = np.median(times[n])
                cells.append(f"{t * 1e3:7.2f}ms {t / base:4.2f} {errors[n]:6.0e}")
            else:
                cells.append(f"{'-':>22}")
        print(f"{name:24} {choose_algorithm(g):14} {choose_algorithm(g, compiled=True):14} " + " ".join(cells),
              flush=True)


if __name__ == "__main__":
    main()
