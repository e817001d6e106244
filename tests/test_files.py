"""Output files are whole or absent: unique temporary names, atomic replace, cleanup on
SIGTERM, space reserved before writing, every check before any work (issue 14, items 5-7)."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import gpusched as gs
from gpusched import api, cli, files

S = gs.compat.torch.StepLR(step_size=7)


def _grids():
    return [gs.grid(base_lr=np.full(40, v), gamma=[0.5, 0.9]) for v in (0.1, 0.7)]


def test_concurrent_streams_to_one_file_leave_one_whole_table(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "CHUNK_BYTES", 2 * 500 * 4)        # 2 rows a chunk: 40 chunks
    out = str(tmp_path / "t.npy")
    tables = [gs.evaluate(S, g, steps=500, backend="numpy") for g in _grids()]
    errors = []

    def write(g):
        try:
            gs.evaluate(S, g, steps=500, backend="numpy", out=out)
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    for _ in range(3):
        threads = [threading.Thread(target=write, args=(g,)) for g in _grids()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        got = np.load(out)
        assert any(np.array_equal(got, t) for t in tables), "a mix of two tables"
        assert os.listdir(tmp_path) == ["t.npy"]


def test_concurrent_processes_streaming_to_one_file(tmp_path):
    code = textwrap.dedent(f"""
        import sys, numpy as np, gpusched as gs
        from gpusched import api
        api.CHUNK_BYTES = 2 * 500 * 4
        v = float(sys.argv[1])
        gs.evaluate(gs.compat.torch.StepLR(step_size=7),
                    gs.grid(base_lr=np.full(40, v), gamma=[0.5, 0.9]), steps=500,
                    backend="numpy", out={str(tmp_path / 't.npy')!r})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, v]) for v in ("0.1", "0.7")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = np.load(tmp_path / "t.npy")
    tables = [gs.evaluate(S, g, steps=500, backend="numpy") for g in _grids()]
    assert any(np.array_equal(got, t) for t in tables)
    assert os.listdir(tmp_path) == ["t.npy"]


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('schedule = "torch.StepLR(step_size=3, base_lr=0.1)"\n'
                    'steps = 20\n[grid]\ngamma = [0.5, 0.9]\n')
    for suffix in (".csv", ".npz", ".npy"):
        out = tmp_path / f"x{suffix}"
        out.write_bytes(b"previous")

        def boom(*a, **k):
            raise KeyboardInterrupt          # as if killed mid-write
        target = {".csv": "gpusched.outputs.csv.writer", ".npz": "numpy.savez",
                  ".npy": "gpusched.api._fill"}[suffix]
        with monkeypatch.context() as m:
            m.setattr(target, boom)
            with pytest.raises(KeyboardInterrupt):
                cli.main(["eval", str(spec), "--out", str(out)])
        assert out.read_bytes() == b"previous", suffix
        assert sorted(os.listdir(tmp_path)) == sorted(["s.toml", out.name]), suffix
        out.unlink()
    capsys.readouterr()


def test_cli_npy_streams_through_evaluate(tmp_path, monkeypatch):
    spec = tmp_path / "s.toml"
    spec.write_text('schedule = "torch.StepLR(step_size=3, base_lr=0.1)"\n'
                    'steps = 20\n[grid]\ngamma = [0.5, 0.9]\n')
    seen = []
    real = api._stream_to_npy
    monkeypatch.setattr(api, "_stream_to_npy", lambda *a, **k: seen.append(1) or real(*a, **k))
    assert cli.main(["eval", str(spec), "--out", str(tmp_path / "t.npy")]) == 0
    assert seen == [1]
    np.testing.assert_array_equal(
        np.load(tmp_path / "t.npy"),
        gs.evaluate(gs.compat.torch.StepLR(step_size=3, base_lr=0.1), gs.grid(gamma=[0.5, 0.9]),
                    steps=20))


def test_streamed_npy_without_grid_has_the_in_memory_shape(tmp_path):
    got = gs.evaluate(S.with_values(base_lr=0.1), steps=30, out=str(tmp_path / "t.npy"))
    assert got.shape == (30,) == gs.evaluate(S.with_values(base_lr=0.1), steps=30).shape
    assert np.load(tmp_path / "t.npy").shape == (30,)


def test_a_full_disk_is_refused_before_writing(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(ValueError, match="does not fit on the disk"):
        gs.evaluate(S, _grids()[0], steps=100, out=str(tmp_path / "t.npy"))
    assert os.listdir(tmp_path) == []


def test_streamed_file_is_not_sparse(tmp_path):
    gs.evaluate(S, _grids()[0], steps=5000, out=str(tmp_path / "t.npy"))
    st = os.stat(tmp_path / "t.npy")
    assert st.st_blocks * 512 >= st.st_size - 4096


def test_outputs_are_checked_before_any_work(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "d.npy"
    folder.mkdir()
    calls = []
    monkeypatch.setattr(api, "prepare", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match="is a folder"):
        gs.evaluate(S, _grids()[0], steps=10, out=str(folder))
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    spec = tmp_path / "s.toml"
    spec.write_text('schedule = "torch.StepLR(step_size=3, base_lr=0.1)"\nsteps = 5\n')
    assert cli.main(["eval", str(spec), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "needs pyarrow" in capsys.readouterr().err
    assert cli.main(["reduce", str(spec), "--out", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert calls == []


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX")
def test_sigterm_while_streaming_removes_the_temporary_file(tmp_path):
    code = textwrap.dedent(f"""
        import numpy as np, gpusched as gs, sys
        from gpusched import api
        api.CHUNK_BYTES = 4 * 2000 * 4
        real = api._fill
        def slow(target, *a, **k):
            def w(c0, c1, chunk):
                target(c0, c1, chunk)
                print("chunk", flush=True)
                import time; time.sleep(0.05)
            return real(w, *a, **k)
        api._fill = slow
        gs.evaluate(gs.compat.torch.StepLR(step_size=7),
                    gs.grid(base_lr=np.linspace(0.1, 1, 400)), steps=2000, backend="numpy",
                    out={str(tmp_path / 't.npy')!r})
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "chunk"
    assert len(os.listdir(tmp_path)) == 1          # the temporary file, mid-write
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == -signal.SIGTERM
    assert os.listdir(tmp_path) == []


def test_replacing_names_are_unique_per_call(tmp_path):
    with files.replacing(str(tmp_path / "a.csv")) as t1, \
            files.replacing(str(tmp_path / "a.csv")) as t2:
        assert t1 != t2 and t1.endswith(".csv")
        open(t1, "w").write("1")
        open(t2, "w").write("2")
    assert (tmp_path / "a.csv").read_text() == "1"     # the outer block completes last
    assert os.listdir(tmp_path) == ["a.csv"]


def test_a_failed_plot_keeps_the_previous_image(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from gpusched.plotting import plot
    out = tmp_path / "p.png"
    out.write_bytes(b"previous")
    import matplotlib.figure

    def boom(self, fname, **kw):
        with open(fname, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    with pytest.raises(KeyboardInterrupt):
        plot(S.with_values(base_lr=.1), steps=20, out=str(out))
    assert out.read_bytes() == b"previous" and os.listdir(tmp_path) == ["p.png"]
    monkeypatch.undo()
    plot(S.with_values(base_lr=.1), steps=20, out=str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"
