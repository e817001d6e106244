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


# the longest tests (30-95 s each on the 2-core CI machine): started first, so that the
# workers (pytest-xdist) run them beside the thousands of short ones instead of after them
SLOW_FIRST = ("test_docs_pages.py::", "test_kernels.py::test_check_kernels_compiles",
              "test_integrations.py::test_ray_tune", "test_laws.py::test_annealing_fit",
              "test_jax_export.py::test_every_closed_form", "test_interpreters.py::",
              "test_hardening.py::test_every_twin_in_the_numba_cuda_simulator",
              "test_whole_catalog_agreement.py::")


def pytest_collection_modifyitems(config, items):
    has_gpu = any(available_backends().get(n, (False, ""))[0] for n in ("cupy", "numba-cuda"))
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_gpu and not os.environ.get("GPUSCHED_FORCE_GPU"):
            item.add_marker(skip)
    items.sort(key=lambda item: not any(s in item.nodeid for s in SLOW_FIRST))


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
