"""Every backend gives the NumPy backend's numbers: the catalog, compositions, traced lambdas,
random parameter draws; plus backend selection and the Numba CUDA simulator."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gpusched as gs
from gpusched.backends import available_backends, resolve_backend
from gpusched.examples import check_catalog

STEPS = np.concatenate([np.arange(0, 300), [1000, 2999, 12345, 2 ** 31 + 7]])
CATALOG = check_catalog()


def steps_for(sched):
    big = any(n.op in ("cumprod", "scan") for n in gs.expr.all_nodes(sched.expr))
    return STEPS[STEPS < 10 ** 5] if big else STEPS


def assert_f64(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def assert_f32(got, want64):
    """Within float32 rounding of the float64 value (one float32 ulp)."""
    want = want64.astype(np.float32)
    ulp = np.spacing(np.abs(want))
    assert (np.abs(got.astype(np.float64) - want) <= ulp).all()


@pytest.mark.parametrize("entry", CATALOG, ids=[e[0] for e in CATALOG])
def test_catalog_matches_numpy(entry, backend):
    label, sched, grid = entry
    steps = steps_for(sched)
    want = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numpy")
    assert_f64(gs.evaluate(sched, grid, steps=steps, dtype="float64", backend=backend), want)
    assert_f32(gs.evaluate(sched, grid, steps=steps, dtype="float32", backend=backend), want)
    for op in ("sum", "min", "max", "last", "argmin", "argmax", "count_above"):
        kw = {"threshold": float(np.median(want))} if op == "count_above" else {}
        red = gs.reduce(sched, grid, steps=steps, op=op, dtype="float64", backend=backend, **kw)
        ref = gs.reduce(sched, grid, steps=steps, op=op, dtype="float64", backend="numpy", **kw)
        np.testing.assert_allclose(red, ref, rtol=1e-12, err_msg=op)


positive = st.floats(1e-6, 10.0, allow_nan=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.lists(positive, min_size=1, max_size=4), T=st.integers(1, 500),
       eta=st.floats(0, 1e-3), W=st.integers(0, 50), M=st.integers(51, 400),
       seed=st.integers(0, 2 ** 40))
def test_random_draws_numba_matches_numpy(base, T, eta, W, M, seed):
    if "numba" not in available_backends() or not available_backends()["numba"][0]:
        pytest.skip("numba is not installed")
    cases = [
        (gs.compat.torch.CosineAnnealingLR(), gs.grid(base_lr=base, T_max=[T], eta_min=[eta])),
        (gs.compat.d2l.CosineScheduler(), gs.grid(base_lr=base, max_update=[M], warmup_steps=[W])),
        (gs.compat.yolox.get_lr_scheduler(min_lr=1e-5), gs.grid(   # lr > min_lr: decays
            lr_decay_type=["cos", "step"], lr=[b + 2e-5 for b in base], total_iters=[M])),
        (gs.compat.warmboot.CosineAnnealingWarmbootingLR(), gs.trials(
            base_lr=base[:1], epochs=[M], steps=[[W + 1, T % M + 1, M - 1]], batchs=[W % 5],
            warmup_epoch=[W % 7])),
        (gs.compat.multiscale.BatchResize(), gs.trials(
            batch_resize_range=[[320, 320 + 16 * (T % 40)]], seed=[seed])),
    ]
    steps = np.concatenate([np.arange(0, 2 * M, 7), [M - 1, M, M + 1, 2 ** 40 + T]])
    for sched, grid in cases:
        want = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numpy")
        got = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numba")
        assert_f64(got, want)
        assert_f32(gs.evaluate(sched, grid, steps=steps, backend="numba"), want)


def test_errors_are_the_same_on_every_backend(backend):
    s = gs.schedule(lambda t, k: (t // k) * 1.0)
    with pytest.raises(ValueError, match=r"division by zero in `\(t // k\)` at config 1 \(k=0\)"):
        gs.evaluate(s, gs.trials(k=[3, 0, 2]), steps=5, backend=backend)
    s = gs.schedule(lambda t, a: gs.log(a - t))
    with pytest.raises(ValueError, match=r"-inf at config 0 \(a=3.0\), step 3"):
        gs.evaluate(s, gs.trials(a=[3.0]), steps=6, backend=backend)


def test_auto_prefers_compiled_backends_and_env_overrides(monkeypatch):
    usable = [n for n, (ok, _) in available_backends().items() if ok]
    best = next(n for n in ("cupy", "numba-cuda", "numba", "numpy") if n in usable)
    monkeypatch.delenv("GPUSCHED_BACKEND", raising=False)
    assert resolve_backend("auto").name == best
    monkeypatch.setenv("GPUSCHED_BACKEND", "numpy")
    assert resolve_backend("auto").name == "numpy"
    monkeypatch.setenv("GPUSCHED_BACKEND", "bogus")
    with pytest.raises(ValueError, match="unknown backend 'bogus'"):
        resolve_backend("auto")


def test_gpu_backends_say_why_they_are_unusable():
    for name in ("cupy", "numba-cuda"):
        ok, why = available_backends()[name]
        if not ok:
            assert why
            with pytest.raises(RuntimeError, match=f"backend '{name}' is not usable here"):
                resolve_backend(name)


SIM_SCRIPT = r"""
import json, warnings, numpy as np, gpusched as gs
from gpusched.examples import check_catalog
from gpusched.backends import resolve_backend
warnings.simplefilter("ignore")
assert resolve_backend("auto").name == "numba-cuda"
steps = np.concatenate([np.arange(0, 24), [1000, 12345]])
report = {}
for label, s, g in check_catalog():
    want = gs.evaluate(s, g, steps=steps, dtype="float64", backend="numpy")
    got = np.asarray(gs.evaluate(s, g, steps=steps, dtype="float64", backend="numba-cuda"))
    f32 = np.asarray(gs.evaluate(s, g, steps=steps, dtype="float32", backend="numba-cuda"))
    red = np.concatenate([np.asarray(gs.reduce(s, g, steps=steps, op=op, dtype="float64",
                                               backend="numba-cuda")) for op in ("sum", "argmax")])
    ref = np.concatenate([gs.reduce(s, g, steps=steps, op=op, dtype="float64", backend="numpy")
                          for op in ("sum", "argmax")])
    rel = lambda a, b: float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
    f32_ok = bool((np.abs(f32.astype(np.float64) - want.astype(np.float32))
                   <= np.spacing(np.abs(want.astype(np.float32)))).all())
    report[label] = [rel(got, want), rel(np.asarray(red), ref), f32_ok]
try:
    gs.evaluate(gs.schedule(lambda t, k: (t // k) * 1.0), gs.trials(k=[3, 0]), steps=4,
                backend="numba-cuda")
except ValueError as e:
    report["error"] = str(e)
print(json.dumps(report))
"""


def test_numba_cuda_kernels_in_the_simulator(tmp_path):
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", GPUSCHED_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", SIM_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "division by zero" in report.pop("error")
    assert set(report) == {e[0] for e in CATALOG}
    for label, (table_err, reduce_err, f32_ok) in report.items():
        assert table_err <= 1e-12 and reduce_err <= 1e-12 and f32_ok, label


def test_factorized_grids_equal_the_per_config_path(backend):
    """A cartesian grid is evaluated factorized (expensive step-dependent sub-expressions over
    only their axes); the same configs as explicit trials take the per-config path."""
    from gpusched.engine.factorized import precompute
    from gpusched.binding import bind
    from gpusched.plan import compile_plan
    s = gs.schedule(lambda t, peak, W, T, seed, gamma:
                    gs.where(t < W, peak * t / W, peak * 0.5 * (1 + gs.cos(gs.pi * (t - W) / T)))
                    * gs.exp(-gamma * gs.sqrt(t + 1.0)) * (1 + 0.01 * gs.random_uniform(seed, t)))
    g = gs.grid(peak=[0.1, 0.3, 1.0], W=[0, 10, 50], T=[100, 777], seed=[1, 2], gamma=[0.0, 1e-3])
    steps = np.concatenate([np.arange(0, 900, 3), [12345, 2 ** 33]])
    b = bind(s, g)
    pre = precompute(compile_plan(s.expr, b.dtypes), b, steps, 1 << 26)
    assert pre is not None and len(pre.nodes) >= 3          # cos, exp/sqrt, random
    as_trials = gs.trials(list(g))
    # tables come from NumPy's ufuncs, the per-config Numba path from libm: ulps apart
    rows = gs.evaluate(s, as_trials, steps=steps, dtype="float64", backend=backend)
    assert_f64(gs.evaluate(s, g, steps=steps, dtype="float64", backend=backend), rows)
    assert_f32(gs.evaluate(s, g, steps=steps, dtype="float32", backend=backend), rows)
    for op in ("mean", "min"):
        np.testing.assert_allclose(gs.reduce(s, g, steps=steps, op=op, dtype="float64",
                                             backend=backend),
                                   gs.reduce(s, as_trials, steps=steps, op=op, dtype="float64",
                                             backend=backend), rtol=1e-12)


def test_evaluating_from_several_threads_at_once(backend, tmp_path, monkeypatch):
    """Plan, kernel and helper caches are shared between threads; results stay right."""
    from concurrent.futures import ThreadPoolExecutor
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path))     # kernels compile concurrently
    g = gs.grid(base_lr=[0.1, 0.2, 0.3], T=[10, 57])

    def job(k):
        s = gs.schedule(lambda t, base_lr, T: base_lr * (1 + gs.cos(gs.pi * t / T)) / 2 + k)
        return k, gs.evaluate(s, g, steps=300, dtype="float64", backend=backend)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(job, [0, 1, 2, 3, 0, 1, 2, 3]))
    t = np.arange(300)
    for k, table in results:
        for i, cfg in enumerate(g):
            want = cfg["base_lr"] * (1 + np.cos(np.pi * t / cfg["T"])) / 2 + k
            np.testing.assert_allclose(table[i], want, rtol=1e-15)


def test_numba_cuda_records_the_first_bad_step_atomically(cuda_simulator_run):
    """Many GPU threads share a row: the bad step is an atomic min, not the last writer
    (issue 14.11); on the simulator, several bad steps name the first."""
    pytest.importorskip("numba.cuda")
    from gpusched import codegen
    from gpusched.backends.numba_backend import module_source
    from gpusched.binding import bind
    from gpusched.plan import compile_plan
    s = gs.schedule(lambda t, k: (t // (k - t % 5)) * 1e306 * t)
    plan = compile_plan(s.expr, bind(s, gs.trials(k=[7])).dtypes)
    src = module_source(plan, codegen.Layout.of(plan, {"k": "int"}), plan.signature, "cuda")
    table = src.split("def gs_table")[1].split("def gs_reduce")[0]
    assert table.count("cuda.atomic.min(errstep, c, j)") >= 2      # domain error, non-finite
    assert "errstep[c] = j" not in table
    from conftest import simulated
    run = cuda_simulator_run
    assert simulated(run, "test_gpu_errors_name_the_first_bad_config_and_step"), \
        run.stdout[-3000:] + run.stderr[-2000:]


def test_driver_probe_spawns_nothing_and_runs_once(monkeypatch):
    """``ctypes.util.find_library`` spawned ldconfig/gcc on every `auto` call (30-40 ms)."""
    import subprocess
    from gpusched.backends import cuda_driver_present

    def no_spawn(*a, **k):
        raise AssertionError("the driver probe spawned a process")
    monkeypatch.setattr(subprocess, "Popen", no_spawn)
    cuda_driver_present.cache_clear()
    first = cuda_driver_present()
    assert cuda_driver_present() is first and cuda_driver_present.cache_info().hits == 1


def test_auto_asks_the_backends_once_per_process(monkeypatch):
    """Finding packages on every `auto` call cost half of a small call's time."""
    import importlib.util
    s = gs.compat.torch.StepLR(step_size=3, base_lr=.1)
    first = gs.evaluate(s, steps=50)

    def no_lookup(*a, **k):
        raise AssertionError("a backend was looked up again")
    monkeypatch.setattr(importlib.util, "find_spec", no_lookup)
    np.testing.assert_array_equal(gs.evaluate(s, steps=50), first)
    monkeypatch.undo()
    assert gs.backends.available_backends()["numpy"][0]      # asked afresh
