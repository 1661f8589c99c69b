"""Signal processing: DFT, STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix.

Complex tensors follow ONNX's convention: a trailing dimension of 2 holds (real, imaginary);
real signals carry a trailing dimension of 1.
"""

from __future__ import annotations

import numpy as np

from onyx.model.types import np_dtype
from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis


def _scalar_int(value: np.ndarray | None, name: str) -> int | None:
    if value is None:
        return None
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"{name} must be a scalar, got shape {value.shape}")
    return int(value.reshape(()))


def _to_complex(x: np.ndarray) -> np.ndarray:
    """[..., 1] real or [..., 2] complex ONNX layout -> NumPy array without the trailing dim."""
    if x.shape[-1] == 1:
        return x[..., 0]
    if x.shape[-1] == 2:
        return x[..., 0] + 1j * x[..., 1].astype(np.float64 if x.dtype == np.float64 else np.float32)
    raise ValueError(f"the last dimension must be 1 (real) or 2 (complex), got shape {x.shape}")


def _from_complex(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Complex NumPy array -> ONNX [..., 2] layout of ``dtype``."""
    out = np.empty(y.shape + (2,), dtype=dtype)
    out[..., 0] = y.real
    out[..., 1] = y.imag
    return out


def _dft(x: np.ndarray, dft_length: int | None, axis: int, inverse: int, onesided: int) -> np.ndarray:
    """DFT along ``axis`` (an axis of ``x`` counted with the trailing complex dim)."""
    rank = x.ndim
    axis = normalize_axis(axis, rank)
    if axis == rank - 1:
        raise ValueError("the DFT axis cannot be the last (complex) dimension")
    dtype = x.dtype
    work = x.astype(np.float32, copy=False) if dtype.itemsize < 4 else x
    signal = _to_complex(work)
    if onesided and not inverse:
        if x.shape[-1] != 1:
            raise ValueError("a onesided forward DFT (RFFT) needs a real input (last dimension 1)")
        return _from_complex(np.fft.rfft(signal, n=dft_length, axis=axis), dtype)
    if onesided:
        n = dft_length if dft_length is not None else 2 * (x.shape[axis] - 1)
        return np.fft.irfft(signal, n=n, axis=axis)[..., None].astype(dtype, copy=False)
    transform = np.fft.ifft if inverse else np.fft.fft
    return _from_complex(transform(signal, n=dft_length, axis=axis), dtype)


@kernel("DFT", since=17)
def dft_17(input, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return _dft(input, _scalar_int(dft_length, "dft_length"), axis, inverse, onesided)


@kernel("DFT", since=20)
def dft_20(input, dft_length=None, axis=None, *, inverse=0, onesided=0):
    axis_value = _scalar_int(axis, "axis")
    return _dft(input, _scalar_int(dft_length, "dft_length"), -2 if axis_value is None else axis_value,
                inverse, onesided)


@kernel("STFT", since=17)
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    """Windowed DFTs of frames ``frame_step`` apart: [batch, frames, bins, 2]."""
    if signal.ndim == 2:
        signal = signal[..., None]
    if signal.ndim != 3:
        raise ValueError(f"STFT signal must have rank 3 ([batch, length, 1 or 2]), got shape {signal.shape}")
    step = _scalar_int(frame_step, "frame_step")
    length = _scalar_int(frame_length, "frame_length")
    if window is not None:
        window = np.asarray(window).reshape(-1)
        if length is not None and length != window.shape[0]:
            raise ValueError(f"window length {window.shape[0]} differs from frame_length {length}")
        length = window.shape[0]
    if length is None:
        length = signal.shape[1]
    if step is None or step <= 0 or not 0 < length <= signal.shape[1]:
        raise ValueError(f"bad STFT frame_step {step} / frame_length {length} for signal length {signal.shape[1]}")
    dtype = signal.dtype
    is_real = signal.shape[-1] == 1
    if onesided and not is_real:
        raise ValueError("a onesided STFT needs a real signal")
    work = _to_complex(signal.astype(np.float32, copy=False) if dtype.itemsize < 4 else signal)
    frames = np.lib.stride_tricks.sliding_window_view(work, length, axis=1)[:, ::step]  # [batch, frames, length]
    if window is not None:
        frames = frames * window.astype(work.real.dtype, copy=False)
    spectrum = np.fft.rfft(frames, axis=-1) if onesided else np.fft.fft(frames, axis=-1)
    return _from_complex(spectrum, dtype)


def _cosine_window(size: np.ndarray, periodic: int, output_datatype: int, coefficients: tuple[float, ...]):
    """sum_k (-1)^k a_k cos(2 pi k n / N) with N = size (periodic) or size - 1 (symmetric)."""
    n = _scalar_int(size, "size")
    if n is None or n < 0:
        raise ValueError(f"window size must be a non-negative scalar, got {size}")
    denominator = n if periodic else n - 1
    phase = 2 * np.pi * np.arange(n, dtype=np.float64) / max(denominator, 1)
    y = np.zeros(n, dtype=np.float64)
    for k, a in enumerate(coefficients):
        y += (-1) ** k * a * np.cos(k * phase)
    return y.astype(np_dtype(output_datatype))


@kernel("HannWindow", since=17)
def hann_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, output_datatype, (0.5, 0.5))


@kernel("HammingWindow", since=17)
def hamming_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, output_datatype, (25 / 46, 21 / 46))


@kernel("BlackmanWindow", since=17)
def blackman_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, output_datatype, (0.42, 0.5, 0.08))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@kernel("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *,
                      output_datatype=1):
    """[dft_length // 2 + 1, num_mel_bins] triangular filters with peak 1, equally spaced on the mel scale.

    Band edges are num_mel_bins + 2 points spaced (high - low) / (num_mel_bins + 2) mels apart, each
    mapped to the spectrogram bin floor((dft_length + 1) * hz / sample_rate), as onnxruntime does.
    """
    bins = _scalar_int(num_mel_bins, "num_mel_bins")
    n_fft = _scalar_int(dft_length, "dft_length")
    rate = float(np.asarray(sample_rate).reshape(()))
    low_mel = _hz_to_mel(float(np.asarray(lower_edge_hertz).reshape(())))
    high_mel = _hz_to_mel(float(np.asarray(upper_edge_hertz).reshape(())))
    if bins <= 0 or n_fft <= 0 or rate <= 0:
        raise ValueError("num_mel_bins, dft_length and sample_rate must be positive")
    mel_step = (high_mel - low_mel) / (bins + 2)
    edges_hz = _mel_to_hz(np.arange(bins + 2) * mel_step + low_mel)
    edges = np.floor((n_fft + 1) * edges_hz / rate).astype(np.int64)
    left, center, right = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    j = np.arange(n_fft // 2 + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = np.where(center > left, (j - left) / (center - left), 1.0)
        falling = (right - j) / (right - center)
    weights = np.where((j >= center) & (j < right), falling, np.where((j >= left) & (j <= center), rising, 0.0))
    return weights.astype(np_dtype(output_datatype))
