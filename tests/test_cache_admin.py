"""The kernel cache as users manage it: `gpusched cache info|clear`, the size bound, the
platform's cache folder."""

import os
import time
from pathlib import Path

import pytest

from gpusched import __version__
from gpusched.cache_admin import info, max_bytes, prune
from gpusched.cli import main
from gpusched.kernel_cache import cache_root


def _kernel(folder: Path, name: str, size: int, age: float) -> list[Path]:
    """A generated module and its Numba cache files, last used ``age`` seconds ago."""
    (folder / "numba" / "__pycache__").mkdir(parents=True, exist_ok=True)
    files = [folder / "numba" / f"{name}.py",
             folder / "numba" / "__pycache__" / f"{name}.gs_kernel-1.py311.nbi",
             folder / "numba" / "__pycache__" / f"{name}.gs_kernel-1.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"x" * size)
        os.utime(f, (time.time() - age, time.time() - age))
    return files


def test_info_and_clear_touch_only_gpusched_version_folders(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path))
    _kernel(tmp_path / f"v{__version__}", "cpu_a", 1000, 0)
    _kernel(tmp_path / "v0.0.1", "cpu_b", 2000, 0)
    (tmp_path / "notes.txt").write_text("the user's own file")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "(this version)" in out and "v0.0.1" in out
    assert [(v.path.name, v.files, v.bytes) for v in info(tmp_path)] == [
        ("v0.0.1", 3, 6000), (f"v{__version__}", 3, 3000)]
    assert main(["cache", "clear"]) == 0
    assert "removed 6 files" in capsys.readouterr().out
    assert info(tmp_path) == [] and (tmp_path / "notes.txt").is_file()


def test_prune_drops_other_versions_then_the_least_recently_used_kernels(tmp_path):
    here = tmp_path / f"v{__version__}"
    old = _kernel(here, "cpu_old", 1000, 3600)
    new = _kernel(here, "cpu_new", 1000, 0)
    _kernel(tmp_path / "v0.0.1", "cpu_x", 1000, 0)
    assert prune(tmp_path, keep=here, limit=10 ** 6) == 0          # under the bound: nothing
    assert prune(tmp_path, keep=here, limit=6000) == 3000          # the other version only
    assert not (tmp_path / "v0.0.1").exists() and all(f.exists() for f in old + new)
    assert prune(tmp_path, keep=here, limit=3500) == 3000          # then the oldest kernel
    assert not any(f.exists() for f in old) and all(f.exists() for f in new)


def test_a_bad_size_bound_names_the_variable(monkeypatch):
    monkeypatch.setenv("GPUSCHED_CACHE_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="GPUSCHED_CACHE_MAX_BYTES = 'lots'"):
        max_bytes()
    monkeypatch.setenv("GPUSCHED_CACHE_MAX_BYTES", "5000")
    assert max_bytes() == 5000


def test_the_cache_folder_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("GPUSCHED_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "gpusched"
    monkeypatch.setattr("sys.platform", "darwin")
    assert cache_root() == Path.home() / "Library" / "Caches" / "gpusched"
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_the_bound_is_kept_when_a_process_first_uses_the_cache(tmp_path, monkeypatch):
    """A fresh process: other versions' kernels beyond the bound are gone before it
    compiles anything."""
    import subprocess
    import sys
    _kernel(tmp_path / "v0.0.1", "cpu_x", 4000, 0)
    env = dict(os.environ, GPUSCHED_CACHE_DIR=str(tmp_path), GPUSCHED_CACHE_MAX_BYTES="100")
    code = ("import gpusched.kernel_cache as k; print(k.kernel_folder('numba'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == str(tmp_path / f"v{__version__}" / "numba")
    assert not (tmp_path / "v0.0.1").exists()
