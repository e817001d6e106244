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


@pytest.fixture(scope="session")
def cuda_simulator_run(tmp_path_factory):
    """tests/test_gpu.py's every-twin and first-bad-step checks for numba-cuda on the Numba
    CUDA simulator, in one subprocess (the simulator must be chosen before Numba starts):
    one start and one kernel cache for the tests that read its report."""
    import subprocess
    import sys
    from pathlib import Path
    pytest.importorskip("numba.cuda")
    here = Path(__file__).parent
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", GPUSCHED_FORCE_GPU="1",
               GPUSCHED_CACHE_DIR=str(tmp_path_factory.mktemp("cudasim-cache")))
    # one process: the suite's addopts (-n auto) would start workers for three tests
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-o", "addopts=",
                           "-p", "no:cacheprovider",
                           str(here / "test_gpu.py"), "-k",
                           "(every_twin or first_bad or split_reduction or predict_loss) "
                           "and numba-cuda"],
                          capture_output=True, text=True, env=env, timeout=900, cwd=here.parent)


def simulated(run, test_name: str) -> bool:
    """Whether ``test_name`` (numba-cuda parameter) passed in ``cuda_simulator_run``."""
    return f"PASSED tests/test_gpu.py::{test_name}[numba-cuda]" in run.stdout
