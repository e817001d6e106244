"""The kernel cache folder as something a user manages: what it holds (``gpusched cache
info``), emptying it (``gpusched cache clear``) and its size bound.

The bound (``$GPUSCHED_CACHE_MAX_BYTES``, default 1 GiB) is kept when a process first uses the
cache: folders of other gpusched versions go first (their kernels are never loaded again),
then the current version's least recently used kernels (a module and its Numba cache files
together; a kernel deleted under a running process is recompiled there, see
kernel_cache.run_kernel).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .settings import env_bytes

DEFAULT_MAX_BYTES = 2 ** 30


def max_bytes() -> int:
    return env_bytes("GPUSCHED_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES)


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


@dataclass
class VersionFolder:
    path: Path
    files: int
    bytes: int


def info(root: Path) -> list[VersionFolder]:
    """One entry per gpusched version folder (``v<version>``) under ``root``."""
    if not root.is_dir():
        return []
    return [VersionFolder(p, *_size(p)) for p in sorted(root.iterdir())
            if p.is_dir() and p.name.startswith("v")]


def clear(root: Path) -> tuple[int, int]:
    """Delete every version folder under ``root`` (files, bytes removed). Only gpusched's
    ``v<version>`` folders go: ``root`` may be a folder the user shares with other things."""
    files = size = 0
    for v in info(root):
        files, size = files + v.files, size + v.bytes
        shutil.rmtree(v.path, ignore_errors=True)
    return files, size


def _kernels(folder: Path) -> list[tuple[float, list[Path]]]:
    """(last use, files) per generated module: the module and its ``__pycache__`` entries."""
    out = []
    for sub in (p for p in folder.iterdir() if p.is_dir()):
        cache = sub / "__pycache__"
        for mod in sub.glob("*.py"):
            files = [mod, *cache.glob(f"{mod.stem}.*")] if cache.is_dir() else [mod]
            out.append((max(f.stat().st_mtime for f in files), files))
    return sorted(out, key=lambda x: x[0])


def prune(root: Path, keep: Path, limit: int | None = None) -> int:
    """Bring ``root`` under ``limit`` bytes (default :func:`max_bytes`): other versions'
    folders first, then ``keep``'s least recently used kernels. Returns bytes removed."""
    limit = max_bytes() if limit is None else limit
    folders = info(root)
    total = sum(v.bytes for v in folders)
    removed = 0
    for v in folders:
        if total - removed <= limit:
            return removed
        if v.path != keep:
            shutil.rmtree(v.path, ignore_errors=True)
            removed += v.bytes
    if keep.is_dir():
        for _, files in _kernels(keep):
            if total - removed <= limit:
                break
            for f in files:
                try:
                    n = f.stat().st_size
                    f.unlink()
                    removed += n
                except OSError:
                    pass
    return removed
