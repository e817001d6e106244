"""Every cache key, kernel name, module name and Dask key is the full hash of what it stands
for: changing any one input of a key, in one process, gives the right numbers."""

import numpy as np
import pytest

import gpusched as gs
from gpusched import api
from gpusched.backends import available_backends
from gpusched.keys import digest

HAS_NUMBA = available_backends()["numba"][0]
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")


def test_digest_tells_types_shapes_and_values_apart():
    assert digest(1) != digest(1.0) != digest(True)
    assert digest(np.array([1, 2])) != digest(np.array([[1, 2]]))
    assert digest(np.array([1, 2])) != digest(np.array([1.0, 2.0]))
    assert digest("a", "bc") != digest("ab", "c")
    assert len(digest("x")) == 64
    with pytest.raises(TypeError, match="cannot key"):
        digest(object())


@needs_numba
def test_numba_module_key_keeps_the_parameter_kinds():
    # issue 14.1: same graph, int then float parameter, one process
    s = gs.schedule(lambda t, a: gs.minimum(t, a))
    first = gs.evaluate(s, gs.grid(a=[3, 5]), steps=4, backend="numba", dtype="float64")
    np.testing.assert_array_equal(first, [[0, 1, 2, 3], [0, 1, 2, 3]])
    second = gs.evaluate(s, gs.grid(a=[2.5, 4.5]), steps=4, backend="numba", dtype="float64")
    np.testing.assert_array_equal(second, [[0, 1, 2, 2.5], [0, 1, 2, 3]])


def _variants():
    """(label, schedule, grid, steps, dtype): each changes one input of a kernel's key."""
    minimum = gs.schedule(lambda t, a: gs.minimum(t, a) * 0.5)
    cos = gs.compat.torch.CosineAnnealingLR(T_max=50, eta_min=0.001)
    one = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=60)
    yield "int kind", minimum, gs.grid(a=[3, 7]), 9, "float64"
    yield "float kind", minimum, gs.grid(a=[2.5, 6.5]), 9, "float64"
    yield "shared float", minimum.with_values(a=4.5), None, 9, "float64"
    yield "dtype", minimum, gs.grid(a=[2.5, 6.5]), 9, "float32"
    yield "steps", minimum, gs.grid(a=[2.5, 6.5]), np.array([0, 3, 8, 100]), "float64"
    yield "grid", cos, gs.grid(base_lr=[0.1, 0.2], T_max=[10, 20]), 30, "float64"
    yield "other grid", cos, gs.grid(base_lr=[0.3], T_max=[10, 20, 30]), 30, "float64"
    yield "kinds in a list", cos, gs.grid(base_lr=[1, 2], T_max=[10, 20]), 30, "float64"
    yield "strategy cos", one, gs.grid(anneal_strategy=["cos"], max_lr=[0.1, 0.2]), 60, "float64"
    yield "strategy linear", one, gs.grid(anneal_strategy=["linear"], max_lr=[0.1, 0.2]), 60, \
        "float64"
    yield "strategy mixed", one, gs.grid(anneal_strategy=["cos", "linear"], max_lr=[0.1]), 60, \
        "float64"


@needs_numba
@pytest.mark.parametrize("fold", [False, True], ids=["general", "folded choices"])
def test_changing_each_key_input_in_one_process_matches_numpy(fold, monkeypatch):
    if fold:    # fold shared choices even for these small calls
        monkeypatch.setattr(api, "SPECIALIZE_PAIRS", 1)
    for label, s, g, steps, dtype in _variants():
        want = gs.evaluate(s, g, steps=steps, backend="numpy", dtype=dtype)
        got = gs.evaluate(s, g, steps=steps, backend="numba", dtype=dtype)
        assert got.dtype == want.dtype, label
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-12,
                                   err_msg=label)
        red = gs.reduce(s, g, steps=steps, backend="numba", dtype=dtype, op="max")
        np.testing.assert_allclose(red, want.max(axis=-1), rtol=1e-6, err_msg=label)


def test_cuda_function_names_differ_by_parameter_kinds():
    from gpusched.cuda_source import function_name
    from gpusched.plan import compile_plan
    s = gs.schedule(lambda t, a: gs.minimum(t, a))
    names = {function_name(compile_plan(s.expr, {"a": k})) for k in ("int", "float")}
    assert len(names) == 2


dask = pytest.importorskip("dask")


def test_dask_arrays_over_other_grids_or_steps_do_not_share_keys():
    # issue 14.2
    s = gs.compat.torch.StepLR(step_size=3)
    a = gs.dask.evaluate(s, gs.grid(base_lr=[0.1, 0.2]), steps=8, backend="numpy")
    b = gs.dask.evaluate(s, gs.grid(base_lr=[0.3, 0.4]), steps=8, backend="numpy")
    want_a = gs.evaluate(s, gs.grid(base_lr=[0.1, 0.2]), steps=8, backend="numpy")
    want_b = gs.evaluate(s, gs.grid(base_lr=[0.3, 0.4]), steps=8, backend="numpy")
    np.testing.assert_array_equal((a - b).compute(), want_a - want_b)
    x, y = dask.compute(a, b)
    np.testing.assert_array_equal(x, want_a)
    np.testing.assert_array_equal(y, want_b)
    names = set()
    for kw in ({}, {"steps": 9}, {"dtype": "float64"}, {"config_chunks": 1},
               {"grid": gs.grid(base_lr=[1, 2])},
               {"grid": gs.grid(base_lr=[0.1, 0.2], gamma=[0.5])}):
        args = dict(grid=gs.grid(base_lr=[0.1, 0.2]), steps=8, backend="numpy") | kw
        grid = args.pop("grid")
        names.add(gs.dask.evaluate(s, grid, **args).name)
    assert len(names) == 6
    r = {gs.dask.reduce(s, gs.grid(base_lr=g), steps=8, op=op, backend="numpy").name
         for g in ([0.1], [0.2]) for op in ("mean", "max")}
    assert len(r) == 4
    m1 = gs.dask.reduce(s, gs.grid(base_lr=[0.1, 0.2]), steps=8, op="mean", backend="numpy")
    m2 = gs.dask.reduce(s, gs.grid(base_lr=[0.3, 0.4]), steps=8, op="mean", backend="numpy")
    u, v = dask.compute(m1, m2)
    assert not np.array_equal(u, v)
