"""onnxruntime.capi.onnxruntime_inference_collection as onyx provides it: the Python classes."""

from onyx.iobinding import IOBinding
from onyx.ortvalue import OrtDevice, OrtValue
from onyx.session import InferenceSession
from onyx.sparse import SparseTensor

__all__ = ["IOBinding", "InferenceSession", "OrtDevice", "OrtValue", "SparseTensor"]
