"""Handing results to NumPy, torch and JAX, through DLPack without copies where devices match."""

from __future__ import annotations

import mmap
import threading
import weakref

from typing import TYPE_CHECKING, Any

from numpy.typing import DTypeLike

import numpy as np

from .settings import env_bytes

if TYPE_CHECKING:          # optional extras
    import jax
    import torch

__all__ = ["to_numpy", "to_torch", "to_jax", "aligned_empty", "release_pool"]

ALIGN = 64  # bytes: JAX takes CPU buffers through DLPack without copying only when aligned


POOL_FROM = 8 << 20        # tables from this size come from the pool of host buffers
# idle bytes the pool keeps at most: small by default, as sweep tools run many worker
# processes (GPUSCHED_POOL_BYTES sets it; 0 turns the pool off)
POOL_KEEP_BYTES = env_bytes("GPUSCHED_POOL_BYTES", 256 << 20)
_pool_lock = threading.Lock()
_idle: list = []           # mmaps no array refers to any more, oldest first


def _take(n: int) -> mmap.mmap:
    with _pool_lock:
        for k, buf in enumerate(_idle):
            if n <= len(buf) <= 2 * n:
                return _idle.pop(k)
    return mmap.mmap(-1, n)


def _give_back(buf: mmap.mmap) -> None:
    with _pool_lock:
        _idle.append(buf)
        while sum(len(b) for b in _idle) > POOL_KEEP_BYTES:
            _close(_idle.pop(0))


def _close(buf: mmap.mmap) -> None:
    try:
        buf.close()
    except BufferError:     # still exported (an array outlived its finalizer): the OS frees it
        pass


def release_pool() -> int:
    """Free the idle host buffers the table pool keeps; returns the bytes released."""
    with _pool_lock:
        freed = sum(len(b) for b in _idle)
        while _idle:
            _close(_idle.pop())
    return freed


def aligned_empty(shape: int | tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """``np.empty`` whose data starts on a 64-byte boundary.

    Large tables (from 8 MiB) come from a pool of page-aligned host buffers, like CuPy's
    memory pool: a buffer returns to the pool only when no array (or view, or DLPack
    consumer) refers to it any more, and the next table of a similar size reuses it. A fresh
    buffer costs a page fault every 4 KiB on first write, which on a small machine can take
    longer than computing the table. At most ``GPUSCHED_POOL_BYTES`` (default 256 MiB) of
    idle buffers is kept (:func:`release_pool` frees them; 0 keeps none).
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    if n >= POOL_FROM:
        buf = _take(n)
        root = np.frombuffer(buf, dtype=np.uint8, count=n)    # page-aligned
        weakref.finalize(root, _give_back, buf).atexit = False  # after the last view goes
        # (not at exit: arrays still alive then hold the buffer, and the OS frees it)
        return root.view(dtype).reshape(shape)
    raw = np.empty(n + ALIGN, dtype=np.uint8)
    offset = (-raw.ctypes.data) % ALIGN
    return raw[offset:offset + n].view(dtype).reshape(shape)


def _numba_device(x) -> bool:
    return hasattr(x, "copy_to_host") and hasattr(x, "__cuda_array_interface__")


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array of ``x`` (a copy to the host for device arrays)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if hasattr(x, "copy_to_host"):
        return x.copy_to_host()
    if hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    return np.asarray(x)


def to_torch(x: Any) -> torch.Tensor:
    """A torch tensor sharing ``x``'s memory (CPU NumPy arrays and CUDA arrays alike)."""
    import torch
    if _numba_device(x):
        return torch.as_tensor(x, device="cuda")          # __cuda_array_interface__
    return torch.from_dlpack(x)


def to_jax(x: Any) -> jax.Array:
    """A JAX array from ``x`` through DLPack (zero-copy when JAX can take the buffer)."""
    import jax.numpy as jnp
    if _numba_device(x):
        import cupy
        x = cupy.asarray(x)
    return jnp.from_dlpack(x)
