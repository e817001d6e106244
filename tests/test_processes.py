"""Processes and threads: a fork after a Numba evaluation works (sweep tools fork workers),
and the CPU kernels' own thread pool gives the same numbers with any thread count."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gpusched as gs
from gpusched.backends import available_backends
from gpusched.backends import workers

needs_numba = pytest.mark.skipif(not available_backends()["numba"][0], reason="no numba")


@needs_numba
def test_fork_pool_after_a_numba_evaluation_returns(tmp_path):
    # issue 14.8: with parallel=True parfors (GNU OpenMP), the forked pool never returned
    code = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, gpusched as gs
        def work(lr):
            return float(gs.evaluate(gs.compat.torch.StepLR(step_size=10),
                                     gs.grid(base_lr=[lr] * 400), steps=3000,
                                     backend="numba").sum())
        if __name__ == "__main__":
            first = work(0.1)
            with mp.get_context("fork").Pool(2) as p:
                got = p.map(work, [0.1, 0.2])
            assert np.allclose(got, [first, 2 * first], rtol=1e-6), got
            print("ok")
    """)
    script = tmp_path / "fork.py"
    script.write_text(code)
    env = dict(os.environ, GPUSCHED_CACHE_DIR=os.environ.get("GPUSCHED_CACHE_DIR", ""))
    if not env["GPUSCHED_CACHE_DIR"]:
        del env["GPUSCHED_CACHE_DIR"]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


@needs_numba
@pytest.mark.parametrize("threads", ["1", "3"])
def test_thread_count_does_not_change_results(threads, monkeypatch):
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=2000)
    g = gs.grid(max_lr=np.linspace(0.01, 0.1, 37), pct_start=[0.1, 0.3])
    want = gs.evaluate(s, g, steps=2000, backend="numpy", dtype="float64")
    monkeypatch.setenv("GPUSCHED_NUM_THREADS", threads)
    got = gs.evaluate(s, g, steps=2000, backend="numba", dtype="float64")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(gs.reduce(s, g, steps=2000, backend="numba", op="sum",
                                         dtype="float64"), want.sum(axis=1), rtol=1e-12)


def test_thread_count_setting_is_validated(monkeypatch):
    monkeypatch.setenv("GPUSCHED_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="GPUSCHED_NUM_THREADS"):
        workers.thread_count()


def test_run_ranges_covers_every_config_once_and_reraises(monkeypatch):
    monkeypatch.setenv("GPUSCHED_NUM_THREADS", "3")
    seen = np.zeros(1000, dtype=int)

    def kernel(c0, c1):
        seen[c0:c1] += 1
    workers.run_ranges(kernel, 1000, 10 ** 6)
    assert (seen == 1).all()

    def bad(c0, c1):
        raise RuntimeError(f"range {c0}")
    with pytest.raises(RuntimeError, match="range"):
        workers.run_ranges(bad, 1000, 10 ** 6)
