"""Category encoders and map/sequence converters: OneHotEncoder, LabelEncoder, CategoryMapper,
DictVectorizer, CastMap, ZipMap."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from onyx.ops.ml.common import class_labels, index_in
from onyx.ops.registry import kernel

ML = "ai.onnx.ml"


def _strings(values) -> np.ndarray:
    return np.array(list(values), dtype=object)


def _map_values(keys: np.ndarray, values: np.ndarray, default, X, last: bool = False) -> np.ndarray:
    """values[position of x in keys], or default where x is not a key; same shape as X.

    With ``last`` a repeated key maps to its last value and NaN keys match NaN inputs
    (LabelEncoder-4); otherwise the first value wins.
    """
    x = np.asarray(X)
    if keys.dtype == object and x.dtype.kind not in "OUS":
        raise TypeError(f"string keys need a string input, got {x.dtype}")
    found = index_in(x, keys, last=last, nan_matches=last)
    table = np.concatenate([values, np.asarray([default], dtype=values.dtype)])
    return table[np.where(found >= 0, found, len(values))]


@kernel("OneHotEncoder", since=1, domain=ML)
def one_hot_encoder(X, *, cats_int64s=None, cats_strings=None, zeros=1):
    """One more trailing axis of length len(cats); numeric inputs are cast to int64 first."""
    x = np.asarray(X)
    if cats_strings:
        found = index_in(x, _strings(cats_strings))
        n = len(cats_strings)
    elif cats_int64s:
        if x.dtype.kind in "OUS":
            raise TypeError("cats_int64s needs a numeric input")
        found = index_in(x.astype(np.int64), np.asarray(cats_int64s, dtype=np.int64))
        n = len(cats_int64s)
    else:
        raise ValueError("OneHotEncoder needs cats_int64s or cats_strings")
    if not zeros and (found < 0).any():
        raise ValueError("an input value is not among the categories (zeros=0)")
    return (found[..., None] == np.arange(n)).astype(np.float32)


@kernel("LabelEncoder", since=1, domain=ML)
def label_encoder_1(X, *, classes_strings=None, default_int64=-1, default_string="_Unused"):
    """Strings -> their index in classes_strings; int64 -> the class string at that index."""
    classes = _strings(classes_strings or [])
    x = np.asarray(X)
    if x.dtype.kind in "OUS":
        return _map_values(classes, np.arange(len(classes), dtype=np.int64), default_int64, x)
    return _map_values(np.arange(len(classes), dtype=np.int64), classes, default_string, x.astype(np.int64))


def _one_of(kind: str, **given) -> tuple[str, object]:
    present = [(name, value) for name, value in given.items() if value is not None]
    if len(present) != 1:
        raise ValueError(f"exactly one of the {kind}_* attributes must be set, got {[n for n, _ in present] or 'none'}")
    return present[0]


def _label_encode(X, keys, values, defaults: dict, last: bool) -> np.ndarray:
    """LabelEncoder from the chosen keys_*/values_* (name, value) pairs and per-type defaults."""
    key_name, key_value = keys
    value_name, value_value = values
    key_array = {"keys_int64s": lambda v: np.asarray(v, dtype=np.int64),
                 "keys_strings": _strings,
                 "keys_floats": lambda v: np.asarray(v, dtype=np.float32),
                 "keys_tensor": lambda v: np.asarray(v).reshape(-1)}[key_name](key_value)
    value_array = {"values_int64s": lambda v: np.asarray(v, dtype=np.int64),
                   "values_strings": _strings,
                   "values_floats": lambda v: np.asarray(v, dtype=np.float32),
                   "values_tensor": lambda v: np.asarray(v).reshape(-1)}[value_name](value_value)
    if len(key_array) != len(value_array):
        raise ValueError(f"{key_name} has {len(key_array)} entries but {value_name} has {len(value_array)}")
    kind = value_array.dtype.kind
    if defaults.get("tensor") is not None:
        default = np.asarray(defaults["tensor"]).reshape(-1)[0]
    else:
        default = defaults["string"] if kind in "OUS" else defaults["float"] if kind == "f" else defaults["int64"]
    return _map_values(key_array, value_array, default, X, last)


@kernel("LabelEncoder", since=2, domain=ML)
def label_encoder_2(X, *, default_float=-0.0, default_int64=-1, default_string="_Unused", keys_floats=None,
                    keys_int64s=None, keys_strings=None, values_floats=None, values_int64s=None,
                    values_strings=None):
    """Element-wise keys_* -> values_* (a repeated key keeps its first value); unknown elements get
    the default of the values' type."""
    keys = _one_of("keys", keys_floats=keys_floats, keys_int64s=keys_int64s, keys_strings=keys_strings)
    values = _one_of("values", values_floats=values_floats, values_int64s=values_int64s,
                     values_strings=values_strings)
    return _label_encode(X, keys, values, {"float": default_float, "int64": default_int64, "string": default_string},
                         last=False)


@kernel("LabelEncoder", since=4, domain=ML)
def label_encoder_4(X, *, default_float=-0.0, default_int64=-1, default_string="_Unused", default_tensor=None,
                    keys_floats=None, keys_int64s=None, keys_strings=None, keys_tensor=None, values_floats=None,
                    values_int64s=None, values_strings=None, values_tensor=None):
    """As version 2, plus keys/values/default as tensors; a repeated key keeps its last value and
    NaN keys match NaN inputs."""
    keys = _one_of("keys", keys_floats=keys_floats, keys_int64s=keys_int64s, keys_strings=keys_strings,
                   keys_tensor=keys_tensor)
    values = _one_of("values", values_floats=values_floats, values_int64s=values_int64s,
                     values_strings=values_strings, values_tensor=values_tensor)
    return _label_encode(X, keys, values, {"float": default_float, "int64": default_int64,
                                           "string": default_string, "tensor": default_tensor}, last=True)


@kernel("CategoryMapper", since=1, domain=ML)
def category_mapper(X, *, cats_int64s=None, cats_strings=None, default_int64=-1, default_string="_Unused"):
    """Strings -> the paired int64, int64 -> the paired string, defaults where unpaired."""
    ints = np.asarray(cats_int64s or [], dtype=np.int64)
    strings = _strings(cats_strings or [])
    if len(ints) != len(strings):
        raise ValueError(f"cats_int64s has {len(ints)} entries but cats_strings has {len(strings)}")
    x = np.asarray(X)
    if x.dtype.kind in "OUS":
        return _map_values(strings, ints, default_int64, x)
    return _map_values(ints, strings, default_string, x.astype(np.int64))


def _value_dtype(values: list) -> np.dtype:
    """The element type of a map's values: NumPy scalars keep theirs; Python floats are float32
    (map(..., float)), ints int64, anything else str."""
    if not values:
        return np.dtype(np.float32)
    sample = values[0]
    if isinstance(sample, np.generic):
        return sample.dtype
    if isinstance(sample, (bool, int)):
        return np.dtype(np.int64)
    if isinstance(sample, float):
        return np.dtype(np.float32)
    return np.dtype(object)


@kernel("DictVectorizer", since=1, domain=ML)
def dict_vectorizer(X, *, int64_vocabulary=None, string_vocabulary=None):
    """A map -> [1, len(vocabulary)] tensor holding each key's value at the key's vocabulary position."""
    if not isinstance(X, Mapping):
        raise TypeError(f"DictVectorizer expects a map (dict), got {type(X).__name__}")
    vocabulary = _strings(string_vocabulary) if string_vocabulary else np.asarray(int64_vocabulary or [], np.int64)
    keys, values = list(X.keys()), list(X.values())
    dtype = _value_dtype(values)
    out = np.zeros((1, len(vocabulary)), dtype=dtype)
    if dtype == object:
        out[:] = ""
    if keys:
        key_array = _strings(keys) if vocabulary.dtype == object else np.asarray(keys, dtype=np.int64)
        found = index_in(key_array, vocabulary)
        known = found >= 0
        out[0, found[known]] = np.asarray(values, dtype=dtype)[known]
    return out


_CAST_TO = {"TO_FLOAT": np.float32, "TO_INT64": np.int64, "TO_STRING": object}


@kernel("CastMap", since=1, domain=ML)
def cast_map(X, *, cast_to="TO_FLOAT", map_form="DENSE", max_map=1):
    """A map int64 -> value as a [1, n] tensor ordered by key: the values only (DENSE) or placed at
    their key in a row of max_map (SPARSE, absent keys are zero)."""
    if not isinstance(X, Mapping):
        raise TypeError(f"CastMap expects a map (dict), got {type(X).__name__}")
    if cast_to not in _CAST_TO:
        raise ValueError(f"cast_to '{cast_to}' is not one of {', '.join(_CAST_TO)}")
    dtype = _CAST_TO[cast_to]
    keys = np.asarray(sorted(X), dtype=np.int64)
    items = [X[k] for k in keys.tolist()]
    if dtype is object:
        values = _strings(str(v) for v in items)
    else:
        values = np.asarray([float(v) for v in items], dtype=np.float64).astype(dtype)
    if map_form == "DENSE":
        return values.reshape(1, -1)
    if map_form != "SPARSE":
        raise ValueError(f"map_form '{map_form}' is not DENSE or SPARSE")
    if keys.size and (keys.min() < 0 or keys.max() >= max_map):
        raise ValueError(f"SPARSE CastMap keys must lie in [0, {max_map})")
    out = np.zeros((1, max_map), dtype=dtype)
    if dtype is object:
        out[:] = "0"
    out[0, keys] = values
    return out


@kernel("ZipMap", since=1, domain=ML)
def zip_map(X, *, classlabels_int64s=None, classlabels_strings=None):
    """[N, C] scores -> a sequence of N maps {class label: score}."""
    labels = class_labels(classlabels_int64s, classlabels_strings).tolist()
    x = np.asarray(X)
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    if rows.shape[-1] != len(labels):
        raise ValueError(f"ZipMap has {len(labels)} labels for {rows.shape[-1]} columns")
    return [dict(zip(labels, row)) for row in rows.tolist()]
