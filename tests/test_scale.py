"""Bounded memory: streaming tables to .npy, filling preallocated arrays, progress."""

import os

import numpy as np
import pytest

import gpusched as gs
from gpusched import api

S = gs.compat.torch.CosineAnnealingLR()
G = gs.grid(base_lr=np.linspace(0.1, 1.0, 50), T_max=[7, 100, 1000])


def test_streamed_npy_has_the_same_bytes_as_the_in_memory_table(tmp_path, backend, monkeypatch):
    monkeypatch.setattr(api, "CHUNK_BYTES", 3 * 1000 * 4)     # 3 rows a chunk: 50 chunks
    table = gs.evaluate(S, G, steps=1000, backend=backend)
    np.save(tmp_path / "ref.npy", table)
    got = gs.evaluate(S, G, steps=1000, backend=backend, out=str(tmp_path / "t.npy"))
    assert isinstance(got, np.memmap) and not got.flags.writeable
    assert (tmp_path / "t.npy").read_bytes() == (tmp_path / "ref.npy").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["ref.npy", "t.npy"]


def test_a_failed_stream_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "CHUNK_BYTES", 2 * 10 * 4)
    s = gs.schedule(lambda t, a: gs.log(a - t))
    g = gs.trials(a=[100.0] * 7 + [3.0] + [100.0] * 4)        # config 7 fails in chunk 4
    with pytest.raises(ValueError, match="config 7"):
        gs.evaluate(s, g, steps=10, out=str(tmp_path / "t.npy"))
    assert os.listdir(tmp_path) == []


def test_stream_checks_name_folder_and_disk_space(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="name it \\*.npy"):
        gs.evaluate(S, G, steps=10, out=str(tmp_path / "t.csv"))
    with pytest.raises(ValueError, match="does not exist"):
        gs.evaluate(S, G, steps=10, out=str(tmp_path / "nope" / "t.npy"))
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 100))
    with pytest.raises(ValueError, match="only 9.31e-08 GiB is free"):
        gs.evaluate(S, G, steps=10, out=str(tmp_path / "t.npy"))


def test_out_array_is_filled_in_place(backend, monkeypatch):
    monkeypatch.setattr(api, "CHUNK_BYTES", 7 * 64 * 8)
    out = np.full((150, 64), -1.0)
    got = gs.evaluate(S, G, steps=64, dtype="float64", out=out, backend=backend)
    assert got is out
    np.testing.assert_array_equal(out, gs.evaluate(S, G, steps=64, dtype="float64"))
    with pytest.raises(ValueError, match=r"shape \(150, 64\) and dtype float32"):
        gs.evaluate(S, G, steps=64, out=out)


def test_progress_bar_on_request_and_silent_by_default(capsys):
    gs.evaluate(S, G, steps=100, progress=True)
    assert "gpusched" in capsys.readouterr().err
    gs.evaluate(S, G, steps=100)
    gs.reduce(S, G, steps=100, op="sum")
    assert capsys.readouterr().err == ""
    gs.reduce(S, G, steps=100, op="sum", progress=True)
    assert "gpusched" in capsys.readouterr().err


def test_out_array_is_filled_in_place_on_the_factorized_path():
    import gpusched as gs
    s = gs.schedule(lambda t, peak, W: gs.where(t < W, peak * t / W,
                                                peak * 0.5 * (1 + gs.cos(gs.pi * t / 500))))
    g = gs.grid(peak=[0.1, 0.2, 0.3], W=[0, 10, 50])
    want = gs.evaluate(s, g, steps=400, dtype="float64", backend="numpy")
    for backend in ("numpy", "numba"):
        out = np.full((9, 400), -1.0)
        got = gs.evaluate(s, g, steps=400, dtype="float64", backend=backend, out=out)
        assert got is out
        np.testing.assert_allclose(out, want, rtol=1e-12)
