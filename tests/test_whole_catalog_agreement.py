"""The whole catalog through numpy, numba and (on the simulator) numba-cuda in one process,
with hypothesis drawing the twin, the steps, the dtype and, for traced lambdas, whether each
parameter is an int or a float, interleaved: 0 disagreements (issue 14: the class test for
cache keys, in one process where every key must tell the kernels apart)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import sys, warnings
import numpy as np
import gpusched as gs
from hypothesis import given, settings, strategies as st, HealthCheck
sys.path.insert(0, sys.argv[1])
from catalog_cases import build, cases

warnings.simplefilter("ignore")
CASES = cases(with_metrics=True)
BACKENDS = [b for b in ("numba", "numba-cuda") if gs.backends.available_backends()[b][0]]
assert "numba-cuda" in BACKENDS, gs.backends.available_backends()["numba-cuda"]
LAMBDAS = [
    lambda t, a, b: gs.where(t < a, t * b, a * b - (t - a) // 3),
    lambda t, a, b: gs.minimum(t, a) * b + (t % 7) * a,
    lambda t, a, b: b * gs.cos(gs.pi * gs.minimum(t, a) / a) + t // 5,
]
checked = {"twins": set(), "pairs": 0}


def agree(sched, steps, dtype, label):
    want = gs.evaluate(sched, steps=steps, dtype=dtype, backend="numpy")
    for b in BACKENDS:
        got = gs.to_numpy(gs.evaluate(sched, steps=steps, dtype=dtype, backend=b))
        if dtype == "float64":
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, err_msg=f"{label} {b}")
        else:
            w = want.astype(np.float32)
            assert (np.abs(got.astype(np.float64) - w) <= 2 * np.spacing(np.abs(w))).all(), \
                (label, b)
        checked["pairs"] += got.size


@settings(max_examples=int(sys.argv[2]), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(CASES), lam=st.sampled_from(range(len(LAMBDAS))),
       a=st.one_of(st.integers(1, 60), st.floats(1.0, 60.0, allow_nan=False)),
       b=st.one_of(st.integers(-5, 5), st.floats(-5.0, 5.0, allow_nan=False)),
       steps=st.lists(st.integers(0, 140), min_size=1, max_size=12),  # metric series: 141
       dtype=st.sampled_from(["float64", "float32"]))
def check(case, lam, a, b, steps, dtype):
    cid, lib, twin, kw = case
    at = np.array(sorted(set(steps)), dtype=np.int64)
    agree(build(lib, twin, kw), at, dtype, cid)
    checked["twins"].add(cid)
    # the same traced graph with int and float parameters, interleaved with the twins
    agree(gs.schedule(LAMBDAS[lam]).with_values(a=a, b=b), at, dtype,
          f"lambda {lam} a={a!r} b={b!r}")


check()
# every twin once more, in order: nothing drawn twice hides a stale kernel
for cid, lib, twin, kw in CASES:
    agree(build(lib, twin, kw), np.array([0, 1, 7, 40, 140]), "float64", cid)
print(len(CASES), checked["pairs"])
"""


def test_whole_catalog_agrees_on_numpy_numba_and_the_cuda_simulator():
    pytest.importorskip("hypothesis")
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    here = Path(__file__).parent
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(here), "60"], capture_output=True,
                          text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    n_cases, pairs = map(int, proc.stdout.split()[-2:])
    assert n_cases > 90 and pairs > 0
