"""Handing results to NumPy, torch and JAX, through DLPack without copies where devices match."""

from __future__ import annotations

import numpy as np

__all__ = ["to_numpy", "to_torch", "to_jax", "aligned_empty"]

ALIGN = 64  # bytes: JAX takes CPU buffers through DLPack without copying only when aligned


def aligned_empty(shape, dtype) -> np.ndarray:
    """``np.empty`` whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n + ALIGN, dtype=np.uint8)
    offset = (-raw.ctypes.data) % ALIGN
    return raw[offset:offset + n].view(dtype).reshape(shape)


def _numba_device(x) -> bool:
    return hasattr(x, "copy_to_host") and hasattr(x, "__cuda_array_interface__")


def to_numpy(x) -> np.ndarray:
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


def to_torch(x):
    """A torch tensor sharing ``x``'s memory (CPU NumPy arrays and CUDA arrays alike)."""
    import torch
    if _numba_device(x):
        return torch.as_tensor(x, device="cuda")          # __cuda_array_interface__
    return torch.from_dlpack(x)


def to_jax(x):
    """A JAX array from ``x`` through DLPack (zero-copy when JAX can take the buffer)."""
    import jax.numpy as jnp
    if _numba_device(x):
        import cupy
        x = cupy.asarray(x)
    return jnp.from_dlpack(x)
