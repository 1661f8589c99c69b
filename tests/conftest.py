import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _deterministic_module_rng(request):
    """Module-level generators (``RNG`` / ``rng``) restart from a seed derived from the test's
    id, so a test's data never depends on which tests ran before it in its xdist worker."""
    module = request.module
    for name in ("RNG", "rng"):
        if isinstance(getattr(module, name, None), np.random.Generator):
            setattr(module, name, np.random.default_rng(zlib.crc32(request.node.nodeid.encode())))


def pytest_addoption(parser):
    parser.addoption("--numpy-kernels", action="store_true",
                     help="sessions use the NumPy kernels only (ONYX_COMPILED_KERNELS=0): the path of "
                          "installs without the [fast] extra")


def pytest_configure(config):
    # plans run as generated code from their first run, so every model of the suites runs through it
    # (sessions walk a plan's steps for their first runs: tests/test_straight_line.py pins that)
    from onyx.runtime import straight_line

    straight_line.COMPILE_AFTER_RUNS = 0
    if config.getoption("--numpy-kernels"):
        import os

        os.environ["ONYX_COMPILED_KERNELS"] = "0"
