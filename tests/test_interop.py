"""Results hand off to torch (and JAX) without copies; device results come back to NumPy."""

import numpy as np
import pytest

import gpusched as gs


def table(backend="numpy"):
    s = gs.compat.torch.CosineAnnealingLR(T_max=100)
    return gs.evaluate(s, gs.grid(base_lr=[0.1, 0.2, 0.3]), steps=257, backend=backend)


def test_cpu_tables_are_64_byte_aligned(backend):
    for dtype in ("float32", "float64"):
        out = gs.evaluate(gs.compat.torch.CosineAnnealingLR(T_max=9),
                          gs.grid(base_lr=[0.1] * 3), steps=7, dtype=dtype, backend=backend)
        assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous


def test_to_torch_shares_memory_with_a_cpu_table(backend):
    torch = pytest.importorskip("torch")
    out = table(backend)
    t = gs.to_torch(out)
    assert isinstance(t, torch.Tensor) and t.data_ptr() == out.ctypes.data
    out[0, 0] = 42.0
    assert float(t[0, 0]) == 42.0


def test_to_numpy_is_identity_on_numpy_and_copies_back_from_dlpack():
    out = table()
    assert gs.to_numpy(out) is out
    torch = pytest.importorskip("torch")
    back = gs.to_numpy(torch.arange(4.0))
    np.testing.assert_array_equal(back, [0.0, 1.0, 2.0, 3.0])


def test_to_jax_without_a_copy():
    jnp = pytest.importorskip("jax.numpy")
    out = table()
    j = gs.to_jax(out)
    np.testing.assert_array_equal(np.asarray(j), out)
    jnp.from_dlpack(out, copy=False)       # raises unless the buffer can be shared


def test_large_tables_reuse_pooled_buffers_only_when_nothing_refers_to_them():
    import gc
    torch = pytest.importorskip("torch")
    from gpusched.interop import POOL_FROM, release_pool
    release_pool()
    s = gs.compat.torch.CosineAnnealingLR(T_max=500)
    g = gs.grid(base_lr=np.linspace(0.01, 1.0, 64))
    steps = POOL_FROM // (64 * 8) + 1000                       # a float64 table above 8 MiB
    a = gs.evaluate(s, g, steps=steps, dtype="float64", backend="numpy")
    ptr = a.ctypes.data
    row = a[7]                                                 # a view keeps the buffer
    want = row.copy()
    del a
    gc.collect()
    b = gs.evaluate(s, g, steps=steps, dtype="float64", backend="numpy")
    assert b.ctypes.data != ptr                                # not handed out again
    b[:] = -1.0
    np.testing.assert_array_equal(row, want)
    t = torch.from_dlpack(b)                                   # a DLPack consumer holds it too
    ptr_b = b.ctypes.data
    del b, row
    gc.collect()
    c = gs.evaluate(s, g, steps=steps, dtype="float64", backend="numpy")
    assert c.ctypes.data != ptr_b and float(t[0, 0]) == -1.0
    assert c.ctypes.data == ptr                                # the first buffer, now free
    np.testing.assert_array_equal(c[7], want)
    del t, c
    gc.collect()
    assert release_pool() >= 2 * 64 * steps * 8


def test_the_host_pool_keeps_little_by_default_and_can_be_turned_off():
    """Sweep tools run many worker processes: the pool keeps 256 MiB idle unless told
    otherwise (it kept 1 GiB per process, issue 17)."""
    import subprocess
    import sys
    from gpusched import interop
    assert interop.POOL_KEEP_BYTES == 256 << 20
    code = ("import gpusched as gs, gpusched.interop as i\n"
            "a = i.aligned_empty((4, 2 ** 20), 'float64'); del a\n"
            "print(i.release_pool())")
    for env, want in (({"GPUSCHED_POOL_BYTES": "0"}, 0), ({}, 32 << 20)):
        import os
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True).stdout
        assert int(out.strip()) == want
