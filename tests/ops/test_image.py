"""ImageDecoder beyond the backend suite: mode conversion, undecodable streams, missing Pillow."""

import io
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from onyx.errors import OnyxError

PIL_Image = pytest.importorskip("PIL.Image")


def decode(data: bytes, pixel_format: str) -> np.ndarray:
    graph = helper.make_graph(
        [helper.make_node("ImageDecoder", ["x"], ["y"], pixel_format=pixel_format)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, ["h", "w", "c"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    feed = {"x": np.frombuffer(data, dtype=np.uint8)}
    return onyx.InferenceSession(model.SerializeToString()).run(None, feed)[0]


def encode(pixels: np.ndarray, mode: str) -> bytes:
    with io.BytesIO() as f:
        PIL_Image.fromarray(pixels, mode=mode).save(f, format="PNG")
        return f.getvalue()


def test_rgba_image_becomes_rgb_and_bgr():
    rgba = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    rgb = decode(encode(rgba, "RGBA"), "RGB")
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, rgba[:, :, :3])
    np.testing.assert_array_equal(decode(encode(rgba, "RGBA"), "BGR"), rgba[:, :, 2::-1])


def test_grayscale_image_to_rgb_and_grayscale():
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    np.testing.assert_array_equal(decode(encode(gray, "L"), "Grayscale"), gray[:, :, None])
    np.testing.assert_array_equal(decode(encode(gray, "L"), "RGB"), np.repeat(gray[:, :, None], 3, axis=2))


@pytest.mark.parametrize(("pixel_format", "channels"), [("RGB", 3), ("Grayscale", 1)])
def test_undecodable_stream_gives_empty_image(pixel_format, channels):
    y = decode(b"definitely not an image", pixel_format)
    assert y.shape == (0, 0, channels) and y.dtype == np.uint8


def test_missing_pillow_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(OnyxError, match=r"pip install onyx-runtime\[image\]"):
        decode(b"\x89PNG", "RGB")
