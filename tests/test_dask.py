"""gs.dask: lazy Dask arrays equal the local results, on Dask's local schedulers."""

import numpy as np
import pytest

import gpusched as gs

dask = pytest.importorskip("dask")

S = gs.compat.d2l.CosineScheduler(final_lr=1e-3)
G = gs.grid(base_lr=np.linspace(0.1, 0.5, 13), max_update=[300, 500], warmup_steps=[0, 40])


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_dask_table_equals_the_local_table(scheduler, backend):
    lazy = gs.dask.evaluate(S, G, steps=700, config_chunks=9, step_chunks=256, backend=backend)
    assert lazy.shape == (52, 700) and lazy.numblocks == (6, 3)
    got = lazy.compute(scheduler=scheduler)
    np.testing.assert_array_equal(got, gs.evaluate(S, G, steps=700, backend=backend))


@pytest.mark.parametrize("op", ["mean", "max", "argmin", "count_below"])
def test_dask_reduce_equals_the_local_reduce(op, backend):
    kw = {"threshold": 0.05} if op == "count_below" else {}
    lazy = gs.dask.reduce(S, G, steps=700, op=op, config_chunks=10, backend=backend, **kw)
    got = lazy.compute(scheduler="threads")
    want = gs.reduce(S, G, steps=700, op=op, backend=backend, **kw)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_dask_validates_before_building_anything():
    with pytest.raises(ValueError, match="warmup_steps must be < max_update"):
        gs.dask.evaluate(S, gs.grid(max_update=[10], warmup_steps=[10]), steps=5)
    with pytest.raises(ValueError, match="needs a finite number"):
        gs.dask.reduce(S, G, steps=5, op="count_above")


def test_dask_is_not_imported_by_gpusched():
    import subprocess
    import sys
    code = "import gpusched, sys; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
