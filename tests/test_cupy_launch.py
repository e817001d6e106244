"""The CuPy backend's launches without a GPU: a stand-in ``cupy`` module whose RawModule
builds the very text the backend hands to NVRTC as host C++ (g++), and whose kernels run
every (block, thread) of the backend's own launch shape. What this checks: the argument
order and types, the launch shapes, the step-range and explicit-steps paths, the partial
folds of the split reductions, the bad-config flag, and both precisions."""

import ctypes
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import gpusched as gs
from gpusched.cuda_source import REDUCE_OPS, host_launcher_name
from gpusched.kernel_cache import kernels_dir

pytestmark = pytest.mark.skipif(not shutil.which("g++"), reason="needs g++")


class _DeviceArray(np.ndarray):
    def get(self, stream=None, out=None, blocking=True):
        if out is not None:
            out[...] = self
            return out
        return np.asarray(self).copy()


class _Stream:
    """Work on a stream runs at once here; ``record`` gives an event to wait on."""

    def __init__(self, non_blocking=False):
        self.events = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def record(self):
        self.events += 1
        return types.SimpleNamespace(synchronize=lambda: None)


def _dev(a):
    return np.ascontiguousarray(a).view(_DeviceArray)


class _Kernel:
    def __init__(self, dll, template):
        law = re.fullmatch(r"(\w+_law)<(true|false)>", template)
        if law:             # the loss laws' kernel: one thread per config, a 1-D grid
            self.kind = "law"
            self.fn = getattr(dll, f"{law[1]}_host_{'range' if law[2] == 'true' else 'steps'}")
            self.fn.restype = None
            return
        name, kind = re.fullmatch(r"(\w+)_(table|reduce)<.*>", template).groups()
        args = [a.strip() for a in template.split("<", 1)[1].rstrip(">").split(",")]
        op = None if kind == "table" else {v: k for k, v in REDUCE_OPS.items()}[int(args[1])]
        self.kind = kind
        self.fn = getattr(dll, host_launcher_name(name, kind, args[0], op, args[-1] == "true"))
        self.fn.restype = None

    def __call__(self, grid, block, args):
        c_args = []
        for a in args:
            if isinstance(a, np.ndarray):
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            else:
                assert isinstance(a, np.int64), f"a kernel scalar must be np.int64, got {a!r}"
                c_args.append(ctypes.c_longlong(int(a)))
        if self.kind == "law":
            self.fn(ctypes.c_longlong(grid[0]), ctypes.c_longlong(1),
                    ctypes.c_longlong(block[0]), *c_args)
            return
        n_configs = int(args[0])
        gy = n_configs if self.kind == "reduce" else grid[1]   # host folds: one config per row
        assert grid[1] == min(n_configs, 65535) and block[0] % 32 == 0
        self.fn(ctypes.c_longlong(grid[0]), ctypes.c_longlong(gy), ctypes.c_longlong(block[0]),
                *c_args)


class _RawModule:
    built = []
    _dlls: dict = {}     # code -> host build (g++ builds every instantiation at once)

    def __init__(self, code, options, name_expressions):
        import tempfile
        from pathlib import Path
        if code not in self._dlls:
            work = Path(tempfile.mkdtemp())
            (work / "k.cpp").write_text(code)
            subprocess.run(["g++", "-O0", "-std=c++17", "-shared", "-fPIC",
                            f"-I{kernels_dir()}", str(work / "k.cpp"), "-o", str(work / "k.so")],
                           check=True)
            self._dlls[code] = ctypes.CDLL(str(work / "k.so"))
        self.dll = self._dlls[code]
        assert f"-I{kernels_dir()}" in options and "--std=c++17" in options
        _RawModule.built.append(tuple(name_expressions))

    def get_function(self, template):
        return _Kernel(self.dll, template)


@pytest.fixture
def fake_cupy(monkeypatch):
    cp = types.ModuleType("cupy")
    cp.uint64, cp.float64, cp.int64 = np.uint64, np.float64, np.int64
    cp.asarray = _dev
    cp.empty = lambda shape, dtype: _dev(np.empty(shape, dtype))
    cp.zeros = lambda shape, dtype: _dev(np.zeros(shape, dtype))
    cp.full = lambda shape, v, dtype: _dev(np.full(shape, v, dtype))
    cp.RawModule = _RawModule
    cp.__getattr__ = lambda name: getattr(np, name)     # the array functions reductions use
    device = types.SimpleNamespace(attributes={"MultiProcessorCount": 3})
    cp.cuda = types.SimpleNamespace(Device=lambda: device, Stream=_Stream)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    cpx = types.ModuleType("cupyx")
    cpx.empty_pinned = lambda shape, dtype: np.empty(shape, dtype)
    monkeypatch.setitem(sys.modules, "cupyx", cpx)
    from gpusched.backends import cupy_backend
    monkeypatch.setattr(cupy_backend, "_kernels", {})
    _RawModule.built.clear()
    return cupy_backend.CupyBackend()


CASES = [
    ("warmup-cosine (factorized)", __import__("gpusched.bench.workloads", fromlist=["x"])
     .warmup_cosine(), gs.grid(peak=[0.1, 0.3, 1.0], warmup_steps=[10, 50], end_value=[0.0],
                               total=[300, 700])),
    ("onecycle", gs.compat.torch.OneCycleLR(max_lr=0.1),
     gs.grid(total_steps=[300, 1000], three_phase=[False, True])),
    ("multistep (lists)", gs.compat.torch.MultiStepLR(base_lr=0.1),
     gs.trials(milestones=[[10, 50, 90], [30]], gamma=[0.5, 0.1])),
    ("multiplicative (running product)", gs.compat.torch.MultiplicativeLR(
        lr_lambda=lambda e: 0.99), gs.grid(base_lr=[0.1, 0.2])),
]


@pytest.mark.parametrize("label,sched,grid", CASES, ids=[c[0] for c in CASES])
def test_cupy_backend_launches_match_numpy(fake_cupy, label, sched, grid, monkeypatch):
    from gpusched.api import prepare
    be = fake_cupy
    for steps in (np.arange(0, 301), np.array([0, 5, 17, 299, 1200])):
        _, _, st, dt, bound, plan = prepare(sched, grid, steps, "float64")
        want = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numpy")
        got = be.table(plan, bound, st, np.dtype("float64"), work_limit=1 << 26)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=0)
        fast = be.table(plan, bound, st, np.dtype("float32"), work_limit=1 << 26,
                        precision="fast")
        scale = np.abs(want).max(axis=1, keepdims=True)
        assert np.abs(np.asarray(fast) - want).max() <= 1e-5 * scale.max()
    for op in ("sum", "mean", "min", "max", "argmax"):
        want = gs.reduce(sched, grid, steps=1000, op=op, dtype="float64", backend="numpy")
        _, _, st, dt, bound, plan = prepare(sched, grid, 1000, "float64")
        got = be.reduce(plan, bound, st, op, np.dtype("float64"), work_limit=1 << 26)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    # a whole cartesian grid reads the expensive step-dependent nodes from factorized tables;
    # a block of its rows (a chunk) computes them per config
    from gpusched.engine.factorized import precompute
    _, _, st, _, bound, plan = prepare(sched, grid, 300, "float64")
    if label.endswith("(factorized)"):
        assert precompute(plan, bound, st, 1 << 26) is not None
    part = bound.rows(1, bound.n)
    assert precompute(plan, part, st, 1 << 26) is None
    want = gs.evaluate(sched, grid, steps=300, dtype="float64", backend="numpy")[1:]
    got = be.table(plan, part, st, np.dtype("float64"), work_limit=1 << 26)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=0)
    # one instantiation per module: only what a call needs is compiled
    assert all(len(x) == 1 for x in _RawModule.built)
    assert any("_table<double, true>" in x[0] for x in _RawModule.built)
    assert any("_table<double, false>" in x[0] for x in _RawModule.built)
    assert any("_fast_table<float" in x[0] for x in _RawModule.built)


def test_cupy_backend_flags_the_first_bad_config(fake_cupy):
    from gpusched.api import prepare
    from gpusched.engine import ScheduleError
    s = gs.schedule(lambda t, a: 1.0 / (t - a))
    grid = gs.grid(a=[-1.0, -2.0, 7.0, 9.0])
    _, _, st, _, bound, plan = prepare(s, grid, 20, "float32")
    with pytest.raises(ScheduleError, match=r"config 2 \(a=7"):
        fake_cupy.table(plan, bound, st, np.dtype("float32"), work_limit=1 << 26)
    with pytest.raises(ScheduleError, match=r"config 2 \(a=7"):
        fake_cupy.reduce(plan, bound, st, "mean", np.dtype("float32"), work_limit=1 << 26)


def test_precision_is_validated_before_any_work():
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=100)
    with pytest.raises(ValueError, match="precision = 'turbo': must be one of exact, fast"):
        gs.evaluate(s, steps=10, precision="turbo")
    with pytest.raises(ValueError, match="needs dtype='float32'"):
        gs.reduce(s, steps=10, precision="fast", dtype="float64")
    # backends without a fast path compute exact values
    np.testing.assert_array_equal(gs.evaluate(s, steps=100, precision="fast", backend="numpy"),
                                  gs.evaluate(s, steps=100, backend="numpy"))


def test_cupy_streams_a_table_in_chunks_through_pinned_buffers(fake_cupy, monkeypatch, tmp_path):
    """Tables larger than device memory: chunks computed on two streams, copied into two
    pinned buffers, handed over in order (the file and the array match NumPy's table)."""
    from gpusched import api
    from gpusched.api import prepare
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=600)
    grid = gs.grid(pct_start=[0.1, 0.2, 0.3, 0.4, 0.5], three_phase=[False, True])
    monkeypatch.setattr(api, "CHUNK_BYTES", 3 * 600 * 4)      # 3 configs per chunk: 4 chunks
    _, _, st, dt, bound, plan = prepare(s, grid, 600, "float32")
    want = gs.evaluate(s, grid, steps=600, backend="numpy")
    seen = []
    chunks = fake_cupy.host_chunks(plan, bound, st, dt, 3, work_limit=1 << 26)
    for c0, c1, host in chunks:
        seen.append((c0, c1))
        np.testing.assert_allclose(host, want[c0:c1], rtol=1e-6)
    assert seen == [(0, 3), (3, 6), (6, 9), (9, 10)]
    out = np.empty_like(want)
    api._fill(out, fake_cupy, plan, bound, st, dt, 1 << 26, False)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    # a bad config is explained once its chunk has arrived
    bad = gs.schedule(lambda t, a: 1.0 / (t - a))
    _, _, st, dt, bound, plan = prepare(bad, gs.grid(a=[-1.0, -2.0, -3.0, 7.0]), 20, "float32")
    from gpusched.engine import ScheduleError
    with pytest.raises(ScheduleError, match=r"config 3 \(a=7"):
        list(fake_cupy.host_chunks(plan, bound, st, dt, 2, work_limit=1 << 26))


def test_evaluate_precision_fast_reaches_every_kernel_running_method(fake_cupy):
    """``precision="fast"`` wraps the backend: table, reduce and the streamed chunks run the
    fast kernels; other attributes are the backend's own."""
    from gpusched import api
    from gpusched.api import prepare
    fast = api._with_precision(fake_cupy, "fast")
    assert fast.name == "cupy" and fast.precisions == ("exact", "fast")
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=300)
    _, _, st, dt, bound, plan = prepare(s, gs.grid(pct_start=[0.2, 0.4]), 300, "float32")
    for got in (fast.table(plan, bound, st, dt, work_limit=1 << 26),
                next(fast.host_chunks(plan, bound, st, dt, 2, work_limit=1 << 26))[2]):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(fake_cupy.table(
            plan, bound, st, dt, work_limit=1 << 26, precision="fast")))
    assert any("_fast_table<float" in x[0] for x in _RawModule.built)
    fast.reduce(plan, bound, st, "sum", dt, work_limit=1 << 26)
    assert any("_fast_reduce<float" in x[0] for x in _RawModule.built)


def test_loss_laws_over_the_cupy_backends_blocks(fake_cupy):
    """gs.predict_loss's block pass over the CuPy backend's table kernels (host builds)."""
    from gpusched.api import prepare
    from gpusched.laws.model import check_at
    from gpusched.laws.predict import fold_blocks
    s = gs.compat.transformers.get_wsd_schedule(num_training_steps=700, min_lr_ratio=0.1)
    g = gs.grid(num_decay_steps=[100, 400], base_lr=[1e-4, 3e-4], num_warmup_steps=[30])
    _, _, st, dt, bound, plan = prepare(s, g, 700, "float64")
    for law in (gs.laws.MultiPower(L0=2.65, A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6,
                                   gamma=0.65),
                gs.laws.Annealing(L0=2.7, A=0.55, alpha=0.52, C=0.48)):
        ends = check_at([699, 350, 31], 700)
        got = fold_blocks(fake_cupy, plan, bound, st, law, ends, dt, law.bind({}, bound.n),
                      1 << 26, None)
        want = gs.predict_loss(s, g, steps=700, law=law, at=ends, backend="numpy")
        np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("steps_given", [False, True])
def test_fused_loss_law_kernel_on_the_cupy_path(fake_cupy, steps_given, monkeypatch):
    """gs.predict_loss's fused CUDA kernel (one thread per config; factorized tables on a
    cartesian grid) as the CuPy backend launches it, run as host C++: equal to the NumPy pass;
    a config with a negative rate is flagged and explained."""
    from gpusched.api import prepare
    from gpusched.laws import LawError, predict
    from gpusched.laws.model import check_at
    if steps_given:     # the steps read from an array, not computed from a range
        monkeypatch.setattr("gpusched.backends.cupy_backend.step_range", lambda steps: None)
    s = gs.compat.transformers.get_wsd_schedule(num_training_steps=700, min_lr_ratio=0.1)
    g = gs.grid(num_decay_steps=[100, 400, 650], base_lr=[1e-4, 3e-4], num_warmup_steps=[30],
                decay_type=["linear", "cosine"])
    _, _, st, dt, bound, plan = prepare(s, g, 700, "float64")
    for law in (gs.laws.MultiPower(L0=2.65, A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6,
                                   gamma=0.65),
                gs.laws.Annealing(L0=2.7, A=0.55, alpha=0.52, C=0.48)):
        ends = check_at([699, 350, 31], 700)
        order = np.argsort(ends, kind="stable")
        got = predict.fused_cupy(plan, bound, st, law, ends, order, dt,
                                  law.bind({}, bound.n), 1 << 26, None)
        want = gs.predict_loss(s, g, steps=700, law=law, at=ends, backend="numpy")
        np.testing.assert_allclose(got, want, rtol=1e-12)
    neg = gs.schedule(lambda t, a: a - 0.001 * t)
    _, _, st, dt, bound, plan = prepare(neg, gs.trials(a=[1.0, 0.1, 0.05]), 200, "float64")
    law = gs.laws.Annealing(L0=2.7, A=0.55, alpha=0.52, C=0.48)
    with pytest.raises(LawError, match=r"config 1 \(a=0.1\), step 101"):
        predict.fused_cupy(plan, bound, st, law, check_at(None, 200), np.array([0]), dt,
                            law.bind({}, 3), 1 << 26, None)


def test_a_changed_header_changes_every_kernel_text(monkeypatch, tmp_path):
    """CuPy's on-disk kernel cache keys on the source text, not on what it includes: the
    text carries gpusched.cuh's hash, so an upgraded header never meets a stale kernel."""
    import hashlib

    from gpusched import cuda_source, kernel_cache
    from gpusched.kernel_check import units
    from gpusched.laws.cuda import law_unit
    (u,) = units([("cos", gs.compat.torch.CosineAnnealingLR(), gs.grid(base_lr=[0.1],
                                                                       T_max=[10]))])
    before = [cuda_source.translation_unit(u.plan, u.layout), law_unit(u.plan, u.layout)]
    header = tmp_path / "gpusched.cuh"
    header.write_bytes((kernel_cache.kernels_dir() / "gpusched.cuh").read_bytes() + b"\n")
    monkeypatch.setattr(kernel_cache, "kernels_dir", lambda: tmp_path)
    cuda_source.header_include.cache_clear()
    try:
        after = [cuda_source.translation_unit(u.plan, u.layout), law_unit(u.plan, u.layout)]
    finally:
        cuda_source.header_include.cache_clear()
    digest = hashlib.sha256(header.read_bytes()).hexdigest()
    for old, new in zip(before, after):
        assert old != new and digest in new and digest not in old
        assert old.split("\n", 1)[1] == new.split("\n", 1)[1]     # only the hash line differs
