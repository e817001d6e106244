import os

import numpy as np
import pytest

from gpusched.backends import available_backends


def _usable():
    return [name for name, (ok, _) in available_backends().items() if ok]


@pytest.fixture(params=_usable())
def backend(request):
    """Every usable backend: each cross-backend test runs once per backend."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


def pytest_collection_modifyitems(config, items):
    has_gpu = any(available_backends().get(n, (False, ""))[0] for n in ("cupy", "numba-cuda"))
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_gpu and not os.environ.get("GPUSCHED_FORCE_GPU"):
            item.add_marker(skip)
