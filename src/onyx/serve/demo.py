"""What the web demo page needs to know about each model: which widget fits it and how to feed it."""

from __future__ import annotations

from onyx.serve.repository import Model, TensorSpec

DEFAULT_IMAGE_SIZE = 224


def describe(model: Model) -> dict:
    """The demo page's view of a model: ``kind`` is "digits" (8x8 drawing pad), "image" (upload) or "other"."""
    info = {"name": model.name, "version": model.version, "kind": "other", "description": model.description,
            "inputs": [s.as_json() for s in model.inputs], "outputs": [s.as_json() for s in model.outputs],
            "labels": model.labels}
    scores = _scores_output(model)
    if len(model.inputs) != 1 or scores is None or model.inputs[0].datatype != "FP32":
        return info
    spec = model.inputs[0]
    info["output"] = scores.name
    info["input_range"] = _range(model.metadata.get("input_range", "0-1"))
    if _is_digits_pad(spec):
        info.update(kind="digits", input_shape=[1] + [d if d > 0 else 1 for d in spec.shape[1:]])
    elif len(spec.shape) == 4 and spec.shape[1] in (1, 3):
        height, width = (d if d > 0 else DEFAULT_IMAGE_SIZE for d in spec.shape[2:])
        info.update(kind="image", input_shape=[1, spec.shape[1], height, width],
                    mean=_floats(model.metadata.get("mean")), std=_floats(model.metadata.get("std")))
    return info


def _is_digits_pad(spec: TensorSpec) -> bool:
    """An 8x8 single-channel picture: [N, 64], [N, 8, 8] or [N, 1, 8, 8]."""
    return spec.shape[1:] in ([64], [8, 8], [1, 8, 8])


def _scores_output(model: Model) -> TensorSpec | None:
    """The first floating output of one score per class, [N, classes]."""
    return next((s for s in model.outputs if s.datatype in ("FP32", "FP64", "FP16") and len(s.shape) == 2), None)


def _range(text: str) -> list[float]:
    low, _, high = text.partition("-")
    try:
        return [float(low), float(high)]
    except ValueError:
        return [0.0, 1.0]


def _floats(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        return None
