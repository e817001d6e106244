"""gs.evaluate / gs.reduce: shapes, binding, chunking, memory budget and bad input."""

import numpy as np
import pytest

import gpusched as gs
from gpusched import api

COS = gs.schedule(lambda t, base_lr, T: base_lr * 0.5 * (1 + gs.cos(gs.pi * t / T)))


def closed_form(base_lr, T, steps):
    steps = np.asarray(steps, dtype=np.float64)
    return base_lr * 0.5 * (1 + np.cos(np.pi * steps / T))


def test_shapes_and_steps_forms(backend):
    g = gs.grid(base_lr=[0.1, 0.2, 0.3], T=[10, 20])
    assert gs.evaluate(COS, g, steps=7, backend=backend).shape == (6, 7)
    assert gs.evaluate(COS, g, steps=7, backend=backend).dtype == np.float32
    out = gs.evaluate(COS, g, steps=np.array([0, 5, 19]), dtype="float64", backend=backend)
    for i, cfg in enumerate(g):
        np.testing.assert_allclose(out[i], closed_form(cfg["base_lr"], cfg["T"], [0, 5, 19]),
                                   rtol=1e-15)
    one = gs.evaluate(COS.with_values(base_lr=0.1, T=10), steps=[3, 1], backend=backend)
    assert one.shape == (2,)


def test_grid_overrides_values_given_at_construction():
    s = gs.compat.torch.CosineAnnealingLR(T_max=1000, eta_min=0.0)
    g = gs.grid(base_lr=[0.1], T_max=[10, 1000])
    out = gs.evaluate(s, g, steps=[10], dtype="float64")
    assert out[0, 0] == pytest.approx(0.0, abs=1e-18) and out[1, 0] > 0.09


def test_chunking_gives_the_same_table_as_one_block(monkeypatch):
    g = gs.grid(base_lr=np.linspace(0.1, 1, 37), T=[7, 100, 1000])
    full = gs.evaluate(COS, g, steps=999, dtype="float64")
    from gpusched.engine import interpreter as numpy_backend
    monkeypatch.setattr(numpy_backend, "CHUNK_TARGET", 97)       # many odd-sized chunks
    chunked = gs.evaluate(COS, g, steps=999, dtype="float64")
    np.testing.assert_array_equal(full, chunked)
    monkeypatch.setattr(api, "WORK_LIMIT", 4096)                  # step-only values per chunk
    np.testing.assert_array_equal(full, gs.evaluate(COS, g, steps=999, dtype="float64"))


@pytest.mark.parametrize("op", api.REDUCE_OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduce_equals_the_reduction_of_the_table(op, dtype, backend, monkeypatch):
    from gpusched.engine import interpreter as numpy_backend
    monkeypatch.setattr(numpy_backend, "CHUNK_TARGET", 500)      # many chunks of steps
    g = gs.grid(base_lr=[0.1, 0.5], T=[50, 333, 1000])
    steps = np.arange(3, 2000, 3)
    table = gs.evaluate(COS, g, steps=steps, dtype=dtype, backend=backend).astype(np.float64)
    thr = 0.05
    want = {"sum": table.sum(1), "mean": table.mean(1), "min": table.min(1),
            "max": table.max(1), "last": table[:, -1],
            "argmin": steps[table.argmin(1)], "argmax": steps[table.argmax(1)],
            "count_above": (table > thr).sum(1), "count_below": (table < thr).sum(1)}[op]
    kw = {"threshold": thr} if op.startswith("count") else {}
    got = gs.reduce(COS, g, steps=steps, op=op, dtype=dtype, backend=backend, **kw)
    assert got.shape == (6,)
    if op in ("argmin", "argmax", "count_above", "count_below"):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want)
    else:
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, want.astype(dtype),
                                   rtol=1e-12 if dtype == "float64" else 0)


def test_argmax_is_the_first_step_reaching_the_maximum(backend):
    s = gs.schedule(lambda t: gs.where(t % 10 < 5, 1.0, 0.0))    # maximum reached at 0, 10 ...
    got = gs.reduce(s, steps=np.arange(3, 40), op="argmax", backend=backend)
    assert int(got) == 3
    got = gs.reduce(s, steps=np.arange(5, 40), op="argmax", backend=backend)
    assert int(got) == 10


def test_reduce_arguments_are_checked():
    with pytest.raises(ValueError, match="needs a finite number"):
        gs.reduce(COS, gs.grid(base_lr=[0.1], T=[10]), steps=5, op="count_above")
    with pytest.raises(ValueError, match="only used by count_above"):
        gs.reduce(COS, gs.grid(base_lr=[0.1], T=[10]), steps=5, op="sum", threshold=0.1)
    with pytest.raises(ValueError, match="op = 'median'"):
        gs.reduce(COS, gs.grid(base_lr=[0.1], T=[10]), steps=5, op="median")


def test_reduce_never_allocates_the_table(monkeypatch):
    """A grid whose table is far above memory_limit reduces fine in bounded chunks."""
    g = gs.grid(base_lr=np.linspace(0.1, 1.0, 2000), T=[1000])
    with pytest.raises(ValueError, match=r"gs\.reduce"):
        gs.evaluate(COS, g, steps=100_000, memory_limit=2 ** 20)
    got = gs.reduce(COS, g, steps=100_000, op="max", memory_limit=2 ** 20)
    np.testing.assert_allclose(got, np.linspace(0.1, 1.0, 2000), rtol=1e-6)


def test_absurd_tables_are_refused_before_allocating():
    g = gs.grid(base_lr=np.linspace(0.1, 1, 10 ** 6), T=[10])
    with pytest.raises(ValueError, match=r"would need 3\.73e\+03 GiB"):
        gs.evaluate(COS, g, steps=10 ** 6)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(steps=0), ValueError, "positive number of steps"),
    (dict(steps=-3), ValueError, "positive number of steps"),
    (dict(steps=2.5), TypeError, "must be an int"),
    (dict(steps=True), TypeError, "got a bool"),
    (dict(steps=np.array([0.0, 1.0])), TypeError, "must hold integers"),
    (dict(steps=np.array([[0, 1]])), ValueError, "must be 1-D"),
    (dict(steps=np.array([], dtype=int)), ValueError, "empty"),
    (dict(steps=[0, -1]), ValueError, r"step -1 at position 1"),
    (dict(steps=5, dtype="float16"), ValueError, "dtype"),
    (dict(steps=5, backend="nope"), ValueError, "unknown backend 'nope'"),
    (dict(steps=5, memory_limit=0), ValueError, "memory_limit"),
])
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        gs.evaluate(COS, gs.grid(base_lr=[0.1], T=[10]), **kwargs)


@pytest.mark.parametrize("grid, exc, pattern", [
    (lambda: gs.grid(base_lr=[0.1, float("nan")], T=[10]), ValueError,
     r"'base_lr' = nan at config 1: must be a finite number"),
    (lambda: gs.grid(base_lr=[0.1], T=[10, float("inf")]), ValueError, r"'T' = inf at config 1"),
    (lambda: gs.grid(base_lr=[0.1], T=[10], extra=[1]), ValueError,
     r"unknown parameter 'extra'"),
    (lambda: gs.grid(base_lr=[0.1]), ValueError, r"parameter 'T' .* is required"),
    (lambda: gs.grid(base_lr=[0.1, True], T=[10]), TypeError, r"'base_lr' = True at config 1"),
    (lambda: gs.grid(base_lr=["0.1"], T=[10]), TypeError, r"'base_lr' = '0.1' at config 0"),
    (lambda: gs.trials(base_lr=[0.1, 0.2], T=np.array([10, 0])), ValueError,
     r"integer division by zero|T' = 0|gives (nan|inf|-inf) at config 1"),
])
def test_bad_parameters_name_parameter_value_and_config(grid, exc, pattern):
    with pytest.raises(exc, match=pattern):
        gs.evaluate(COS, grid(), steps=5)


def test_domain_checks_of_twins_name_the_first_bad_config():
    s = gs.compat.torch.CosineAnnealingLR()
    with pytest.raises(ValueError, match=r"'T_max' = 0 at config 2: must be > 0"):
        gs.evaluate(s, gs.grid(T_max=[10, 0], base_lr=[0.1, 0.2]), steps=5)
    d = gs.compat.d2l.CosineScheduler()
    with pytest.raises(TypeError, match=r"'max_update' = 20.0 at config 0: must be an integer"):
        gs.evaluate(d, gs.grid(max_update=[20.0]), steps=5)
    with pytest.raises(ValueError, match=r"'warmup_steps' = -1 \(fixed for every config\)"):
        gs.evaluate(d.with_values(max_update=20, warmup_steps=-1), steps=5)


def test_unsorted_list_where_the_original_needs_sorted():
    s = gs.piecewise_constant()
    g = gs.trials(values=[[1.0, 0.5, 0.1]], boundaries=[[100, 50]])
    with pytest.raises(ValueError, match=r"'boundaries' = \[100, 50\] at config 0: must be sorted"):
        gs.evaluate(s, g, steps=5)


def test_callables_are_accepted_as_schedules():
    got = gs.evaluate(lambda t, a=2.0: a * t, steps=3, dtype="float64")
    np.testing.assert_array_equal(got, [0.0, 2.0, 4.0])


def test_schedule_call_forms():
    s = gs.compat.torch.CosineAnnealingLR(T_max=10, base_lr=1.0)
    assert s(10) == pytest.approx(0.0, abs=1e-16) and s(0) == 1.0
    np.testing.assert_allclose(s(np.array([0, 5]), base_lr=0.5), [0.5, 0.25])
    with pytest.raises(ValueError, match="unknown parameter 'lr'"):
        s.with_values(lr=0.1)
