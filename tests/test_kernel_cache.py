"""The kernel cache folder is trusted only when it is ours, an unusable one never breaks
`auto`, and a corrupt Numba cache file is rebuilt (issue 14, items 9 and 10)."""

import os
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import gpusched as gs
from gpusched import kernel_cache
from gpusched.backends import available_backends

pytestmark = pytest.mark.skipif(not available_backends()["numba"][0], reason="no numba")


def _fresh(k: float):
    """A schedule whose kernel no other test has loaded (a constant of its own)."""
    return gs.schedule(lambda t, a: a * t + k)


def _files(folder):
    return [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs]


def test_cache_folders_are_created_private(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(root))
    got = gs.evaluate(_fresh(0.125), gs.grid(a=[1.0, 2.0]), steps=5, backend="numba")
    np.testing.assert_allclose(got, [np.arange(5) + 0.125, 2 * np.arange(5) + 0.125])
    for d, _, _ in os.walk(root):
        if "__pycache__" not in d:
            assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert any(f.endswith(".py") for f in _files(root))


@pytest.mark.parametrize("how", ["group-writable", "another owner"])
def test_an_untrusted_cache_folder_is_not_used(tmp_path, monkeypatch, how):
    root = tmp_path / "shared"
    root.mkdir()
    if how == "group-writable":
        os.chmod(root, 0o777)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a folder's owner needs root")
        os.chown(root, 54321, -1)
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(root))
    k = 0.25 if how == "group-writable" else 0.375
    with pytest.warns(RuntimeWarning, match="does not use the kernel cache folder"):
        got = gs.evaluate(_fresh(k), gs.grid(a=[3.0]), steps=4, backend="numba")
    np.testing.assert_allclose(got, [3 * np.arange(4) + k])
    assert _files(root) == [] and os.listdir(root) == []     # nothing read or written there


def test_an_unusable_cache_folder_falls_back_to_numpy_under_auto(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(not_a_folder))
    s, g = _fresh(0.5), gs.grid(a=[1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="not a folder; .*evaluating with NumPy instead"):
        got = gs.evaluate(s, g, steps=6)
    np.testing.assert_array_equal(got, gs.evaluate(s, g, steps=6, backend="numpy"))
    with pytest.raises(kernel_cache.KernelCacheError, match="is not a folder"):
        gs.evaluate(s, g, steps=6, backend="numba")


def test_a_full_cache_disk_is_a_clear_error_or_numpy(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setattr(kernel_cache.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10 ** 9, 10 ** 9, 1000))
    with pytest.raises(kernel_cache.KernelCacheError, match="is full"):
        gs.reduce(_fresh(0.75), gs.grid(a=[1.0]), steps=6, backend="numba")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = gs.reduce(_fresh(0.75), gs.grid(a=[1.0]), steps=6, op="sum")
    assert any("evaluating with NumPy" in str(x.message) for x in w)
    np.testing.assert_allclose(got, [15 + 6 * 0.75])


def test_a_corrupt_numba_cache_file_is_rebuilt(tmp_path):
    code = textwrap.dedent("""
        import numpy as np, gpusched as gs, warnings
        s = gs.schedule(lambda t, a: a * t + 0.875)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            got = gs.evaluate(s, gs.grid(a=[2.0]), steps=4, backend="numba")
        assert np.allclose(got, [[0.875, 2.875, 4.875, 6.875]]), got
        print(sum("corrupt" in str(x.message) for x in w))
    """)
    env = dict(os.environ, GPUSCHED_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.strip()

    assert run() == "0"
    cached = [f for f in _files(tmp_path) if f.endswith((".nbi", ".nbc"))]
    assert cached
    for f in cached:
        with open(f, "r+b") as fh:
            fh.truncate(20)
    assert run() == "1"         # discarded, recompiled, right values
    assert run() == "0"         # and cached again


def test_read_only_inputs_never_compile_a_second_kernel():
    """Numba types read-only arrays apart: a fixed value remembered by the binder, read-only
    steps or a read-only grid column must reach the kernel writeable, or each call pattern
    would compile (and cache) another specialization of the same kernel."""
    pytest.importorskip("numba")

    def signatures():
        return sum(len(m.gs_kernel.signatures) for m in kernel_cache._modules.values()
                   if hasattr(m, "gs_kernel"))
    s = gs.schedule(lambda t, a, b: a * t + b * 0.125 + 3.0)
    s = s.with_values(b=0.5)
    gs.evaluate(s, gs.trials(a=[1.0, 2.0]), steps=5, backend="numba")
    first = signatures()
    ro_steps = np.arange(5)
    ro_steps.flags.writeable = False
    column = np.array([1.0, 3.0])
    column.flags.writeable = False
    for steps, a in ((5, [1.0, 2.0]), (ro_steps, [4.0, 5.0]), (5, column)):
        got = gs.evaluate(s, gs.trials(a=a), steps=steps, backend="numba")
        np.testing.assert_allclose(got, np.asarray(a, dtype=float)[:, None] * np.arange(5)
                                   + 0.0625 + 3.0)
    assert signatures() == first


def test_generated_modules_carry_the_helpers_they_call():
    """Numba's on-disk cache tracks only a module's own file: the helpers' code (and the
    generator they use) is hashed into every generated module's text, so a changed helper
    rewrites the module and invalidates its cached machine code."""
    import hashlib
    from pathlib import Path

    from gpusched import codegen, rng
    from gpusched.backends import scalar_helpers
    from gpusched.backends.numba_backend import module_source
    from gpusched.binding import bind
    from gpusched.plan import compile_plan
    s = gs.compat.torch.StepLR(step_size=3)
    bound = bind(s, gs.grid(base_lr=[0.1]))
    plan = compile_plan(s.expr, bound.dtypes)
    text = module_source(plan, codegen.Layout.of(plan, bound.dtypes), plan.signature, "cpu")
    want = hashlib.sha256(Path(scalar_helpers.__file__).read_bytes()
                          + Path(rng.__file__).read_bytes()).hexdigest()
    assert f"# helpers {want}" in text
