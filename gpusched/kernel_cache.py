"""Where generated kernel sources live, and how they are loaded (imported, never exec'd).

Generated Numba modules are written under ``$GPUSCHED_CACHE_DIR`` (default
``$XDG_CACHE_HOME/gpusched`` or ``~/.cache/gpusched``), one file per kernel key and gpusched
version, so Numba's own on-disk cache (pickles in ``__pycache__`` beside them) can skip
recompilation in later processes.

Loading a pickle runs code, so the folder is trusted only as pip and ccache trust theirs: it
must belong to the current user and be writable by nobody else (it is created ``0700``). A
folder that fails this is not used: kernels then compile into a private temporary folder of
this process, with a one-time warning. A folder that cannot be used at all (a file, not
writable, a full disk) raises :class:`KernelCacheError`; ``backend="auto"`` then falls back
to NumPy. A corrupt or truncated Numba cache file is deleted and the kernel recompiled.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
import threading
import warnings
from pathlib import Path

_modules: dict = {}
_lock = threading.RLock()
_private: Path | None = None        # this process's fallback folder
_warned: set = set()
_checked: dict = {}                 # cache folder -> the folder kernels go to (checked)

MIN_FREE_BYTES = 16 * 2 ** 20       # below this, the cache folder counts as full


class KernelCacheError(RuntimeError):
    """The kernel cache folder cannot be used (not a folder, not writable, full)."""


def cache_root() -> Path:
    """The folder of every gpusched version's kernels: ``$GPUSCHED_CACHE_DIR``, else the
    platform's user cache folder (platformdirs' rules): ``$XDG_CACHE_HOME/gpusched`` or
    ``~/.cache/gpusched`` on Linux, ``~/Library/Caches/gpusched`` on macOS,
    ``%LOCALAPPDATA%\\gpusched\\Cache`` on Windows."""
    explicit = os.environ.get("GPUSCHED_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gpusched"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(Path.home(), "AppData", "Local")
        return Path(base) / "gpusched" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")) \
        / "gpusched"


def _root() -> Path:
    """This version's folder under :func:`cache_root`, rebuilt only when the environment
    variables it is made of change (every ``auto`` call asks)."""
    key = tuple(os.environ.get(k) for k in ("GPUSCHED_CACHE_DIR", "XDG_CACHE_HOME", "HOME",
                                             "LOCALAPPDATA"))
    got = _roots.get(key)
    if got is None:
        from . import __version__
        got = _roots[key] = cache_root() / f"v{__version__}"
    return got


_roots: dict = {}
_targets: dict = {}


def _unsafe(path: Path) -> str:
    """Why ``path`` (an existing folder) cannot be trusted, or ''."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(path)
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return ""


def _make_folder(path: Path) -> str:
    """Create ``path`` (0700) where missing; '' when it is safe, else why it is not."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except FileExistsError:
        raise KernelCacheError(f"the kernel cache folder {path} is not a folder; set "
                               f"GPUSCHED_CACHE_DIR to a folder of yours") from None
    except OSError as err:
        raise KernelCacheError(f"the kernel cache folder {path} cannot be created "
                               f"({err.strerror}); set GPUSCHED_CACHE_DIR to a writable "
                               f"folder") from None
    if not path.is_dir():
        raise KernelCacheError(f"the kernel cache folder {path} is not a folder; set "
                               f"GPUSCHED_CACHE_DIR to a folder of yours")
    return _unsafe(path)


def _private_folder() -> Path:
    global _private
    if _private is None or not _private.is_dir():
        try:
            _private = Path(tempfile.mkdtemp(prefix="gpusched-kernels-"))
        except OSError as err:
            raise KernelCacheError(f"no folder to compile kernels in: the temporary folder "
                                   f"is not writable ({err.strerror})") from None
        atexit.register(shutil.rmtree, _private, True)
    return _private


def kernel_folder(subdir: str) -> Path:
    """The folder generated modules of ``subdir`` are written to: the cache when it is safe,
    else this process's private folder (with a one-time warning). Ownership and permissions
    are checked once per folder and process (they are the user's own to change); that it
    still exists and has room, on every call."""
    with _lock:
        path = _root()
        target = _targets.get((path, subdir))
        if target is None:
            target = _targets[(path, subdir)] = path / subdir
        known = _checked.get(target)
        if known is None or not known.is_dir():
            known = _checked[target] = _choose_folder(path, subdir)
        if known == target:
            free = shutil.disk_usage(target).free
            if free < MIN_FREE_BYTES:
                raise KernelCacheError(f"the disk of the kernel cache folder {path} is full "
                                       f"({free} bytes free); free space or set "
                                       f"GPUSCHED_CACHE_DIR elsewhere")
        return known


def _choose_folder(path: Path, subdir: str) -> Path:
    why = ""
    for folder in (path.parent, path, path / subdir, path / subdir / "__pycache__"):
        why = _make_folder(folder)
        if why:
            break
    if not why:
        if not os.access(path / subdir, os.W_OK | os.X_OK):
            raise KernelCacheError(f"the kernel cache folder {path / subdir} is not "
                                   f"writable; set GPUSCHED_CACHE_DIR to a writable folder")
        from .cache_admin import prune
        with contextlib.suppress(OSError):     # a bound, not a requirement
            prune(path.parent, keep=path)
        return path / subdir
    if why not in _warned:
        _warned.add(why)
        warnings.warn(f"gpusched does not use the kernel cache folder: {why}; kernels compile "
                      f"in a private temporary folder instead (make the folder yours and not "
                      f"group/other-writable, or set GPUSCHED_CACHE_DIR)", RuntimeWarning,
                      stacklevel=4)
    folder = _private_folder() / subdir
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def load_module(name: str, source, subdir: str):
    """Import generated ``source`` (a string, or a function making it: called only when this
    process has not loaded ``name`` yet) as module ``name`` (written once, atomically)."""
    with _lock:
        mod = _modules.get((subdir, name))
        if mod is not None:
            return mod
        if callable(source):
            source = source()
        folder = kernel_folder(subdir)
        path = folder / f"{name}.py"
        try:
            if not path.exists() or path.read_text() != source:
                fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
                try:
                    with os.fdopen(fd, "w") as f:
                        f.write(source)
                    os.replace(tmp, path)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(tmp)
        except OSError as err:
            raise KernelCacheError(f"cannot write a kernel to {folder} ({err.strerror}); "
                                   f"free space or set GPUSCHED_CACHE_DIR elsewhere") from None
        modname = f"gpusched_generated_{subdir}_{name}"
        spec = importlib.util.spec_from_file_location(modname, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod      # Numba's cache re-imports kernels' modules by name
        spec.loader.exec_module(mod)
        _modules[(subdir, name)] = mod
        return mod


def from_numba_cache(err: BaseException) -> bool:
    """Whether ``err`` was raised while Numba loaded a cached kernel (a corrupt file)."""
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core",
                                                                "caching.py")):
            return True
        tb = tb.tb_next
    return False


def kernel_state(name: str, subdir: str, function: str) -> str:
    """Where kernel ``function`` of generated module ``name`` is: ``"process"`` (compiled in
    this process), ``"disk"`` (in Numba's cache: a load, not a compile) or ``"none"``."""
    mod = _modules.get((subdir, name))
    if mod is not None and getattr(mod, function).overloads:     # (cheaper than .signatures)
        return "process"
    try:
        folder = kernel_folder(subdir)
    except KernelCacheError:
        return "none"
    index = folder / "__pycache__"
    return "disk" if any(index.glob(f"{name}.{function}-*.nbi")) else "none"


def discard(mod) -> None:
    """Forget generated module ``mod`` and delete its Numba cache files (corrupt ones)."""
    with _lock:
        for key, m in list(_modules.items()):
            if m is mod:
                del _modules[key]
        sys.modules.pop(mod.__name__, None)
        path = Path(mod.__file__)
        stem = path.stem
        for f in (path.parent / "__pycache__").glob(f"{stem}.*"):
            with contextlib.suppress(OSError):
                f.unlink()
    warnings.warn(f"gpusched discarded a corrupt Numba cache file of {stem} and recompiled it",
                  RuntimeWarning, stacklevel=3)


def run_kernel(load, launch):
    """``launch(load())``; when Numba fails reading the kernel's cache files, delete them and
    run once more with a fresh compile."""
    mod = load()
    try:
        return launch(mod)
    except Exception as err:
        if not from_numba_cache(err):
            raise
        discard(mod)
        return launch(load())


def kernels_dir() -> Path:
    """The folder of hand-written CUDA C helpers (in the wheel: gpusched/kernels)."""
    here = Path(__file__).resolve().parent
    for cand in (here / "kernels", here.parent / "kernels"):
        if (cand / "gpusched.cuh").is_file():
            return cand
    raise FileNotFoundError("gpusched's kernels/gpusched.cuh is missing from this installation")
