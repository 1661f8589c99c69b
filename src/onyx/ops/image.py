"""ImageDecoder, backed by Pillow (the optional ``image`` extra)."""

from __future__ import annotations

import io

import numpy as np

from onyx.ops.registry import kernel

_CHANNELS = {"RGB": 3, "BGR": 3, "Grayscale": 1}


@kernel("ImageDecoder", since=20)
def image_decoder(encoded_stream, *, pixel_format="RGB"):
    """Decode an encoded image (uint8 bytes) to a (height, width, channels) uint8 array.

    As the spec asks, a stream that cannot be decoded gives an empty (0, 0, channels) image.
    """
    if pixel_format not in _CHANNELS:
        raise ValueError(f"pixel_format must be RGB, BGR or Grayscale, got {pixel_format!r}")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError(
            "ImageDecoder needs Pillow, an optional dependency: pip install onyx-runtime[image]"
        ) from None
    try:
        with Image.open(io.BytesIO(np.ascontiguousarray(encoded_stream, dtype=np.uint8).tobytes())) as image:
            mode = "L" if pixel_format == "Grayscale" else "RGB"
            pixels = np.asarray(image if image.mode == mode else image.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return np.zeros((0, 0, _CHANNELS[pixel_format]), dtype=np.uint8)
    if pixel_format == "Grayscale":
        return pixels[:, :, np.newaxis]
    if pixel_format == "BGR":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    return pixels
