"""Kernels of the ai.onnx.ml domain (classical machine-learning operators)."""
