"""Backend registry: one small class per backend, imported lazily (einops-style).

A backend turns a :class:`~gpusched.plan.Plan` and bound parameters into a table or a
per-config reduction. ``auto`` picks the best usable one in :data:`PREFERENCE` order; the
``GPUSCHED_BACKEND`` environment variable overrides it. Importing this package imports no
optional dependency.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from ..binding import Bound
    from ..laws.model import Law
    from ..plan import Plan

__all__ = ["Backend", "get_backend", "resolve_backend", "available_backends", "PREFERENCE"]

# name -> "module:Class", best first
_REGISTRY = {
    "cupy": "gpusched.backends.cupy_backend:CupyBackend",
    "numba-cuda": "gpusched.backends.numba_cuda_backend:NumbaCudaBackend",
    "numba": "gpusched.backends.numba_backend:NumbaBackend",
    "numpy": "gpusched.backends.numpy_backend:NumpyBackend",
}
PREFERENCE = tuple(_REGISTRY)           # the order auto tries them in

_instances: dict = {}
_lock = threading.Lock()


class Backend:
    """Interface every backend implements."""

    name = "?"
    device = "cpu"

    def availability(self) -> tuple[bool, str]:
        """(usable, reason when not)."""
        return True, ""

    def free_memory(self) -> int | None:
        """Free bytes where this backend's results live (None: host memory)."""
        return None

    writes_host_out = False     # table(..., out=host array) fills it in place
    # the arithmetic modes its kernels have; table/reduce take ``precision=`` when there
    # is more than "exact" (float64 arithmetic, rounded once)
    precisions: tuple = ("exact",)

    def table(self, plan: Plan, bound: Bound, steps: np.ndarray, dtype: np.dtype, *,
              work_limit: int) -> Any:
        """The (n_configs, n_steps) table in ``dtype``, as this backend's array type."""
        raise NotImplementedError

    def reduce(self, plan: Plan, bound: Bound, steps: np.ndarray, op: str, dtype: np.dtype, *,
               work_limit: int, threshold: float | None = None) -> Any:
        """Per-config reduction over steps without building the table (see reductions.py)."""
        raise NotImplementedError

    # the kernel-cache folder its compiled code lives in (kernel_cache.kernel_folder), None
    # for a backend that writes no compiled code to disk
    kernel_cache: str | None = None

    def predict_loss(self, plan: Plan, bound: Bound, steps: np.ndarray, law: Law,
                     ends: np.ndarray, order: np.ndarray, dtype: np.dtype, const: np.ndarray,
                     *, work_limit: int, table_bytes: int,
                     bar: Callable[[int], Any] | None = None) -> np.ndarray:
        """Loss-law predictions (``gs.predict_loss``) of every config at the steps ``ends``
        (``order`` sorts them), never holding the table: here, blocks of this backend's
        table folded by the law; compiled backends fuse the law into a kernel (with
        factorized tables up to ``table_bytes``)."""
        from ..laws.predict import fold_blocks
        return fold_blocks(self, plan, bound, steps, law, ends, dtype, const, work_limit, bar)


@functools.lru_cache(maxsize=1)
def cuda_driver_present() -> bool:
    """A cheap look for an NVIDIA driver, before importing CuPy or Numba's CUDA target: the
    device node, else loading ``libcuda.so.1`` (``ctypes.util.find_library`` would spawn
    ldconfig/gcc, 30-40 ms). Once per process."""
    if os.path.exists("/dev/nvidiactl"):
        return True
    import ctypes
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def get_backend(name: str) -> Backend:
    if name not in _REGISTRY:
        known = ", ".join(["auto", *_REGISTRY])
        raise ValueError(f"unknown backend {name!r}; choose one of {known}")
    with _lock:
        inst = _instances.get(name)
        if inst is None:
            module, cls = _REGISTRY[name].split(":")
            inst = getattr(importlib.import_module(module), cls)()
            _instances[name] = inst
    return inst


_usable: dict = {}


def _availability(name: str) -> tuple:
    """``get_backend(name).availability()``, asked once per process (finding packages and
    probing a device cost milliseconds, and `auto` asks on every call); the simulator
    switch is part of the key."""
    key = (name, os.getpid(), os.environ.get("NUMBA_ENABLE_CUDASIM", ""))
    got = _usable.get(key)
    if got is None:
        got = _usable[key] = get_backend(name).availability()
    return got


def forget_availability() -> None:
    """Ask every backend again on next use (after installing a package in this process)."""
    _usable.clear()


def available_backends() -> dict:
    """name -> (usable, reason) for every registered backend (asked afresh)."""
    forget_availability()
    return {name: _availability(name) for name in _REGISTRY}


def resolve_backend(name: str = "auto") -> Backend:
    """The backend to use: ``name``, or for ``auto`` $GPUSCHED_BACKEND or the best usable."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, got {name!r}")
    if name == "auto":
        env = os.environ.get("GPUSCHED_BACKEND", "").strip()
        if env and env != "auto":
            return resolve_backend(env)
        for cand in PREFERENCE:
            if cand in _REGISTRY and _availability(cand)[0]:
                return get_backend(cand)
        return get_backend("numpy")
    backend = get_backend(name)
    ok, why = _availability(name)
    if not ok:
        raise RuntimeError(f"backend {name!r} is not usable here: {why}")
    return backend
