"""Winograd convolutions F(2x2, 3x3) and F(4x4, 3x3) for 3x3, stride-1, dilation-1 2-D convolutions.

Lavin and Gray's minimal filtering: each ``m`` x ``m`` output tile is ``A^T [(G g G^T) * (B^T d B)] A``
for the (m + 2) x (m + 2) input tile ``d`` it reads and the 3x3 filter ``g``. Over all channels the
elementwise product becomes, per point of the transformed tile, one matrix product
(M, C) @ (C, tiles): (m + 2)^2 batched products do the work of im2col's 9 * m^2 multiplications
per tile, 2.25x (m = 2) or 4x (m = 4) fewer. The filter transform ``G g G^T`` is done once per node
(``prepare``); the input and output transforms are small dense products along one tile axis at a
time, a cache-sized chunk of tile rows at a time.

F(4x4, 3x3)'s transforms have larger coefficients (up to 8 in A, 5 in B), so its float32 results
carry a few times the rounding error of a direct sum (see docs/benchmark.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx.ops.window import pad_spatial


@dataclass(frozen=True)
class WinogradTransforms:
    """B^T (a x a), G (a x 3) and A^T (m x a) of F(m x m, 3 x 3), a = m + 2."""

    tile: int
    BT: np.ndarray
    G: np.ndarray
    AT: np.ndarray

    @property
    def alpha(self) -> int:
        return self.tile + 2


F2 = WinogradTransforms(
    tile=2,
    BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64),
    G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64),
    AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64),
)
# interpolation points 0, 1, -1, 2, -2 and infinity
F4 = WinogradTransforms(
    tile=4,
    BT=np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=np.float64),
    G=np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=np.float64),
    AT=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                dtype=np.float64),
)

TILE_CHUNK = 1 << 20  # elements of transformed input tiles per chunk of products (4 MB of float32)


def transform_filter(w: np.ndarray, transforms: WinogradTransforms) -> np.ndarray:
    """``G g G^T`` of every 3x3 filter of ``w`` (M, C, 3, 3), as (a*a, M, C) in w's type
    (computed in float64: the transform's fractions add no rounding of their own)."""
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"Winograd F({transforms.tile}x{transforms.tile}, 3x3) needs 3x3 filters, got {w.shape}")
    G = transforms.G
    u = np.einsum("ik,mckl,jl->ijmc", G, w.astype(np.float64), G)
    return np.ascontiguousarray(u.reshape(transforms.alpha ** 2, *w.shape[:2]).astype(w.dtype))


def winograd_conv(x: np.ndarray, u: np.ndarray, transforms: WinogradTransforms, begin, out,
                  bias: np.ndarray | None = None) -> np.ndarray:
    """The 3x3 stride-1 convolution of ``x`` (N, C, H, W), zero-padded by ``begin`` (the end pads are
    implied by ``out``), by the transformed filters ``u`` (a*a, M, C), plus ``bias``: a fresh
    (N, M, tiles_h * m, tiles_w * m) array whose leading ``out`` block is the result."""
    m, a = transforms.tile, transforms.alpha
    n, c = x.shape[:2]
    mm = u.shape[1]
    th, tw = -(-out[0] // m), -(-out[1] // m)
    dtype = u.dtype
    xp = pad_spatial(x, begin, (th * m + 2, tw * m + 2))
    BT, AT = transforms.BT.astype(dtype), transforms.AT.astype(dtype)
    y = np.empty((n, mm, th, m, tw, m), dtype=dtype)
    s0, s1, s2, s3 = xp.strides
    tiles = np.lib.stride_tricks.as_strided(  # (a, a, C, N, th, tw): the input tiles, overlapping by 2
        xp, (a, a, c, n, th, tw), (s2, s3, s1, s0, s2 * m, s3 * m), writeable=False)
    per_row = a * a * n * tw * max(c, mm)
    rows = max(1, min(th, TILE_CHUNK // per_row))
    gathered = np.empty(a * a * c * n * rows * tw, dtype=dtype)
    rows_bias = None if bias is None else np.asarray(bias, dtype=dtype).reshape(1, mm, 1, 1, 1, 1)
    for r0 in range(0, th, rows):
        r1 = min(th, r0 + rows)
        width = n * (r1 - r0) * tw
        d = gathered[: a * a * c * width].reshape(a, a, c, n, r1 - r0, tw)
        np.copyto(d, tiles[:, :, :, :, r0:r1])
        # B^T d B: along the tile's rows (one product), then its columns (a products)
        v = np.matmul(BT, d.reshape(a, -1)).reshape(a, a, c * width)
        v = np.matmul(BT, v).reshape(a * a, c, width)
        z = np.matmul(u, v)  # (a*a, M, tiles): the work
        # A^T z A, the same way
        z = np.matmul(AT, z.reshape(a, -1)).reshape(m, a, mm * width)
        z = np.matmul(AT, z).reshape(m, m, mm, n, r1 - r0, tw)
        target = y[:, :, r0:r1]  # (N, M, rows, m, tw, m)
        source = z.transpose(3, 2, 4, 0, 5, 1)
        if rows_bias is None:
            np.copyto(target, source)
        else:
            np.add(source, rows_bias, out=target)
    return y.reshape(n, mm, th * m, tw * m)
