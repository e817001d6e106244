"""Integer sub-expressions that can leave int64 are found before any work (issue 14.4):
computed in float64 where a float is fine, refused where an integer is required."""

import numpy as np
import pytest

import gpusched as gs
from gpusched.backends import available_backends
from gpusched.ranges import _outward

BACKENDS = ["numpy"] + (["numba"] if available_backends()["numba"][0] else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cube_of_the_step_does_not_wrap(backend):
    s = gs.schedule(lambda t, lr, T: lr * (1 - (t * t * t) / (T * T * T)))
    got = gs.evaluate(s, gs.grid(lr=[0.1], T=[3_000_000]), steps=np.array([0, 2_100_000]),
                      backend=backend, dtype="float64")
    want = 0.1 * (1 - (2_100_000 ** 3) / (3_000_000 ** 3))     # Python's exact integers
    np.testing.assert_allclose(got, [[0.1, want]], rtol=1e-15)
    small = gs.evaluate(s, gs.grid(lr=[0.1], T=[3000]), steps=np.array([2100]),
                        backend=backend, dtype="float64")
    assert small[0, 0] == 0.1 * (1 - (2100 ** 3) / (3000 ** 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_huge_constant_does_not_turn_negative(backend):
    s = gs.spec.loads('expr("t + 9223372036854775807")')
    got = gs.evaluate(s, steps=3, backend=backend, dtype="float64")
    assert (got > 9.2e18).all()
    p = gs.schedule(lambda t, big: t + big)
    got = gs.evaluate(p, gs.grid(big=[2 ** 63 - 1, 5]), steps=3, backend=backend,
                      dtype="float64")
    assert (got[0] > 9.2e18).all() and list(got[1]) == [5, 6, 7]


def test_integers_that_must_stay_integers_are_refused_with_the_expression():
    s = gs.schedule(lambda t, seed: gs.random_uniform(seed * t * t * t, t))
    with pytest.raises(ValueError, match=r"integer overflow: `.*` .*random_uniform"):
        gs.evaluate(s, gs.grid(seed=[2 ** 40]), steps=10 ** 6)
    ok = gs.evaluate(s, gs.grid(seed=[3]), steps=10)
    assert ok.shape == (1, 10)


def test_int_of_a_huge_float_is_refused():
    s = gs.schedule(lambda t, x: gs.to_int(x * t) * 1.0)
    with pytest.raises(ValueError, match="integer overflow"):
        gs.evaluate(s, gs.grid(x=[1e30]), steps=5)


def test_outward_rounding_only_widens():
    for x in (1, 3, 4, 5, 2 ** 62 + 1, -7, 0.3, -0.3, 1e30):
        lo, hi = _outward(x, False), _outward(x, True)
        assert lo <= x <= hi and abs(hi) <= 2 * abs(x) + 1 and type(lo) is type(x)


def test_catalog_schedules_keep_integer_arithmetic():
    """No catalog twin is widened at ordinary sizes: the analysis changes nothing there."""
    from gpusched.binding import bind
    from gpusched.examples import check_catalog
    from gpusched.ranges import widen_overflows
    for label, s, g in check_catalog():
        assert widen_overflows(s.expr, bind(s, g), np.arange(100_000)) is s.expr, label
