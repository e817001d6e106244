"""On a real CUDA device (skipped without one): the GPU backends against NumPy, zero-copy
hand-off, fused reductions."""

import numpy as np
import pytest

import gpusched as gs
from gpusched.examples import check_catalog

pytestmark = pytest.mark.gpu
GPU_BACKENDS = ("cupy", "numba-cuda")
CATALOG = check_catalog()


@pytest.mark.parametrize("name", GPU_BACKENDS)
@pytest.mark.parametrize("entry", CATALOG, ids=[e[0] for e in CATALOG])
def test_gpu_catalog_matches_numpy(name, entry):
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    label, s, g = entry
    steps = np.concatenate([np.arange(0, 2000), [12345, 2 ** 31 + 7]])
    if any(n.op in ("cumprod", "scan") for n in gs.expr.all_nodes(s.expr)):
        steps = steps[steps < 10 ** 5]
    want = gs.evaluate(s, g, steps=steps, dtype="float64", backend="numpy")
    got = gs.to_numpy(gs.evaluate(s, g, steps=steps, dtype="float64", backend=name))
    # CUDA's transcendental functions are within 2 ulp, not correctly rounded
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    f32 = gs.to_numpy(gs.evaluate(s, g, steps=steps, dtype="float32", backend=name))
    np.testing.assert_allclose(f32, want.astype(np.float32), rtol=2e-7, atol=1e-38)
    for op in gs.api.REDUCE_OPS:
        kw = {"threshold": float(np.median(want))} if op.startswith("count") else {}
        red = gs.to_numpy(gs.reduce(s, g, steps=steps, op=op, dtype="float64", backend=name,
                                    **kw))
        ref = gs.reduce(s, g, steps=steps, op=op, dtype="float64", backend="numpy", **kw)
        np.testing.assert_allclose(red, ref, rtol=1e-12, err_msg=op)


def test_cupy_table_goes_to_torch_without_a_copy():
    cupy = pytest.importorskip("cupy")
    pytest.importorskip("torch")
    out = gs.evaluate(gs.compat.torch.CosineAnnealingLR(T_max=10), gs.grid(base_lr=[0.1, 0.2]),
                      steps=100, backend="cupy")
    assert isinstance(out, cupy.ndarray)
    t = gs.to_torch(out)
    assert t.is_cuda and t.data_ptr() == out.data.ptr


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_gpu_table_streams_to_npy_and_dask_blocks_match(name, tmp_path):
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    s = gs.compat.torch.CosineAnnealingLR()
    g = gs.grid(base_lr=np.linspace(0.1, 1.0, 300), T_max=[7, 1000])
    got = gs.evaluate(s, g, steps=5000, backend=name, out=str(tmp_path / "t.npy"))
    np.testing.assert_allclose(got, gs.evaluate(s, g, steps=5000, backend="numpy"), rtol=2e-7)
    lazy = gs.dask.evaluate(s, g, steps=5000, config_chunks=128, backend=name)
    np.testing.assert_array_equal(gs.to_numpy(lazy.compute(scheduler="threads")), got)


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_gpu_every_twin_case_and_huge_steps(name):
    """The hardening cases (every twin) on the device: tables, float32, a reduction."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from catalog_cases import build, cases
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    steps = np.concatenate([np.arange(0, 140), [2 ** 24 + 1, 2 ** 31 + 1]])
    for cid, lib, twin, kw in cases(with_metrics=True):
        sched = build(lib, twin, kw)
        at = steps[steps <= 140] if "metrics" in kw else steps
        want = gs.evaluate(sched, steps=at, dtype="float64", backend="numpy")
        got = gs.to_numpy(gs.evaluate(sched, steps=at, dtype="float64", backend=name))
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300, err_msg=cid)
        f32 = gs.to_numpy(gs.evaluate(sched, steps=at, dtype="float32", backend=name))
        w32 = want.astype(np.float32)
        assert (np.abs(f32.astype(np.float64) - w32) <= 2 * np.spacing(np.abs(w32))).all(), cid
        red = float(gs.to_numpy(gs.reduce(sched, steps=at, op="mean", dtype="float64",
                                          backend=name)))
        assert red == pytest.approx(want.mean(), rel=1e-12), cid


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_gpu_split_reduction_and_step_range(name):
    """A config's steps split over several blocks (2,100 steps: at least two blocks per
    config, also on the simulator), folded per block then on the host; a step range
    computed, not read."""
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=2100)
    g = gs.grid(pct_start=[0.2, 0.45])
    for op in ("sum", "min", "argmax", "count_below"):
        kw = {"threshold": 0.05} if op == "count_below" else {}
        got = gs.to_numpy(gs.reduce(s, g, steps=2100, op=op, dtype="float64", backend=name,
                                    **kw))
        want = gs.reduce(s, g, steps=2100, op=op, dtype="float64", backend="numpy", **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=op)
    at = np.arange(7, 2100, 3)
    np.testing.assert_allclose(
        gs.to_numpy(gs.evaluate(s, g, steps=at, dtype="float64", backend=name)),
        gs.evaluate(s, g, steps=at, dtype="float64", backend="numpy"), rtol=1e-13)
    # a whole cartesian grid: the cosine read from a table over (warmup_steps, total) only
    from gpusched.bench.workloads import warmup_cosine
    w1 = gs.grid(peak=[0.1, 1.0], warmup_steps=[5, 20], end_value=[0.0, 1e-3], total=[200])
    for red in (False, True):
        run = gs.reduce if red else gs.evaluate
        kw = {"op": "mean"} if red else {}
        np.testing.assert_allclose(
            gs.to_numpy(run(warmup_cosine(), w1, steps=200, dtype="float64", backend=name,
                            **kw)),
            run(warmup_cosine(), w1, steps=200, dtype="float64", backend="numpy", **kw),
            rtol=1e-13)


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_gpu_errors_name_the_first_bad_config_and_step(name):
    """Several elements go non-finite at once (one flag per table on CuPy, set with atomicMin
    in the same pass): the error names the first in row-major order, as on the CPU."""
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    # an overflow (not log(-x), which the CUDA simulator turns into a Python exception)
    s = gs.schedule(lambda t, a: a * t * 1e306)
    grid = gs.trials(a=[1e-9, 60.0, 100.0, 1e-9])
    with pytest.raises(ValueError, match=r"inf at config 1 \(a=60.0\), step 3"):
        gs.evaluate(s, grid, steps=4000, dtype="float64", backend=name)
    with pytest.raises(ValueError, match=r"inf at config 0 \(a=1e-09\), step 1"):
        gs.evaluate(s, grid, steps=4000, dtype="float32", backend=name)   # past float32
    ok_rows = gs.to_numpy(gs.evaluate(s, gs.trials(a=[1e-9, 1e-12]), steps=4000,
                                      dtype="float64", backend=name))
    assert np.isfinite(ok_rows).all()


@pytest.mark.parametrize("name", GPU_BACKENDS)
def test_gpu_predict_loss_matches_numpy(name):
    """The loss laws over blocks of a GPU backend's tables equal the NumPy pass."""
    ok, why = gs.backends.available_backends()[name]
    if not ok:
        pytest.skip(why)
    s = gs.compat.transformers.get_wsd_schedule(num_training_steps=600, min_lr_ratio=0.1)
    g = gs.grid(num_decay_steps=[100, 400], base_lr=[1e-4, 3e-4], num_warmup_steps=[30])
    laws = [gs.laws.MultiPower(L0=2.65, A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6,
                               gamma=0.65),
            gs.laws.Annealing(L0=2.7, A=0.55, alpha=0.52, C=0.48)]
    for law in laws:
        want = gs.predict_loss(s, g, steps=600, law=law, at=[599, 300], backend="numpy")
        got = gs.predict_loss(s, g, steps=600, law=law, at=[599, 300], backend=name)
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=type(law).__name__)
