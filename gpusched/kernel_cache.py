"""Where generated kernel sources live, and how they are loaded (imported, never exec'd).

Generated Numba modules are written under ``$GPUSCHED_CACHE_DIR`` (default
``~/.cache/gpusched``), one file per graph signature and gpusched version, so Numba's own
on-disk cache can skip recompilation in later processes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

_modules: dict = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    root = os.environ.get("GPUSCHED_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "gpusched")
    from . import __version__
    path = Path(root) / f"v{__version__}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_module(name: str, source, subdir: str):
    """Import generated ``source`` (a string, or a function making it: called only when this
    process has not loaded ``name`` yet) as module ``name`` (written once, atomically)."""
    with _lock:
        mod = _modules.get((subdir, name))
        if mod is not None:
            return mod
        if callable(source):
            source = source()
        folder = cache_dir() / subdir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.py"
        if not path.exists() or path.read_text() != source:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        modname = f"gpusched_generated_{subdir}_{name}"
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod      # Numba's cache re-imports kernels' modules by name
        spec.loader.exec_module(mod)
        _modules[(subdir, name)] = mod
        return mod


def kernels_dir() -> Path:
    """The folder of hand-written CUDA C helpers (in the wheel: gpusched/kernels)."""
    here = Path(__file__).resolve().parent
    for cand in (here / "kernels", here.parent / "kernels"):
        if (cand / "gpusched.cuh").is_file():
            return cand
    raise FileNotFoundError("gpusched's kernels/gpusched.cuh is missing from this installation")
