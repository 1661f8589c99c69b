"""Kernels of the com.microsoft (onnxruntime contrib) operators found in optimized and quantized models."""
