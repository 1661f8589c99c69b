"""Quantized variants of bench models, written next to them in bench/.cache (development time only).

onnxruntime's quantization tools (a benchmark and test tool here, never an onyx code path) applied
to models bench/export_models.py wrote first:
    python bench/quantize_models.py [NAME ...]

* ``bert_base_qdynamic``, ``lstm_2layer_qdynamic``: ``quantize_dynamic`` (int8 weights; activations
  quantized at run time: DynamicQuantizeLinear, MatMulInteger, DynamicQuantizeLSTM).
* ``resnet50_qdq``, ``resnet50_dynamo_qoperator``: ``quantize_static`` calibrated on a few random
  images, in the QDQ format (QuantizeLinear/DequantizeLinear around float operators) and the
  QOperator format (QLinearConv, QLinearMatMul, QLinearAdd...).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / ".cache"


def _dynamic(source: str, name: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(CACHE / f"{source}.onnx", CACHE / f"{name}.onnx", weight_type=QuantType.QInt8)


class _RandomImages:
    """A CalibrationDataReader of a few random 224x224 images."""

    def __init__(self, input_name: str, count: int = 4):
        rng = np.random.default_rng(0)
        self._feeds = iter([{input_name: rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}
                            for _ in range(count)])

    def get_next(self):
        return next(self._feeds, None)


def _static(source: str, name: str, quant_format) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_static

    input_name = onnx.load(str(CACHE / f"{source}.onnx"), load_external_data=False).graph.input[0].name
    quantize_static(CACHE / f"{source}.onnx", CACHE / f"{name}.onnx", _RandomImages(input_name),
                    quant_format=quant_format, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def quantize(name: str) -> None:
    from onnxruntime.quantization import QuantFormat

    if name.endswith("_qdynamic"):
        _dynamic(name.removesuffix("_qdynamic"), name)
    elif name.endswith("_qdq"):
        _static(name.removesuffix("_qdq"), name, QuantFormat.QDQ)
    else:
        _static(name.removesuffix("_qoperator"), name, QuantFormat.QOperator)


QUANTIZED = ["bert_base_qdynamic", "lstm_2layer_qdynamic", "resnet50_qdq", "resnet50_dynamo_qoperator"]


def main(names: list[str]) -> None:
    for name in names or QUANTIZED:
        print(f"quantizing {name}", flush=True)
        quantize(name)


if __name__ == "__main__":
    main(sys.argv[1:])
