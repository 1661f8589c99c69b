"""Turning an image file into a model input (needs Pillow: ``pip install onyx-runtime[image]``).

The input's declared shape says what to make: rank 4 is a batch of one image, NCHW when
the second dimension is 1 or 3 and NHWC when the last one is; rank 3 is CHW or HWC; rank 2
``[1, H*W]`` is a flattened grayscale image with square H = W. Pixels (0..255) become
``(pixel * scale - mean) / std`` per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from onyx.errors import InvalidArgument

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass
class ImageOptions:
    size: tuple[int, int] | None = None  # (height, width); default: from the input's shape
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)


def is_image_file(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def _layout(shape: list) -> tuple[str, int | None, int | None, int | None]:
    """('nchw'|'nhwc'|'flat', channels, height, width) from a declared shape (None: free)."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(dims) == 3:
        dims = [1, *dims]
    if len(dims) == 4:
        if dims[1] in (1, 3) or (dims[1] is not None and dims[3] not in (1, 3)):
            return "nchw", dims[1], dims[2], dims[3]
        if dims[3] in (1, 3):
            return "nhwc", dims[3], dims[1], dims[2]
    if len(dims) == 2 and dims[1] is not None and math.isqrt(dims[1]) ** 2 == dims[1]:
        side = math.isqrt(dims[1])
        return "flat", 1, side, side
    raise InvalidArgument(f"cannot feed an image to an input of shape {shape}: expected NCHW, NHWC, CHW, HWC or [N, H*W]")


def load_image(path: str, name: str, shape: list, dtype: np.dtype, options: ImageOptions) -> np.ndarray:
    """Read, resize and normalize the image at ``path`` for the input ``name`` of ``shape``."""
    try:
        from PIL import Image
    except ImportError:
        raise InvalidArgument("reading image files needs Pillow: pip install 'onyx-runtime[image]'") from None
    layout, channels, height, width = _layout(shape)
    if options.size:
        height, width = options.size
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if height and width and img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32)
    except OSError as exc:
        raise InvalidArgument(f"input '{name}': cannot read image '{path}' ({exc})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    mean = np.asarray(options.mean, np.float32)
    std = np.asarray(options.std, np.float32)
    pixels = (pixels * np.float32(options.scale) - mean) / std
    if layout == "flat":
        batch = pixels.reshape(1, -1)
    elif layout == "nchw":
        batch = pixels.transpose(2, 0, 1)[None]
    else:
        batch = pixels[None]
    if len(shape) == 3:
        batch = batch[0]
    return batch.astype(dtype)
