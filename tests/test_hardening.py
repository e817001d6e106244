"""Hardening over the whole catalog: property-based checks, the invalid-input matrix,
numerical edge cases. (Concurrency: tests/test_backends.py; specs fuzzing: tests/test_spec.py.)"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import gpusched as gs
from catalog_cases import build, cases

CASES = cases(with_metrics=False)
IDS = [c[0] for c in CASES]
SETTINGS = dict(max_examples=6, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _jitter(sched, rng):
    """Another configuration near the fixed one: each float scaled by 0.5..1.5, each int
    moved by -2..+2 (values outside a domain are rejected by the caller's assume)."""
    out = {}
    for name, v in sched.values.items():
        p = sched.param_specs[name]
        if p.kind == "float" and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = float(v) * float(rng.uniform(0.5, 1.5))
        elif p.kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            out[name] = int(v + rng.integers(-2, 3))
    return out


def _valid(sched, cfg):
    try:
        gs.evaluate(sched.with_values(**cfg), steps=[0, 1], backend="numpy")
        return True
    except ValueError:
        return False


steps_strategy = st.lists(st.integers(0, 4000), min_size=1, max_size=40).map(
    lambda xs: np.array(sorted(set(xs)), dtype=np.int64))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_properties_hold_for_random_configurations(case):
    _, lib, name, kw = case
    sched = build(lib, name, kw)

    @settings(**SETTINGS)
    @given(seed=st.integers(0, 2 ** 32 - 1), steps=steps_strategy)
    def check(seed, steps):
        other = _jitter(sched, np.random.default_rng(seed))
        assume(_valid(sched, other))
        grid = gs.trials([{k: sched.values[k] for k in other}, other]) if other else None
        try:
            t64 = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numpy")
            t32 = np.atleast_2d(gs.evaluate(sched, grid, steps=steps, dtype="float32",
                                            backend="numba")).astype(np.float64)
        except ValueError as err:      # an overflow (a growing exponential): said, not NaN
            assert "gives" in str(err) and "config" in str(err)
            return
        t64 = np.atleast_2d(t64)
        assert np.isfinite(t64).all()
        # backends agree
        nb = np.atleast_2d(gs.evaluate(sched, grid, steps=steps, dtype="float64",
                                       backend="numba"))
        np.testing.assert_allclose(nb, t64, rtol=1e-12, atol=1e-300)
        # float32 is the float32 rounding of float64 (within one float32 ulp)
        want = t64.astype(np.float32)
        assert (np.abs(t32 - want) <= np.spacing(np.abs(want)).astype(np.float64)).all()
        # reductions equal the reduction of the table
        for op, fn in (("mean", np.mean), ("max", np.max), ("min", np.min),
                       ("last", lambda a, axis: a[:, -1])):
            red = np.atleast_1d(gs.reduce(sched, grid, steps=steps, op=op, dtype="float64",
                                          backend="numba"))
            np.testing.assert_allclose(red, fn(t64, axis=1), rtol=1e-12, atol=1e-300)
        # a grid equals its configs one by one (NumPy's vector and scalar pow/exp paths can
        # differ in the last bit, so not bit-equal)
        if grid is not None:
            for i, cfg in enumerate(grid):
                alone = gs.evaluate(sched.with_values(**cfg), steps=steps, dtype="float64",
                                    backend="numpy")
                np.testing.assert_allclose(t64[i], alone, rtol=1e-13, atol=1e-300)
    check()


# ---------------------------------------------------------------------------------------------
# documented shapes: monotone, bounded, periodic
# ---------------------------------------------------------------------------------------------
T = gs.compat.torch


@settings(max_examples=40, deadline=None)
@given(base=st.floats(1e-5, 1.0), ratio=st.floats(0.0, 1.0), T_max=st.integers(1, 3000))
def test_cosine_annealing_is_monotone_bounded_and_periodic(base, ratio, T_max):
    eta = base * ratio
    s = T.CosineAnnealingLR(T_max=T_max, eta_min=eta, base_lr=base)
    steps = np.arange(0, 2 * T_max + 1)
    v = gs.evaluate(s, steps=np.concatenate([steps, steps + 2 * T_max]), dtype="float64")
    first, again = v[:steps.size], v[steps.size:]
    tol = 1e-12 * base
    assert (np.diff(first[:T_max + 1]) <= tol).all()                  # decays to T_max
    assert (first >= eta - tol).all() and (first <= base + tol).all()
    np.testing.assert_allclose(again, first, rtol=1e-9, atol=tol)     # period 2 T_max


@settings(max_examples=40, deadline=None)
@given(max_lr=st.floats(1e-4, 1.0), N=st.integers(10, 5000), pct=st.floats(0.05, 0.95),
       three=st.booleans(), strategy=st.sampled_from(["cos", "linear"]))
def test_one_cycle_stays_between_its_floor_and_max_lr(max_lr, N, pct, three, strategy):
    s = T.OneCycleLR(max_lr=max_lr, total_steps=N, pct_start=pct, three_phase=three,
                     anneal_strategy=strategy)
    try:
        v = gs.evaluate(s, steps=N, dtype="float64")
    except ValueError as err:                    # phase ends colliding: refused up front
        assert "pct_start" in str(err)
        return
    assert v.max() <= max_lr * (1 + 1e-12) and v.min() >= 0.0
    assert v.argmax() <= max(int(pct * N), 1) + 1


@settings(max_examples=30, deadline=None)
@given(T0=st.integers(1, 50), mult=st.integers(1, 4), base=st.floats(1e-4, 1.0))
def test_warm_restarts_restart_exactly_at_cycle_starts(T0, mult, base):
    s = T.CosineAnnealingWarmRestarts(T_0=T0, T_mult=mult, base_lr=base)
    starts, start, length = [], 0, T0
    while start < 5000:
        starts.append(start)
        start, length = start + length, length * mult
    v = gs.evaluate(s, steps=np.array(starts), dtype="float64")
    np.testing.assert_allclose(v, base, rtol=1e-15)       # every restart is the peak


# ---------------------------------------------------------------------------------------------
# the invalid-input matrix: every fixed parameter of every twin, given bad values by a grid
# ---------------------------------------------------------------------------------------------
BAD_NUMBERS = [("nan", float("nan")), ("inf", float("inf")), ("none", None), ("str", "x"),
               ("bool", True)]


def _bad_values(p, v):
    if p.kind == "list":
        return [("list-nan", [float("nan")]), ("list-str", ["a"]), ("scalar", 3.0)]
    if p.kind == "choice":
        return [("unknown", "no-such-choice"), ("number", 1.5), ("none", None)]
    out = list(BAD_NUMBERS)
    if p.kind == "int":
        out.append(("fraction", 2.5))
    return out


def _matrix():
    for cid, lib, name, kw in cases(with_metrics=True):
        sched = build(lib, name, kw)
        for pname in sched.values:
            p = sched.param_specs[pname]
            for label, bad in _bad_values(p, sched.values[pname]):
                if p.kind == "choice" and isinstance(bad, bool) and bool in map(type, p.choices):
                    continue
                yield pytest.param(lib, name, kw, pname, bad, id=f"{cid}-{pname}-{label}")


@pytest.mark.parametrize("lib,name,kw,pname,bad", list(_matrix()))
def test_bad_values_are_refused_naming_parameter_value_and_config(lib, name, kw, pname, bad):
    sched = build(lib, name, kw)
    good = sched.values[pname]
    with pytest.raises((ValueError, TypeError)) as info:
        gs.evaluate(sched, gs.trials(**{pname: [good, bad]}), steps=8)
    msg = str(info.value)
    assert repr(pname) in msg, msg
    assert "config 1" in msg, msg


def test_other_entry_points_refuse_bad_input_before_any_work(tmp_path):
    s = T.StepLR(step_size=10, base_lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        gs.trials([])
    with pytest.raises(ValueError, match="length"):
        gs.trials(base_lr=[0.1, 0.2], gamma=[0.5])
    with pytest.raises(ValueError, match="decay_t"):      # timm needs them sorted
        gs.evaluate(gs.compat.timm.MultiStepLRScheduler(decay_t=[30, 10], base_lr=0.1),
                    steps=5)
    for steps in ([[1, 2]], [0.5, 1.5], -1, [-3, 2], "10"):
        with pytest.raises((ValueError, TypeError)):
            gs.evaluate(s, steps=steps)
    huge = gs.grid(base_lr=np.linspace(0.01, 0.1, 1000), gamma=np.linspace(0.1, 0.9, 100))
    with pytest.raises(ValueError, match="(GiB|TiB|PiB|memory)"):
        gs.evaluate(s, huge, steps=10 ** 9)          # a 400 TB table
    # a failing streamed table leaves nothing under its name
    bad = gs.schedule(lambda t, k: (t // k) * 1.0)
    out = tmp_path / "t.npy"
    with pytest.raises(ValueError, match="division by zero"):
        gs.evaluate(bad, gs.trials(k=[3, 0]), steps=10, out=str(out))
    assert not out.exists() and not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# numerical edges
# ---------------------------------------------------------------------------------------------
EDGE_STEPS = np.array([0, 1, 2 ** 24 - 1, 2 ** 24, 2 ** 24 + 1, 2 ** 31 - 1, 2 ** 31,
                       2 ** 31 + 1, 2 ** 53 - 1, 2 ** 53])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_huge_steps_give_finite_values_or_a_clear_error(case):
    _, lib, name, kw = case
    sched = build(lib, name, kw)
    for dtype in ("float64", "float32"):
        try:
            v = gs.evaluate(sched, steps=EDGE_STEPS, dtype=dtype, backend="numba")
        except ValueError as err:
            assert "step" in str(err) or "running product" in str(err), str(err)
            continue
        assert np.isfinite(v).all(), (dtype, v)
        v64 = gs.evaluate(sched, steps=EDGE_STEPS, dtype="float64", backend="numpy")
        if dtype == "float32":
            want = v64.astype(np.float32)
            assert (np.abs(v.astype(np.float64) - want) <= np.spacing(np.abs(want))).all()


def test_domain_boundaries():
    one = gs.evaluate(T.ExponentialLR(gamma=1.0, base_lr=0.1), steps=[0, 10 ** 9],
                      dtype="float64")
    assert one.tolist() == [0.1, 0.1]
    flat = gs.evaluate(T.CosineAnnealingLR(T_max=10, eta_min=0.1, base_lr=0.1), steps=50,
                       dtype="float64")
    assert np.allclose(flat, 0.1, rtol=0, atol=1e-17)
    period_one = gs.evaluate(T.CosineAnnealingWarmRestarts(T_0=1, base_lr=0.1), steps=20,
                             dtype="float64")
    assert (period_one == 0.1).all()
    no_warmup = gs.evaluate(gs.compat.transformers.get_cosine_schedule_with_warmup(
        0, 100, base_lr=0.1), steps=[0], dtype="float64")
    assert no_warmup[0] == 0.1
    assert gs.evaluate(gs.compat.optax.warmup_cosine_decay_schedule(0.0, 1.0, 0, 10),
                       steps=[0], dtype="float64")[0] == 1.0
    assert math.isclose(gs.evaluate(gs.compat.timm.CosineLRScheduler(t_initial=1, base_lr=0.1),
                                    steps=[0], dtype="float64")[0], 0.1)


def test_every_twin_in_the_numba_cuda_simulator(cuda_simulator_run):
    """The gpu-marked twin check of tests/test_gpu.py, run on the Numba CUDA simulator."""
    from conftest import simulated
    run = cuda_simulator_run
    assert simulated(run, "test_gpu_every_twin_case_and_huge_steps"), \
        run.stdout[-3000:] + run.stderr[-2000:]


def test_split_reduction_in_the_numba_cuda_simulator(cuda_simulator_run):
    """Reductions split over blocks (shared-memory fold, host fold) and computed step ranges
    on the Numba CUDA simulator."""
    from conftest import simulated
    run = cuda_simulator_run
    assert simulated(run, "test_gpu_split_reduction_and_step_range"), \
        run.stdout[-3000:] + run.stderr[-2000:]
