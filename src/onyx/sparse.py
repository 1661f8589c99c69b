"""SparseTensor: onnxruntime's sparse tensor container (COO and CSR), on the CPU."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument
from onyx.model.types import elem_type_name, elem_type_of
from onyx.ortvalue import check_device, device_type_name


class OrtSparseFormat(IntEnum):
    ORT_SPARSE_UNDEFINED = 0
    ORT_SPARSE_COO = 1
    ORT_SPARSE_CSRC = 2
    ORT_SPARSE_BLOCK_SPARSE = 4


class SparseCooView:
    def __init__(self, indices: np.ndarray):
        self._indices = indices

    def indices(self) -> np.ndarray:
        return self._indices


class SparseCsrView:
    def __init__(self, inner: np.ndarray, outer: np.ndarray):
        self._inner, self._outer = inner, outer

    def inner(self) -> np.ndarray:
        return self._inner

    def outer(self) -> np.ndarray:
        return self._outer


class SparseBlockSparseView:
    def __init__(self, indices: np.ndarray):
        self._indices = indices

    def indices(self) -> np.ndarray:
        return self._indices


def _int64(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != np.int64:
        raise InvalidArgument(f"{name} must be an int64 array, got {array.dtype}")
    return array


class SparseTensor:
    """A sparse tensor: non-zero ``values`` and their indices in a ``dense_shape`` tensor."""

    def __init__(self, fmt: OrtSparseFormat, dense_shape: Any, values: np.ndarray, indices: tuple[np.ndarray, ...], device: str = "cpu"):
        self._format = fmt
        self._dense_shape = [int(d) for d in np.asarray(dense_shape).reshape(-1)]
        self._values = values
        self._indices = indices
        self._device = device

    @staticmethod
    def sparse_coo_from_numpy(dense_shape: Any, values: np.ndarray, coo_indices: np.ndarray, ort_device: Any) -> SparseTensor:
        """COO: ``coo_indices`` holds one flat index per value, or one row of coordinates per value."""
        device = check_device(_device_name(ort_device))
        return SparseTensor(OrtSparseFormat.ORT_SPARSE_COO, dense_shape, np.asarray(values), (_int64("coo_indices", coo_indices),), device)

    @staticmethod
    def sparse_csr_from_numpy(
        dense_shape: Any, values: np.ndarray, inner_indices: np.ndarray, outer_indices: np.ndarray, ort_device: Any
    ) -> SparseTensor:
        """CSR of a 2-D tensor: column indices (inner) and row offsets (outer)."""
        device = check_device(_device_name(ort_device))
        indices = (_int64("inner_indices", inner_indices), _int64("outer_indices", outer_indices))
        return SparseTensor(OrtSparseFormat.ORT_SPARSE_CSRC, dense_shape, np.asarray(values), indices, device)

    def format(self) -> OrtSparseFormat:
        return self._format

    def dense_shape(self) -> list[int]:
        return list(self._dense_shape)

    def values(self) -> np.ndarray:
        return self._values

    def data_type(self) -> str:
        return f"sparse_tensor({elem_type_name(elem_type_of(self._values.dtype))})"

    def device_name(self) -> str:
        return self._device

    def as_coo_view(self) -> SparseCooView:
        self._require(OrtSparseFormat.ORT_SPARSE_COO, "COO")
        return SparseCooView(self._indices[0])

    def as_csrc_view(self) -> SparseCsrView:
        self._require(OrtSparseFormat.ORT_SPARSE_CSRC, "CSR(C)")
        return SparseCsrView(*self._indices)

    def as_blocksparse_view(self) -> SparseBlockSparseView:
        self._require(OrtSparseFormat.ORT_SPARSE_BLOCK_SPARSE, "BlockSparse")
        return SparseBlockSparseView(self._indices[0])

    def to_cuda(self, ort_device: Any) -> SparseTensor:
        check_device(_device_name(ort_device))
        return self

    def _require(self, fmt: OrtSparseFormat, label: str) -> None:
        if self._format != fmt:
            raise InvalidArgument(f"This sparse tensor does not contain {label} format")


def _device_name(ort_device: Any) -> str:
    """'cpu' for an OrtDevice (or anything with onnxruntime's device_type() code 0)."""
    code = ort_device.device_type() if hasattr(ort_device, "device_type") else ort_device
    return device_type_name(code) if isinstance(code, int) else str(code)
