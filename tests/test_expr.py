"""The tracer and expression graph: Python semantics, control-flow errors, interning."""

import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gpusched as gs
from gpusched import expr as E


def values(fn, steps, **params):
    """One config's float64 values (params fixed at build time)."""
    return gs.evaluate(gs.schedule(fn, **params), steps=np.asarray(steps), dtype="float64",
                       backend="numpy")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10 ** 9), st.integers(-50, 50).filter(lambda d: d != 0))
def test_integer_floordiv_and_mod_follow_python(t, d):
    got = values(lambda t, d: t // d * 1000 + t % d, [t], d=d)[0]
    assert got == (t // d) * 1000 + t % d


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10 ** 6), st.floats(-50, 50).filter(lambda d: abs(d) > 1e-3))
def test_float_floordiv_and_mod_follow_python(t, d):
    got = values(lambda t, d: t // d, [t], d=d)[0]
    assert got == t // d
    got = values(lambda t, d: t % d, [t], d=d)[0]
    assert got == t % d


def test_arithmetic_matches_python_on_every_operator():
    steps = np.arange(0, 40)
    fns = {
        "add": lambda t, a: t + a, "sub": lambda t, a: a - t, "mul": lambda t, a: t * a,
        "div": lambda t, a: t / a, "neg": lambda t, a: -t * a, "abs": lambda t, a: abs(a - t),
    }
    for name, fn in fns.items():                      # correctly rounded: bit-equal
        got = values(fn, steps, a=2.5)
        want = [fn(int(t), 2.5) for t in steps]
        np.testing.assert_array_equal(got, want, err_msg=name)
    # np.power is not bit-equal to Python's ** on every input (a 1-ulp libm difference)
    got = values(lambda t, a: a ** (t / 10), steps, a=2.5)
    np.testing.assert_allclose(got, [2.5 ** (t / 10) for t in steps], rtol=4e-16)


def test_comparisons_and_where():
    got = values(lambda t, w: gs.where((t >= w) & (t % 2 == 0), 1.0, 0.0), range(10), w=4)
    assert got.tolist() == [1.0 if (t >= 4 and t % 2 == 0) else 0.0 for t in range(10)]


def test_math_functions_match_python_math():
    fns = {"cos": (gs.cos, math.cos), "sin": (gs.sin, math.sin), "sqrt": (gs.sqrt, math.sqrt),
           "floor": (gs.floor, math.floor), "ceil": (gs.ceil, math.ceil)}
    for name, (g, m) in fns.items():
        got = values(lambda t: g(t / 7), range(50))
        want = [float(m(t / 7)) for t in range(50)]
        np.testing.assert_array_equal(got, want, err_msg=name)
    for name, (g, m) in {"exp": (gs.exp, math.exp), "log": (gs.log, math.log),
                         "tanh": (gs.tanh, math.tanh)}.items():
        got = values(lambda t: g(t / 7 + 1), range(50))
        np.testing.assert_allclose(got, [m(t / 7 + 1) for t in range(50)], rtol=1e-15)


def test_numpy_ufuncs_trace_like_gs_functions():
    got = values(lambda t, T: np.maximum(0.0, np.cos(np.pi * t / T)), range(20), T=10)
    want = [max(0.0, math.cos(math.pi * t / 10)) for t in range(20)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-16)


@pytest.mark.parametrize("fn, hint", [
    (lambda t, w: 1.0 if t < w else 0.5, "gs.where"),
    (lambda t, w: max(0.0, 1 - t / w), "gs.maximum"),
    (lambda t, w: min(1.0, t / w), "gs.minimum"),
    (lambda t, w: (t > 1 and t < w) * 1.0, "gs.logical_and"),
    (lambda t, w: 1.0 if 0 < t < w else 0.0, "gs.where"),
])
def test_python_control_flow_raises_a_typeerror_naming_the_replacement(fn, hint):
    with pytest.raises(TypeError, match=hint.replace(".", r"\.")):
        gs.schedule(fn)


def test_math_module_raises_a_typeerror_naming_gs_functions():
    with pytest.raises(TypeError, match=r"gs\.cos"):
        gs.schedule(lambda t: math.cos(t))
    with pytest.raises(TypeError, match=r"gs\.to_int"):
        gs.schedule(lambda t: int(t))


def test_interning_shares_subexpressions_and_structure():
    a = gs.schedule(lambda t, T: gs.cos(gs.pi * t / T) + gs.cos(gs.pi * t / T))
    b = gs.schedule(lambda t, T: gs.cos(gs.pi * t / T) + gs.cos(gs.pi * t / T))
    assert a.expr is b.expr                          # identical graphs are one object
    cos_nodes = [n for n in E.all_nodes(a.expr) if n.op == "cos"]
    assert len(cos_nodes) == 1                       # the repeated cosine is stored once
    c = gs.schedule(lambda t, T: gs.cos(gs.pi * t / T) * 2)
    assert E.signature(a.expr) == E.signature(b.expr) != E.signature(c.expr)


def test_signature_is_stable_across_processes():
    import subprocess
    import sys
    code = ("import gpusched as gs; from gpusched import expr as E; "
            "print(E.signature(gs.schedule(lambda t, T: gs.cos(gs.pi * t / T) * 0.5).expr))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    here = E.signature(gs.schedule(lambda t, T: gs.cos(gs.pi * t / T) * 0.5).expr)
    assert out == here


def test_constant_folding_keeps_kinds():
    assert E.minimum(2, 3.5).value == 2.0 and isinstance(E.minimum(2, 3.5).value, float)
    assert (E.const(7) // 2).value == 3
    assert isinstance((E.const(7) / 2).value, float)
    assert (E.const(1) // 0).op == "floordiv"         # not folded: reported at evaluation


def test_nan_constants_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        gs.schedule(lambda t: t * float("nan"))


def test_integer_division_by_zero_is_a_valueerror_with_the_config():
    s = gs.schedule(lambda t, k: (t // k) * 1.0)
    with pytest.raises(ValueError, match=r"division by zero.*config 1 \(k=0\)"):
        gs.evaluate(s, gs.trials(k=[3, 0, 2]), steps=5)


def test_nan_results_are_reported_with_config_and_step():
    s = gs.schedule(lambda t, a: gs.log(a - t))
    with pytest.raises(ValueError, match=r"-inf at config 0 \(a=3.0\), step 3"):
        gs.evaluate(s, gs.trials(a=[3.0]), steps=6)


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.sub, operator.truediv])
def test_reflected_operators_with_numpy_scalars(op):
    s = gs.schedule(lambda t: op(np.float64(3.0), t + 1))
    got = gs.evaluate(s, steps=5, dtype="float64")
    np.testing.assert_array_equal(got, [op(3.0, t + 1) for t in range(5)])
