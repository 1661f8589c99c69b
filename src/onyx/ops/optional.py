"""Optional values: None when empty, the value itself otherwise (as onnxruntime returns them)."""

import numpy as np

from onyx.ops.registry import kernel


@kernel("Optional", since=15)
def optional(input=None, *, type=None):
    return input


@kernel("OptionalHasElement", since=15)
def optional_has_element(input=None):
    return np.array(input is not None)


@kernel("OptionalGetElement", since=15)
def optional_get_element(input):
    if input is None:
        raise ValueError("OptionalGetElement on an empty optional")
    return input
