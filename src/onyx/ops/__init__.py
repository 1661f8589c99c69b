"""Kernels, one module per operator family; see :mod:`onyx.ops.registry`."""
