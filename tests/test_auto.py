"""backend="auto" between NumPy and Numba: no compile a job does not need (ski rental), and
the timing record that says where a call's time went."""

import itertools
import re

import numpy as np
import pytest

import gpusched as gs
from gpusched import auto
from gpusched.backends import resolve_backend

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
_fresh_ids = itertools.count()


@pytest.fixture
def numba_auto(monkeypatch, tmp_path):
    """auto with Numba usable, an empty kernel cache and nothing rented yet."""
    pytest.importorskip("numba")
    monkeypatch.delenv("GPUSCHED_BACKEND", raising=False)
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path))
    if resolve_backend("auto").name != "numba":
        pytest.skip("auto does not reach numba here (a GPU backend is usable)")
    monkeypatch.setattr(auto, "_rent", auto.OrderedDict())


def _fresh():
    """A schedule whose kernel no earlier test compiled."""
    k = next(_fresh_ids) + 0.5
    return gs.schedule(lambda t, a, T: a * gs.cos(t / T) + k)


def test_a_small_job_runs_on_numpy_without_looking_for_a_kernel(numba_auto, monkeypatch):
    monkeypatch.setattr(auto, "setup_seconds", lambda plan, state, *_: 0.0 if state == "process"
                        else pytest.fail("asked the kernel cache about a tiny job"))
    gs.evaluate(_fresh(), gs.grid(a=[1.0], T=[10.0]), steps=1000)
    rec = gs.last_call()
    assert rec.backend == "numpy" and "faster than a compiled kernel" in rec.why
    assert rec.pairs == 1000 and rec.compile_s == 0.0 and rec.total_s > 0


def test_numpy_until_its_time_would_pay_for_the_compile_then_numba(numba_auto, monkeypatch):
    """Ski rental: each NumPy call adds its estimated time; the call that would take the
    total past Numba's setup compiles instead. Results agree throughout."""
    monkeypatch.setattr(auto, "NUMPY_NS", 10.0)
    monkeypatch.setattr(auto, "NUMBA_NS", 0.0)
    monkeypatch.setattr(auto, "START_S", 0.0)
    monkeypatch.setattr(auto, "CALL_S", 0.0)
    s, g = _fresh(), gs.grid(a=np.linspace(0.1, 1, 50), T=[7.0, 30.0])
    numpy_s = None
    used = []
    for _ in range(8):
        got = gs.reduce(s, g, steps=2000, op="sum", dtype="float64")
        used.append(gs.last_call().backend)
        if used[-1] == "numpy":     # the factorized tables kernel_state made are not kept
            from gpusched.backends.numba_backend import _memo
            assert getattr(_memo, "last", None) is None
        if numpy_s is None:
            from gpusched import api
            *_, plan = api.prepare(s, g, 2000, "float64")
            numpy_s, _ = auto.estimates(plan, len(g) * 2000, 1)
            compile_s = auto.setup_seconds(plan, "none")
            monkeypatch.setattr(auto, "COMPILE_S", (4.5 * numpy_s, 0.0))   # 4.5 calls' worth
        np.testing.assert_allclose(got, gs.reduce(s, g, steps=2000, op="sum", dtype="float64",
                                                  backend="numpy"), rtol=1e-12)
    # the first call saw the calibrated compile cost, more than its NumPy time; then a setup
    # of 4.5 calls' worth: calls 2-4 rent (4 in all), the 5th would pass 4.5 and compiles
    assert compile_s > numpy_s
    assert used[:4] == ["numpy"] * 4 and used[4:] == ["numba"] * 4, used


def test_a_kernel_in_this_process_or_on_disk_changes_the_choice(numba_auto, monkeypatch):
    from gpusched import api, kernel_cache
    monkeypatch.setattr(auto, "CALL_S", 0.0)
    s, g = _fresh(), gs.grid(a=np.linspace(0.1, 1, 40), T=[7.0, 30.0])
    *_, steps, _, bound, plan = api.prepare(s, g, 3000, "float32")
    be = resolve_backend("numba")
    assert be.kernel_state(plan, bound, steps, api.WORK_LIMIT) == "none"
    gs.evaluate(s, g, steps=3000, backend="numba")
    assert gs.last_call().compile_s > 0.05          # generated and compiled
    assert be.kernel_state(plan, bound, steps, api.WORK_LIMIT) == "process"
    monkeypatch.setattr(kernel_cache, "_modules", {})   # as a new process sees the cache
    assert be.kernel_state(plan, bound, steps, api.WORK_LIMIT) == "disk"
    numpy_s, numba_s = auto.estimates(plan, len(g) * 3000, 1)
    monkeypatch.setattr(auto, "LOAD_S", numpy_s / 2)  # a load pays off, a compile would not
    monkeypatch.setattr(auto, "COMPILE_S", (2 * numpy_s, 0.0))
    monkeypatch.setattr(auto, "NUMBA_NS", 0.0)
    assert auto.choose(be, plan, bound, steps, api.WORK_LIMIT)[0] == "numba"
    monkeypatch.setattr(kernel_cache, "_modules", {})
    for f in (tmp for tmp in (kernel_cache.kernel_folder("numba") / "__pycache__").iterdir()):
        f.unlink()
    assert auto.choose(be, plan, bound, steps, api.WORK_LIMIT)[0] == "numpy"


def test_gpusched_backend_and_explicit_names_are_never_second_guessed(numba_auto, monkeypatch):
    s, g = _fresh(), gs.grid(a=[1.0], T=[10.0])
    gs.evaluate(s, g, steps=10, backend="numba")
    assert gs.last_call().backend == "numba" and gs.last_call().why == ""
    monkeypatch.setenv("GPUSCHED_BACKEND", "numba")
    gs.reduce(s, g, steps=10)
    assert gs.last_call().backend == "numba"


def test_verbose_prints_the_record_and_compile_time_is_apart(numba_auto, capsys):
    s, g = _fresh(), gs.grid(a=[1.0, 2.0], T=[10.0])
    gs.evaluate(s, g, steps=100, backend="numba", verbose=True)
    first = gs.last_call()
    err = capsys.readouterr().err
    assert err.strip() == first.summary()
    assert re.match(r"gpusched: 200 values on numba: [0-9.]+ s, of which compiling [0-9.]+ s",
                    err)
    assert 0 < first.compile_s <= first.total_s and first.compute_s < first.total_s
    gs.reduce(s, g, steps=100, backend="numba")          # the same kernel: nothing to compile
    again = gs.last_call()
    assert again.compile_s < first.compile_s / 10
    assert capsys.readouterr().err == ""


def test_predict_loss_weighs_the_law_kernels_compile(numba_auto):
    """gs.predict_loss under auto weighs NumPy's law fold against the fused law kernel and
    that kernel's compile (LAW_COMPILE_S), not the table kernel's: a compiled table kernel
    does not make a small law job compile; once the law kernel is in the process, Numba."""
    k = next(_fresh_ids) + 1.5
    s = gs.schedule(lambda t, a, T: a * (2.0 + gs.cos(t / T)) * k)
    g = gs.grid(a=np.linspace(1e-4, 1e-3, 20), T=[50.0, 500.0])
    law = gs.laws.MultiPower(L0=2.65, A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6, gamma=0.65)
    gs.evaluate(s, g, steps=3000, backend="numba")          # the table kernel: compiled
    first = gs.predict_loss(s, g, steps=3000, law=law)
    rec = gs.last_call()
    assert rec.backend == "numpy", rec.why
    assert f"Numba's setup {auto.LAW_COMPILE_S + auto.CALL_S:.2f} s" in rec.why
    compiled = gs.predict_loss(s, g, steps=3000, law=law, backend="numba")
    again = gs.predict_loss(s, g, steps=3000, law=law)
    assert gs.last_call().backend == "numba"
    np.testing.assert_allclose(compiled, first, rtol=1e-10)
    np.testing.assert_array_equal(again, compiled)
