"""The table of operations (gpusched/ops.py) and the two functions added through it alone,
``atan`` and ``sign``, checked against NumPy's own functions on every CPU path (the GPU paths
run them through the check catalog: host C++, nvcc, the simulator)."""

import math

import numpy as np
import pytest

import gpusched as gs
from gpusched import expr as E
from gpusched import ops

T = np.arange(0, 120)


def oracle(a, s, t=T):
    """The schedule below written with NumPy's functions."""
    return a * np.arctan((t - s) / 7.0) + np.sign(t - s) + 0.1 * np.sign(a - 1.0)


def sched():
    return gs.schedule(lambda t, a, s: a * gs.atan((t - s) / 7.0) + gs.sign(t - s)
                       + 0.1 * gs.sign(a - 1.0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_atan_and_sign_match_numpy_on_every_cpu_backend(backend):
    g = gs.grid(a=[0.5, 1.0, 2.0], s=[0, 50])
    got = gs.evaluate(sched(), g, steps=T, dtype="float64", backend=backend)
    want = np.stack([oracle(a, s) for a in (0.5, 1.0, 2.0) for s in (0, 50)])
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_atan_and_sign_for_one_config_at_one_step():
    s = sched()
    for t in (0, 3, 49, 50, 51, 119):
        assert s(t, a=2.0, s=50) == pytest.approx(float(oracle(2.0, 50, t)), rel=1e-15)


def test_numpy_ufuncs_and_specs_reach_the_new_functions():
    traced = gs.schedule(lambda t, a: np.arctan(t / a) + np.sign(t - a))
    got = gs.evaluate(traced, gs.grid(a=[3.0]), steps=10, dtype="float64")[0]
    t = np.arange(10)
    np.testing.assert_allclose(got, np.arctan(t / 3.0) + np.sign(t - 3.0), rtol=1e-15)
    spec = gs.spec.loads('expr("atan(t / 9) * sign(t - 4)")')
    got = gs.evaluate(spec, None, steps=10, dtype="float64")
    np.testing.assert_allclose(np.ravel(got), np.arctan(t / 9) * np.sign(t - 4), rtol=1e-15)


def test_sign_folds_like_numpy():
    assert E.sign(-3).value == -1 and isinstance(E.sign(-3).value, int)
    assert E.sign(2.5).value == 1.0
    zero = E.sign(-0.0).value
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0    # np.sign(-0.0) is 0.0
    assert math.copysign(1.0, float(np.sign(-0.0))) == 1.0
    assert E.sign(True).value == 1 and not isinstance(E.sign(True).value, bool)


def test_sign_of_nan_and_zero_on_the_kernels():
    s = gs.schedule(lambda t, x: gs.sign(x * t) + 2.0)
    for backend in ("numpy", "numba"):
        got = gs.evaluate(s, gs.grid(x=[-0.0, 1.5, -2.0]), steps=3, dtype="float64",
                          backend=backend)
        want = np.sign(np.array([-0.0, 1.5, -2.0])[:, None] * np.arange(3)) + 2.0
        np.testing.assert_array_equal(got, want)


def test_every_traced_operation_has_a_record():
    assert set(E.OPS) == set(ops.OPS)
    for f in ops.FUNCTIONS:
        assert getattr(gs, f.name) is E.FUNCTIONS[f.name]
        assert f.name in gs.__all__ and f.name in gs.spec.FUNCTIONS
        assert f.numpy is not None and f.jax and f.python and f.c


def test_jax_export_of_the_new_functions():
    pytest.importorskip("jax")
    fn = gs.to_jax_fn(sched(), a=2.0, s=50)
    got = np.asarray(fn(T))
    np.testing.assert_allclose(got, oracle(2.0, 50), rtol=1e-6)
