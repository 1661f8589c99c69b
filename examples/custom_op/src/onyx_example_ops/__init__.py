"""Example custom operators for onyx (domain com.example); see kernels.py."""
